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
  win: { name: 'Win %', higherIsBetter: true, description: 'share of images where this method\'s E has the lowest confidence of all methods (× 100)' },
};

/** min-max normalisation to [0, 1]; a constant map becomes all zeros (no division by zero). */
export function minMax(h: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of h) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const range = hi - lo;
  return range > 0 && Number.isFinite(range) ? Float32Array.from(h, (v) => (v - lo) / range) : new Float32Array(h.length);
}

/**
 * Eq. 10 for all methods of one image: each map min-max normalised, then scaled to the common sum
 * `s` and clamped to [0, 1] (the clamp is method.md's fix of the release's uint8 wrap-around).
 * By default s is the smallest of the normalised maps' sums, so no map needs the clamp and all end
 * with exactly the same sum; `fraction` sets s = fraction × pixels instead.
 */
export function equalSumHeatmaps(maps: Float32Array[], fraction?: number): Float32Array[] {
  const normalised = maps.map(minMax);
  const sums = normalised.map((m) => m.reduce((a, b) => a + b, 0));
  const s = fraction !== undefined ? fraction * (maps[0]?.length ?? 0) : Math.min(...sums);
  return normalised.map((m, k) => (sums[k]! > 0 ? Float32Array.from(m, (v) => Math.min(1, Math.max(0, (v * s) / sums[k]!))) : m));
}

/** E = (1 − H) ⊙ I on planar RGB pixels (H is W × H, I is 3 × W × H). */
export function negativeExplanation(pixels: Float32Array, heatmap: Float32Array): Float32Array {
  const plane = heatmap.length;
  return Float32Array.from(pixels, (v, k) => v * (1 - heatmap[k % plane]!));
}

/** Eq. 11 over images: φ(I) per image and φ(E) per image for one method. */
export function averageDrop(original: number[], explained: number[]): number {
  const terms = original.map((o, n) => Math.max(0, (o - explained[n]!) / o));
  return (100 * terms.reduce((a, b) => a + b, 0)) / original.length;
}

/** Eq. 12: the share of images whose explanation image is more confident than the original. */
export function increaseInConfidence(original: number[], explained: number[]): number {
  return (100 * original.filter((o, n) => explained[n]! > o).length) / original.length;
}

/**
 * Win %: per image, the method whose explanation image has the lowest confidence wins; methods
 * within 1e-6 (relative) of the lowest tie, and every tied method wins (two methods whose maps
 * agree up to scale, like Grad-CAM and Grad-CAM++ on a class-per-channel last layer, give the same
 * E up to float rounding). `explained[m][n]` is φ(E) of method m on image n.
 */
export function winPercent(explained: number[][]): number[] {
  const images = explained[0]?.length ?? 0;
  const wins = explained.map(() => 0);
  for (let n = 0; n < images; n++) {
    const best = Math.min(...explained.map((e) => e[n]!));
    const tie = 1e-6 * Math.max(1, Math.abs(best));
    explained.forEach((e, m) => { if (e[n]! - best <= tie) wins[m]!++; });
  }
  return wins.map((w) => (images ? (100 * w) / images : 0));
}
