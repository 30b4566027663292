/**
 * Uncertainty of the faithfulness metrics. Every metric of Section 4.2 is a mean over images of a
 * per-image term (Eq. 11's clamped drop, Eq. 12's indicator, the win share with split ties), so one
 * resampling of the images gives all of them at once:
 * - intervals: the percentile bootstrap over images (B resamples of N images drawn with
 *   replacement, seeded; each bound is the type-7 quantile, i.e. linear interpolation between
 *   order statistics, of the B resampled means at 2.5 % and 97.5 %);
 * - paired comparison of CMS with a baseline: the per-image difference of the Average Drop terms
 *   with its paired-bootstrap interval (the same resamples), and the exact two-sided sign test on
 *   which of the two explanation images is less confident (ties left out).
 */

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The type-7 quantile (linear interpolation between order statistics) of sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export interface BootstrapOptions {
  /** Number of resamples (default 2000). */
  resamples?: number;
  /** Seed of the generator (default 1). */
  seed?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
}

export interface Interval { low: number; high: number }

export const BOOTSTRAP_DEFAULTS = { resamples: 2000, seed: 1, level: 0.95 } as const;

/**
 * Percentile-bootstrap intervals of the means of several per-image columns, all from the same
 * resamples of the images: `columns[j][n]` is column j's value on image n.
 */
export function bootstrapMeans(columns: number[][], options: BootstrapOptions = {}): Interval[] {
  const B = options.resamples ?? BOOTSTRAP_DEFAULTS.resamples;
  const level = options.level ?? BOOTSTRAP_DEFAULTS.level;
  const random = seededRandom(options.seed ?? BOOTSTRAP_DEFAULTS.seed);
  const N = columns[0]?.length ?? 0;
  if (N === 0) return columns.map(() => ({ low: NaN, high: NaN }));
  const means = columns.map(() => new Float64Array(B));
  const pick = new Int32Array(N);
  for (let b = 0; b < B; b++) {
    for (let n = 0; n < N; n++) pick[n] = Math.floor(random() * N);
    columns.forEach((c, j) => {
      let s = 0;
      for (let n = 0; n < N; n++) s += c[pick[n]!]!;
      means[j]![b] = s / N;
    });
  }
  const alpha = (1 - level) / 2;
  return means.map((m) => {
    m.sort();
    return { low: quantileSorted(m, alpha), high: quantileSorted(m, 1 - alpha) };
  });
}

/** ln C(n, k). */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/**
 * The exact two-sided sign test: `wins` and `losses` are the images where one method beats or
 * loses to the other (ties left out). p = min(1, 2 · P(X ≤ min(wins, losses))), X ~ Binomial(n, ½).
 */
export function signTest(wins: number, losses: number): number {
  const n = wins + losses;
  if (n === 0) return 1;
  const k = Math.min(wins, losses);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}
