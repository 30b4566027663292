// reproject: a canonical map pulled back onto the input image I (Fig. 6 d). Each plan point's
// value is the map sampled bilinearly at its canonical centre M_F[n]; each input pixel averages the
// values of the points whose input patch covers it (count normalisation), summed in plan order as
// the CPU does; pixels no patch covers are 0. One invocation per input pixel, which scans the
// plan's rectangles: O(W·H·N), fine for a per-image figure, never on the occlusion hot path.
// The dispatch may be folded into 2-D (see `p`).
// CPU twin: reprojectToInput in src/saliency/cis.ts.

struct Params {
  width: u32,       // W_I
  height: u32,      // H_I
  size: u32,        // H_F
  count: u32,       // plan points
  stride_x: u32,    // invocations per row of the folded dispatch
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// The canonical map, size × size.
@group(0) @binding(1) var<storage, read> map: array<f32>;
// Canonical centre per plan point (x, y).
@group(0) @binding(2) var<storage, read> centres: array<vec2<f32>>;
// Input rectangle per plan point: x0, y0, x1, y1.
@group(0) @binding(3) var<storage, read> rects: array<vec4<i32>>;
// Output: W_I × H_I values.
@group(0) @binding(4) var<storage, read_write> values: array<f32>;

fn at(x: i32, y: i32) -> f32 {
  let s = i32(params.size) - 1;
  return map[u32(clamp(y, 0, s)) * params.size + u32(clamp(x, 0, s))];
}

fn sample(c: vec2<f32>) -> f32 {
  let u = c.x - 0.5;
  let v = c.y - 0.5;
  let x0 = i32(floor(u));
  let y0 = i32(floor(v));
  let fx = u - f32(x0);
  let fy = v - f32(y0);
  return (at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx) * (1.0 - fy) + (at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

override WORKGROUP_SIZE: u32 = 64u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // Linear invocation index: the dispatch may be folded into 2-D (dispatchSize in programs.ts).
  let p = gid.x + gid.y * params.stride_x;
  if (p >= params.width * params.height) { return; }
  let x = i32(p % params.width);
  let y = i32(p / params.width);
  var sum = 0.0;
  var n = 0u;
  for (var k = 0u; k < params.count; k++) {
    let r = rects[k];
    if (x >= r.x && x < r.z && y >= r.y && y < r.w) {
      sum += sample(centres[k]);
      n++;
    }
  }
  values[p] = select(0.0, sum / f32(n), n > 0u);
}
