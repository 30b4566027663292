// preprocess: photo → model input tensor. Each output pixel centre (x + 0.5, y + 0.5) is mapped by
// the affine `to_source` into photo coordinates and sampled bilinearly (off the photo: 0), then
// converted to the model's colour (RGB, or gray = 0.2989 R + 0.587 G + 0.114 B), normalised
// (p · scale + offset per channel) and written in NCHW or NHWC order. The photo arrives as a
// planar float RGB sub-rectangle [x0, x0 + w) × [y0, y0 + h) of the whole photo (only the part the
// crop reads is uploaded). One invocation per output pixel; the dispatch may be folded into 2-D
// (see `p`). CPU twin: warpAffine (src/image/affine.ts) + toModelInput.

struct Params {
  a: f32, b: f32, c: f32,   // source x = a·x + b·y + c
  d: f32, e: f32, f: f32,   // source y = d·x + e·y + f
  photo_w: f32, photo_h: f32,
  sub_x: u32, sub_y: u32, sub_w: u32, sub_h: u32,
  out_w: u32, out_h: u32, channels: u32, nhwc: u32,
  scale: vec4<f32>,
  offset: vec4<f32>,
  stride_x: u32,    // invocations per row of the folded dispatch
  _pad0: u32,       // explicit padding to 112 bytes, the struct's size (a multiple of vec4's 16)
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Planar RGB of the sub-rectangle: 3 × sub_h × sub_w, values 0..255.
@group(0) @binding(1) var<storage, read> photo: array<f32>;
// Output tensor: channels × out_h × out_w.
@group(0) @binding(2) var<storage, read_write> tensor: array<f32>;

fn texel(ch: u32, x: i32, y: i32) -> f32 {
  let sx = u32(x) - params.sub_x;
  let sy = u32(y) - params.sub_y;
  return photo[(ch * params.sub_h + sy) * params.sub_w + sx];
}

fn sample(ch: u32, u: f32, v: f32) -> f32 {
  let cu = clamp(u, 0.0, params.photo_w - 1.0);
  let cv = clamp(v, 0.0, params.photo_h - 1.0);
  let x0 = i32(floor(cu));
  let y0 = i32(floor(cv));
  let x1 = min(x0 + 1, i32(params.photo_w) - 1);
  let y1 = min(y0 + 1, i32(params.photo_h) - 1);
  let fx = cu - f32(x0);
  let fy = cv - f32(y0);
  let top = texel(ch, x0, y0) * (1.0 - fx) + texel(ch, x1, y0) * fx;
  let bottom = texel(ch, x0, y1) * (1.0 - fx) + texel(ch, x1, y1) * fx;
  return top * (1.0 - fy) + bottom * fy;
}

override WORKGROUP_SIZE: u32 = 64u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // Linear invocation index: the dispatch may be folded into 2-D (dispatchSize in programs.ts).
  let p = gid.x + gid.y * params.stride_x;
  if (p >= params.out_w * params.out_h) { return; }
  let x = f32(p % params.out_w) + 0.5;
  let y = f32(p / params.out_w) + 0.5;
  let u = params.a * x + params.b * y + params.c - 0.5;
  let v = params.d * x + params.e * y + params.f - 0.5;
  var rgb = vec3<f32>(0.0);
  if (u >= -0.5 && u < params.photo_w - 0.5 && v >= -0.5 && v < params.photo_h - 0.5) {
    rgb = vec3<f32>(sample(0u, u, v), sample(1u, u, v), sample(2u, u, v));
  }
  let plane = params.out_w * params.out_h;
  for (var ch = 0u; ch < params.channels; ch++) {
    var value: f32;
    if (params.channels == 1u) { value = 0.2989 * rgb.x + 0.587 * rgb.y + 0.114 * rgb.z; } else { value = rgb[ch]; }
    value = value * params.scale[ch] + params.offset[ch];
    if (params.nhwc == 1u) { tensor[p * params.channels + ch] = value; } else { tensor[ch * plane + p] = value; }
  }
}
