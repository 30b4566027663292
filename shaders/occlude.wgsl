// occlude: `rows` occluded copies of one model-input tensor. Copy b is the input with plan point
// (first + b)'s input rectangle [x0, x1) × [y0, y1) set to the fill value in every channel.
// One invocation per output value; the dispatch may be folded into 2-D (see `index`).
// CPU twin: src/engine/cpu/occlude.ts.

struct Params {
  rows: u32,      // copies to write
  first: u32,     // plan index of copy 0
  channels: u32,
  height: u32,
  width: u32,
  nhwc: u32,      // 1: [rows, H, W, C]; 0: [rows, C, H, W]
  per: u32,       // values per copy = C·H·W
  stride_x: u32,  // invocations per row of the folded dispatch
}

@group(0) @binding(0) var<uniform> params: Params;
// The unoccluded tensor (one image).
@group(0) @binding(1) var<storage, read> base: array<f32>;
// Input rectangle per plan point: x0, y0, x1, y1.
@group(0) @binding(2) var<storage, read> rects: array<vec4<i32>>;
// Fill value per channel, already in the model's normalised units.
@group(0) @binding(3) var<storage, read> fill: array<f32>;
// Output batch: rows × per values.
@group(0) @binding(4) var<storage, read_write> batch: array<f32>;

override WORKGROUP_SIZE: u32 = 64u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // Linear invocation index: the dispatch may be folded into 2-D (dispatchSize in programs.ts).
  let index = gid.x + gid.y * params.stride_x;
  if (index >= params.rows * params.per) { return; }
  let b = index / params.per;
  let e = index % params.per;
  var c: u32;
  var y: u32;
  var x: u32;
  if (params.nhwc == 1u) {
    c = e % params.channels;
    let p = e / params.channels;
    x = p % params.width;
    y = p / params.width;
  } else {
    x = e % params.width;
    y = (e / params.width) % params.height;
    c = e / (params.width * params.height);
  }
  let r = rects[params.first + b];
  let inside = i32(x) >= r.x && i32(x) < r.z && i32(y) >= r.y && i32(y) < r.w;
  batch[index] = select(base[e], fill[c], inside);
}
