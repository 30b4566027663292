/**
 * The paper's faithfulness metrics (Section 4.2), as method.md pins them down: negative
 * explanation images E = (1 − H) ⊙ I from heatmaps min-max normalised and rescaled to a common sum
 * per image (Eq. 9, 10), then Average Drop % (Eq. 11), % Increase in confidence (Eq. 12) and Win %.
 * Each metric states its direction, as Quantus does.
 */

export interface MetricInfo { name: string; higherIsBetter: boolean; description: string }

export const METRICS: Record<'averageDrop' | 'increase' | 'win', MetricInfo> = {
  averageDrop: { name: 'Average Drop %', higherIsBetter: true, description: 'mean of max(0, (φ(I) − φ(E)) / φ(I)) × 100: darkening what the map marks should lower the confidence' },
  increase: { name: '% Increase in confidence', higherIsBetter: false, description: 'share of images whose E is more confident than I (× 100)' },
  win: { name: 'Win %', higherIsBetter: true, description: 'share of images where this method\'s E has the lowest confidence of all methods (× 100); k methods tied for the lowest each get 1/k of the image, so the column sums to 100' },
};

/**
 * min-max normalisation to [0, 1]; a constant map becomes all zeros (no division by zero). With a
 * `support` (1 = the map is defined there), min and max are taken over the supported pixels only
 * and every other pixel is 0 after normalisation, whatever the sign of the map: a reprojected map
 * is undefined where no patch reaches (off the face), and must not spend Eq. 10's budget there.
 */
export function minMax(h: Float32Array, support?: Uint8Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let p = 0; p < h.length; p++) {
    if (support && !support[p]) continue;
    const v = h[p]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = hi - lo;
  if (!(range > 0 && Number.isFinite(range))) return new Float32Array(h.length);
  return Float32Array.from(h, (v, p) => (support && !support[p] ? 0 : (v - lo) / range));
}

/** A heatmap over I with the pixels where it is defined (absent: everywhere). */
export interface SupportedMap { values: Float32Array; support?: Uint8Array }

/** A method's output: a plain map (defined everywhere) or a map with its support. */
export type HeatmapLike = Float32Array | SupportedMap;

export function asSupported(h: HeatmapLike): SupportedMap {
  return h instanceof Float32Array ? { values: h } : h;
}

/**
 * Eq. 10 for all methods of one image: each map min-max normalised (over its support, zero
 * elsewhere), then scaled to the common sum `s` and clamped to [0, 1] (the clamp is method.md's fix
 * of the release's uint8 wrap-around). By default s is the smallest of the normalised maps'
 * positive sums, so no map needs the clamp and all end with exactly the same sum; `fraction` sets
 * s = fraction × pixels instead. A map that is all zeros (a constant map, or a CAM whose ReLU
 * removed everything) cannot be scaled to any sum: it stays zero (its E is I: it marks nothing)
 * and does not set s, which would otherwise be 0 and leave every method's E equal to I.
 */
export function equalSumHeatmaps(maps: HeatmapLike[], fraction?: number): Float32Array[] {
  const normalised = maps.map((m) => { const h = asSupported(m); return minMax(h.values, h.support); });
  const sums = normalised.map((m) => m.reduce((a, b) => a + b, 0));
  const positive = sums.filter((v) => v > 0);
  const s = fraction !== undefined ? fraction * (normalised[0]?.length ?? 0) : positive.length ? Math.min(...positive) : 0;
  return normalised.map((m, k) => (sums[k]! > 0 ? Float32Array.from(m, (v) => Math.min(1, Math.max(0, (v * s) / sums[k]!))) : m));
}

/** E = (1 − H) ⊙ I on planar RGB pixels (H is W × H, I is 3 × W × H). */
export function negativeExplanation(pixels: Float32Array, heatmap: Float32Array): Float32Array {
  const plane = heatmap.length;
  return Float32Array.from(pixels, (v, k) => v * (1 - heatmap[k % plane]!));
}

/** Eq. 11's term for one image, × 100: max(0, (φ(I) − φ(E)) / φ(I)) · 100. */
export function dropTerm(original: number, explained: number): number {
  return 100 * Math.max(0, (original - explained) / original);
}

/** Eq. 12's term for one image, × 100. */
export function increaseTerm(original: number, explained: number): number {
  return explained > original ? 100 : 0;
}

/** Eq. 11 over images: φ(I) per image and φ(E) per image for one method. */
export function averageDrop(original: number[], explained: number[]): number {
  return mean(original.map((o, n) => dropTerm(o, explained[n]!)));
}

/** Eq. 12: the share of images whose explanation image is more confident than the original. */
export function increaseInConfidence(original: number[], explained: number[]): number {
  return mean(original.map((o, n) => increaseTerm(o, explained[n]!)));
}

function mean(v: number[]): number {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
}

/**
 * Win shares of one image, × 100: the method whose explanation image has the lowest confidence
 * wins; methods within 1e-6 (relative) of the lowest tie, and k tied methods each get 100 / k
 * (two methods whose maps agree up to scale, like Grad-CAM and Grad-CAM++ on a class-per-channel
 * last layer, give the same E up to float rounding). The shares of an image sum to 100.
 */
export function winShares(explained: number[]): number[] {
  const best = Math.min(...explained);
  const tie = 1e-6 * Math.max(1, Math.abs(best));
  const tied = explained.map((e) => e - best <= tie);
  const k = tied.filter(Boolean).length;
  return tied.map((t) => (t ? 100 / k : 0));
}

/** Win % over images (Eq. 13 with split ties): `explained[m][n]` is φ(E) of method m on image n; the columns sum to 100. */
export function winPercent(explained: number[][]): number[] {
  const images = explained[0]?.length ?? 0;
  const wins = explained.map(() => 0);
  for (let n = 0; n < images; n++) winShares(explained.map((e) => e[n]!)).forEach((w, m) => { wins[m]! += w; });
  return wins.map((w) => (images ? w / images : 0));
}
