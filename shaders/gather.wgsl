// gather: the density-normalised CIS map, P / N, without atomics. For each canonical pixel the
// plan points whose canonical square covers it are listed (CSR: offsets, then point indices in
// plan order), so each invocation sums its drops in the same order as the CPU reference and the
// result does not depend on scheduling. N is the list length; pixels no square covers are 0.
// One invocation per canonical pixel; the dispatch may be folded into 2-D (see `p`).
// CPU twin: accumulateCis in src/saliency/cis.ts.

struct Params {
  pixels: u32,     // size × size
  stride_x: u32,   // invocations per row of the folded dispatch
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// offsets[p] .. offsets[p + 1] index `points` for pixel p (pixels + 1 entries).
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
// Plan point indices, ascending within each pixel's range.
@group(0) @binding(2) var<storage, read> points: array<u32>;
// Signed drop per plan point.
@group(0) @binding(3) var<storage, read> drops: array<f32>;
// Output map, size × size.
@group(0) @binding(4) var<storage, read_write> map: array<f32>;

override WORKGROUP_SIZE: u32 = 64u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // Linear invocation index: the dispatch may be folded into 2-D (dispatchSize in programs.ts).
  let p = gid.x + gid.y * params.stride_x;
  if (p >= params.pixels) { return; }
  let start = offsets[p];
  let end = offsets[p + 1u];
  var sum = 0.0;
  for (var j = start; j < end; j++) { sum += drops[points[j]]; }
  map[p] = select(0.0, sum / f32(end - start), end > start);
}
