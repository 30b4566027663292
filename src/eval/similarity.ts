/** Similarity of two maps, for the sanity check: Spearman rank correlation and SSIM. */

/** Ranks with ties averaged (1-based). */
function ranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]![1]] = avg;
    i = j + 1;
  }
  return r;
}

/** Pearson correlation of two maps over the pixels `mask` admits (all when absent); 0 if either is constant. */
export function pearsonMasked(a: ArrayLike<number>, b: ArrayLike<number>, mask?: (p: number) => boolean): number {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let p = 0; p < a.length; p++) if (!mask || mask(p)) { xs.push(a[p]!); ys.push(b[p]!); }
  return pearson(xs, ys);
}

function pearson(a: number[], b: number[]): number {
  const n = a.length;
  if (n < 2) return 0;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let cov = 0, va = 0, vb = 0;
  for (let i = 0; i < n; i++) { cov += (a[i]! - ma) * (b[i]! - mb); va += (a[i]! - ma) ** 2; vb += (b[i]! - mb) ** 2; }
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}

/** Spearman's ρ over the pixels where `mask` is set (all pixels without one). */
export function spearman(a: Float32Array, b: Float32Array, mask?: Uint8Array): number {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let p = 0; p < a.length; p++) if (!mask || mask[p]) { xs.push(a[p]!); ys.push(b[p]!); }
  return pearson(ranks(xs), ranks(ys));
}

/**
 * Mean SSIM (Wang et al. 2004) of two size × size maps, each min-max normalised to [0, 1] first,
 * over 7 × 7 windows (uniform weights) whose pixels are all inside `mask`; C1 = 0.01², C2 = 0.03².
 */
export function ssim(a: Float32Array, b: Float32Array, size: number, mask?: Uint8Array): number {
  const norm = (m: Float32Array): Float32Array => {
    let lo = Infinity, hi = -Infinity;
    for (let p = 0; p < m.length; p++) if (!mask || mask[p]) { lo = Math.min(lo, m[p]!); hi = Math.max(hi, m[p]!); }
    return Float32Array.from(m, (v) => (hi > lo ? (v - lo) / (hi - lo) : 0));
  };
  const x = norm(a);
  const y = norm(b);
  const C1 = 0.01 ** 2;
  const C2 = 0.03 ** 2;
  const R = 3;
  let total = 0;
  let windows = 0;
  for (let cy = R; cy < size - R; cy += 2) {
    for (let cx = R; cx < size - R; cx += 2) {
      let n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, inside = true;
      for (let dy = -R; dy <= R && inside; dy++) for (let dx = -R; dx <= R; dx++) {
        const p = (cy + dy) * size + cx + dx;
        if (mask && !mask[p]) { inside = false; break; }
        n++; sx += x[p]!; sy += y[p]!; sxx += x[p]! ** 2; syy += y[p]! ** 2; sxy += x[p]! * y[p]!;
      }
      if (!inside) continue;
      const mx = sx / n, my = sy / n;
      const vx = sxx / n - mx * mx, vy = syy / n - my * my, cxy = sxy / n - mx * my;
      total += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      windows++;
    }
  }
  return windows ? total / windows : 0;
}
