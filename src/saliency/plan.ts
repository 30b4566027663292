/**
 * Building Algorithm 1's occlusion plan (method.md): patch geometry in the input image I and on the
 * canonical face F, and the fill value, fixed once per image so that every engine runs the same
 * occlusions and paints the same canonical squares.
 */
import { CsmError } from '../errors.js';
import type { Correspondence } from '../face/types.js';
import { channelsOf, normalisation, type InputSpec } from '../models/spec.js';
import { GRAY_WEIGHTS } from '../models/preprocess.js';
import type { FillKind, OcclusionPlan } from './types.js';

/** The paper's patch: 15 px at a 224-px input, scaled with the input size. */
export function defaultPatch(inputHeight: number): number {
  return Math.max(1, Math.round((15 * inputHeight) / 224));
}

/**
 * Fill per input channel in the model's normalised units. `meanRgb` (0..255 per R, G, B) is the
 * input image's mean colour, used by `mean`; `black` is pixel 0, `gray` pixel 127.5. (The authors'
 * release fills 0 in ImageNet-normalised space, i.e. the training set's mean colour; `mean` is the
 * per-image analogue, `black` the paper's Eq. 2.)
 */
export function fillValues(spec: InputSpec, kind: FillKind, meanRgb: [number, number, number]): Float32Array {
  const rgb: [number, number, number] = kind === 'black' ? [0, 0, 0] : kind === 'gray' ? [127.5, 127.5, 127.5] : meanRgb;
  const { scale, offset } = normalisation(spec);
  const pixels = channelsOf(spec) === 1 ? [GRAY_WEIGHTS[0] * rgb[0] + GRAY_WEIGHTS[1] * rgb[1] + GRAY_WEIGHTS[2] * rgb[2]] : rgb;
  return Float32Array.from(pixels, (p, c) => p * scale[c]! + offset[c]!);
}

/**
 * [x0, x1) of a square of side `side` centred at continuous coordinate `c` (pixel i spans
 * [i, i+1)): x0 = round(c − side/2), halves rounding up, so the square holds the `side` pixels
 * whose centres lie nearest to c; then clipped to [0, limit).
 */
function span(c: number, side: number, limit: number): [number, number] {
  const w = Math.max(1, Math.round(side));
  const x0 = Math.round(c - w / 2);
  return [Math.max(0, x0), Math.min(limit, x0 + w)];
}

export interface PlanOptions {
  /** Correspondence whose `image` points are already in input-image pixels. */
  correspondence: Correspondence;
  input: InputSpec;
  /** Patch side in input pixels (default: 15 at 224, scaled). */
  patch?: number;
  fill: Float32Array;
  fillKind: FillKind;
}

/**
 * One plan point per correspondence point whose centre lies inside I (points that fall outside
 * cannot be occluded and would only dilute the density normalisation).
 */
export function buildPlan(options: PlanOptions): OcclusionPlan {
  const { correspondence: c, input } = options;
  const W = input.width;
  const H = input.height;
  const patch = options.patch ?? defaultPatch(H);
  if (!Number.isInteger(patch) || patch < 1 || patch > Math.min(W, H)) throw new CsmError(`patch size must be a whole number of pixels from 1 to ${Math.min(W, H)}, got ${patch}`);
  const F = c.canonicalSize;
  const canonicalPatch = (patch * F) / H;
  const keep: number[] = [];
  for (let n = 0; n < c.count; n++) {
    const x = c.image[2 * n]!;
    const y = c.image[2 * n + 1]!;
    if (x >= 0 && x < W && y >= 0 && y < H && Number.isFinite(c.canonical[2 * n]!)) keep.push(n);
  }
  const count = keep.length;
  const centres = new Float32Array(2 * count);
  const canonical = new Float32Array(2 * count);
  const inputRects = new Int32Array(4 * count);
  const canonicalRects = new Int32Array(4 * count);
  keep.forEach((n, k) => {
    const [x, y, u, v] = [c.image[2 * n]!, c.image[2 * n + 1]!, c.canonical[2 * n]!, c.canonical[2 * n + 1]!];
    centres[2 * k] = x; centres[2 * k + 1] = y;
    canonical[2 * k] = u; canonical[2 * k + 1] = v;
    const [ix0, ix1] = span(x, patch, W);
    const [iy0, iy1] = span(y, patch, H);
    const [cx0, cx1] = span(u, canonicalPatch, F);
    const [cy0, cy1] = span(v, canonicalPatch, F);
    inputRects.set([ix0, iy0, ix1, iy1], 4 * k);
    canonicalRects.set([cx0, cy0, cx1, cy1], 4 * k);
  });
  return {
    inputWidth: W, inputHeight: H, patch, canonicalSize: F, canonicalPatch, count,
    centres, canonical, inputRects, canonicalRects, fill: options.fill, fillKind: options.fillKind,
  };
}
