/**
 * The data that flows through the saliency stage. A plan is built once per image and handed to an
 * engine; engines never re-derive geometry from it (design.md, "the plan is data").
 */

/** What fills an occluded patch, in pixel space (0..255) before the model's normalisation. */
export type FillKind = 'black' | 'gray' | 'mean';

/** How φ is read from a classification head. */
export type ScoreKind = 'prob' | 'logit';

/**
 * Algorithm 1's occlusion plan for one input image I (W_I × H_I) and the canonical face image F
 * (H_F × H_F). Rectangles are integer pixel ranges [x0, x1) × [y0, y1), already clipped to their
 * image, four numbers per point.
 */
export interface OcclusionPlan {
  inputWidth: number;
  inputHeight: number;
  /** Patch side sz, input pixels. */
  patch: number;
  /** H_F. */
  canonicalSize: number;
  /** fsz = sz · H_F / H_I, canonical pixels. */
  canonicalPatch: number;
  count: number;
  /** M_I: patch centres, x, y per point in input pixels. */
  centres: Float32Array;
  /** M_F: canonical centres, x, y per point in canonical pixels. */
  canonical: Float32Array;
  /** Occluded input rectangle per point (x0, y0, x1, y1). May be empty if the point is outside I. */
  inputRects: Int32Array;
  /** Canonical rectangle per point (x0, y0, x1, y1). */
  canonicalRects: Int32Array;
  /** Fill value per model-input channel, already normalised (what the tensor holds in a patch). */
  fill: Float32Array;
  fillKind: FillKind;
}

/**
 * How φ is computed from the model's outputs for one image, as data so that every engine (CPU
 * TypeScript, GPU WGSL) implements the same thing:
 * - `index`: φ = out[index] (a probability or logit that the model outputs directly, or a value)
 * - `softmax`: φ = softmax(out)[index]
 * - `log`: φ = log out[index] (the log-probability: the `logit` score of a model that outputs only
 *   softmax probabilities; it equals the logit minus a log-sum-exp that occlusion also changes)
 * - `sigmoid-logit`: out holds p; φ = sign · log(p / (1 − p)) (sign −1 scores the negative class)
 * - `one-minus`: φ = 1 − out[index] (the negative class of a sigmoid head)
 * - `cosine-max`: φ = max over references r of cos(out, r) (Eq. 7; Eq. 8 with `pair`)
 */
export interface ScoreSpec {
  output: string;
  kind: 'index' | 'softmax' | 'log' | 'sigmoid-logit' | 'one-minus' | 'cosine-max';
  index: number;
  /** sigmoid-logit: +1 for the positive class, −1 for the negative. */
  sign?: number;
  /** cosine-max: reference embeddings, each of the output's width. */
  references?: Float32Array[];
  /**
   * Verification (Eq. 8 with the sign fixed, method.md): φ = c · (cos(e(Q1*), e(Q2*)) − τ); the
   * engine occludes the same canonical point in both images of the pair.
   */
  pair?: { c: 1 | -1; tau: number };
}

/** One image's Canonical Image Saliency: raw sums P, counts N and the normalised map. */
export interface CisMap {
  size: number;
  /** P / N where N > 0, else 0 (density normalisation, Fig. 4). */
  map: Float32Array;
  /** Number of patches covering each canonical pixel. */
  count: Uint32Array;
  /** φ(I) of the unoccluded image. */
  baseline: number;
  /** s_n per plan point. */
  drops: Float32Array;
}
