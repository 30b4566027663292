/**
 * What every saliency method compared in the evaluation provides: a heatmap over the model's input
 * image I (H_I × W_I, row-major) for one image and class. CAM methods share `camFromWeights`
 * (the template of pytorch-grad-cam's BaseCAM: a method only supplies the channel weights).
 */
import type { RgbImage } from '../../image/index.js';
import type { OcclusionPlan, ScoreSpec } from '../../saliency/types.js';
import type { HeatmapLike } from '../metrics.js';

export interface MethodInput {
  file: string;
  /** I as pixels (0..255) and as the model's tensor. */
  image: RgbImage;
  tensor: Float32Array;
  classIndex: number;
  /** φ of the explained class as a probability (what the metrics measure; Score-CAM's score). */
  score: ScoreSpec;
  /** The explained class's logit (Score-CAM's channel score; for softmax heads without a logits output, the log-probability). */
  logitScore: ScoreSpec;
  /** φ as the explanation is configured (--score: the logit by default), for occlusion and gradients. */
  explainScore: ScoreSpec;
  /** The image's occlusion plan (its correspondence), for methods that reproject canonical maps. */
  plan: OcclusionPlan;
}

export interface SaliencyMethod {
  readonly name: string;
  /**
   * The map over I; a map with a support (e.g. reprojected maps, defined only where a patch
   * reaches) is normalised over its support and is 0 elsewhere (Eq. 10).
   */
  heatmap(input: MethodInput): Promise<HeatmapLike>;
  dispose?(): Promise<void>;
}

/** Bilinear resize of one h × w plane to H × W (half-pixel centres, edges clamped). */
export function resizePlane(plane: Float32Array, w: number, h: number, W: number, H: number): Float32Array {
  const out = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(Math.max(((y + 0.5) * h) / H - 0.5, 0), h - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, h - 1);
    const fy = sy - y0;
    for (let x = 0; x < W; x++) {
      const sx = Math.min(Math.max(((x + 0.5) * w) / W - 0.5, 0), w - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, w - 1);
      const fx = sx - x0;
      const top = plane[y0 * w + x0]! * (1 - fx) + plane[y0 * w + x1]! * fx;
      const bottom = plane[y1 * w + x0]! * (1 - fx) + plane[y1 * w + x1]! * fx;
      out[y * W + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** ReLU(Σ_k w_k A_k) for activations A [K, h, w] (NCHW, batch 1), resized to W × H. */
export function camFromWeights(activations: Float32Array, channels: number, h: number, w: number, weights: ArrayLike<number>, W: number, H: number): Float32Array {
  const cam = new Float32Array(h * w);
  for (let k = 0; k < channels; k++) {
    const wk = weights[k]!;
    if (wk === 0) continue;
    const base = k * h * w;
    for (let p = 0; p < h * w; p++) cam[p]! += wk * activations[base + p]!;
  }
  for (let p = 0; p < cam.length; p++) cam[p] = Math.max(0, cam[p]!);
  return resizePlane(cam, w, h, W, H);
}
