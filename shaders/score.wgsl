// score: φ for each row of a model output, and either φ(I) (mode 0: baseline) or the signed drops
// s_n = φ(I) − φ(I*_n) of a batch (mode 1: drops[first + row]). One invocation per row; the
// dispatch may be folded into 2-D (see `row`).
// Kinds (ScoreSpec in src/saliency/types.ts): 0 index, 1 one-minus, 2 log, 3 softmax,
// 4 sigmoid-logit, 5 cosine-max over references, 6 pair: c·(cos(out, out2) − τ).
// CPU twin: scoreRow / evaluatePairScores in src/saliency/score.ts.

struct Params {
  rows: u32,
  width: u32,     // values per output row
  kind: u32,
  index: u32,     // class index (kinds 0–4)
  sign: f32,      // sigmoid-logit: +1 positive class, −1 negative
  refs: u32,      // number of reference embeddings (kind 5)
  first: u32,     // plan index of row 0 (mode 1)
  mode: u32,      // 0: write baseline, 1: write drops
  c: f32,         // pair: +1 genuine, −1 impostor
  tau: f32,       // pair: threshold
  stride_x: u32,  // invocations per row of the folded dispatch
  _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// The model's output for this batch (rows × width).
@group(0) @binding(1) var<storage, read> output: array<f32>;
// Pair kind: the other image's output (rows × width); otherwise bound to `output` again.
@group(0) @binding(2) var<storage, read> output2: array<f32>;
// Reference embeddings (refs × width); a dummy when unused.
@group(0) @binding(3) var<storage, read> references: array<f32>;
// φ(I): written in mode 0, read in mode 1.
@group(0) @binding(4) var<storage, read_write> baseline: array<f32>;
// Signed drops per plan point.
@group(0) @binding(5) var<storage, read_write> drops: array<f32>;

fn cosine(a0: u32, b: u32, second: bool) -> f32 {
  var dot = 0.0;
  var na = 0.0;
  var nb = 0.0;
  for (var k = 0u; k < params.width; k++) {
    let x = output[a0 + k];
    var y: f32;
    if (second) { y = output2[b + k]; } else { y = references[b + k]; }
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  let n = sqrt(na * nb);
  return select(dot, dot / n, n > 0.0);
}

fn phi(row: u32) -> f32 {
  let base = row * params.width;
  let v = output[base + params.index];
  switch (params.kind) {
    case 0u: { return v; }
    case 1u: { return 1.0 - v; }
    case 2u: { return log(v); }
    case 3u: {
      var m = output[base];
      for (var k = 1u; k < params.width; k++) { m = max(m, output[base + k]); }
      var z = 0.0;
      for (var k = 0u; k < params.width; k++) { z += exp(output[base + k] - m); }
      return exp(v - m) / z;
    }
    case 4u: {
      let p = clamp(v, 1e-7, 1.0 - 1e-7);
      return params.sign * log(p / (1.0 - p));
    }
    case 5u: {
      var best = -3.0e38;
      for (var r = 0u; r < params.refs; r++) { best = max(best, cosine(base, r * params.width, false)); }
      return best;
    }
    default: {
      return params.c * (cosine(base, base, true) - params.tau);
    }
  }
}

override WORKGROUP_SIZE: u32 = 64u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // Linear invocation index: the dispatch may be folded into 2-D (dispatchSize in programs.ts).
  let row = gid.x + gid.y * params.stride_x;
  if (row >= params.rows) { return; }
  let value = phi(row);
  if (params.mode == 0u) {
    baseline[0] = value;
  } else {
    drops[params.first + row] = baseline[0] - value;
  }
}
