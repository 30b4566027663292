/**
 * Two sets of canonical maps compared with an interval for every number (issue 9). Everything here
 * works on plain arrays of per-image maps, so it is tested without any model.
 *
 * ## Data
 * A sample is a list of per-image maps over the same `columns` (the pixels of a canonical map, or
 * the facial regions of a region table), each with a validity mask: a pixel that no patch reached
 * in an image (CIS count N = 0) is MISSING there, not a 0. Every per-pixel mean is taken over the
 * images that measured the pixel.
 *
 * ## Two designs
 * - `paired` (two models on the same images): the unit is the per-image difference d_i = A_i − B_i,
 *   defined where both maps of image i are valid. Estimate: mean of d_i. Statistic: the one-sample
 *   t = mean(d) / (sd(d) / √n). Null: A_i and B_i exchangeable within each image, so each d_i is
 *   symmetric about 0; permutations flip the sign of whole per-image difference maps (one sign per
 *   image, shared by all its pixels, which keeps the spatial correlation). Bootstrap: images are
 *   resampled with replacement (paired: an image brings both of its maps).
 * - `groups` (one model on two groups of images): estimate mean(A) − mean(B); statistic Welch's
 *   t = (mean A − mean B) / √(s²_A/n_A + s²_B/n_B). Null: the group labels are exchangeable;
 *   permutations shuffle the labels (group sizes kept). Bootstrap: images are resampled with
 *   replacement within each group, independently.
 *
 * ## Intervals
 * Per column, the percentile bootstrap (type-7 quantiles of the B resampled estimates, as
 * src/eval/stats.ts). Resamples are drawn once (seeded) and shared by all columns; columns are
 * processed in blocks, so memory stays at B × block values.
 *
 * ## Significance
 * For each permutation the statistic is recomputed at every tested column. Raw p-value per column:
 * p = (1 + #{perm: |t*| ≥ |t|}) / (P + 1) for P random permutations (the observed labelling
 * counts as one), or #{…}/2^n when all 2^n sign flips are enumerated (paired, 2^n ≤ P).
 * - `maxt` (default): family-wise error control by the single-step max-statistic method
 *   (Westfall & Young 1993): p_FWER = (1 + #{perm: max over tested columns |t*| ≥ |t|}) / (P + 1);
 *   a column is significant when p_FWER ≤ α. The max over columns of the same permutation carries
 *   the dependence between pixels, so the FWER is ≤ α without assuming independence.
 * - `fdr`: Benjamini–Hochberg at level α on the raw permutation p-values of the tested columns.
 * Both are computed; `correction` picks the one that makes `significant`.
 *
 * A column is tested when every sample has at least `minImages` (≥ 2) images valid there; others
 * get NaN estimates and intervals and are never significant.
 */
import { quantileSorted, seededRandom } from '../eval/stats.js';

export type CompareDesign = 'paired' | 'groups';
export type Correction = 'maxt' | 'fdr';

/** Per-image maps (or region values) over the same columns, with validity (1 = measured). */
export interface MapSample {
  columns: number;
  values: ArrayLike<number>[];
  valid: ArrayLike<number>[];
}

export interface CompareOptions {
  /** Random permutations (default 1000). */
  permutations?: number;
  /** Bootstrap resamples (default 1000). */
  bootstrap?: number;
  /** Significance level (default 0.05). */
  alpha?: number;
  /** Interval coverage (default 0.95). */
  level?: number;
  /** Seed (default 1); bootstrap and permutations use separate streams of it. */
  seed?: number;
  correction?: Correction;
  /** Minimum valid images per sample for a column to be tested (default 2, at least 2). */
  minImages?: number;
  /** Columns per bootstrap block (memory: bootstrap × block float64). Default 4096. */
  block?: number;
}

export const COMPARE_DEFAULTS = { permutations: 1000, bootstrap: 1000, alpha: 0.05, level: 0.95, seed: 1, correction: 'maxt' as Correction, minImages: 2, block: 4096 };

export interface CompareResult {
  design: CompareDesign;
  columns: number;
  /** 1 where the column was tested. */
  tested: Uint8Array;
  /** Mean of sample A and of sample B (paired: both over the images valid in both). NaN if untested. */
  meanA: Float64Array;
  meanB: Float64Array;
  /** The estimate A − B (paired: mean of per-image differences). */
  diff: Float64Array;
  low: Float64Array;
  high: Float64Array;
  /** The t statistic (paired one-sample t, or Welch's t). */
  t: Float64Array;
  /** Raw permutation p-value per column (NaN untested). */
  p: Float64Array;
  /** Max-statistic FWER-adjusted p-value per column. */
  pFwer: Float64Array;
  /** Benjamini–Hochberg mask at alpha. */
  fdrMask: Uint8Array;
  /** Max-statistic mask: pFwer ≤ alpha. */
  fwerMask: Uint8Array;
  /** The mask of the chosen correction. */
  significant: Uint8Array;
  /** Images valid per column (paired: in both; groups: A, B). */
  countA: Uint32Array;
  countB: Uint32Array;
  /** A column is FWER-significant when |t| > this (the (K+1)-th largest permutation maximum; Infinity when no column can be). */
  maxtThreshold: number;
  /** The smallest p-value the permutations can give (2/2^n for all sign flips: the identity and its negation; 1/(P+1) else). */
  minP: number;
  /** Permutations actually used, and whether they were all 2^n sign flips. */
  permutations: number;
  exhaustive: boolean;
  bootstrap: number;
  options: Required<Omit<CompareOptions, 'block'>>;
}

function resolve(o: CompareOptions): Required<CompareOptions> {
  const r = { ...COMPARE_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as Required<CompareOptions>;
  if (!Number.isInteger(r.permutations) || r.permutations < 1) throw new RangeError(`permutations must be a whole number ≥ 1, got ${r.permutations}`);
  if (!Number.isInteger(r.bootstrap) || r.bootstrap < 1) throw new RangeError(`bootstrap must be a whole number ≥ 1, got ${r.bootstrap}`);
  if (!(r.alpha > 0 && r.alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${r.alpha}`);
  if (!(r.level > 0 && r.level < 1)) throw new RangeError(`level must be in (0, 1), got ${r.level}`);
  if (r.correction !== 'maxt' && r.correction !== 'fdr') throw new RangeError(`correction must be maxt or fdr, got ${String(r.correction)}`);
  r.minImages = Math.max(2, Math.floor(r.minImages));
  return r;
}

function checkSample(s: MapSample, name: string): void {
  if (s.values.length !== s.valid.length) throw new RangeError(`${name}: ${s.values.length} maps but ${s.valid.length} validity masks`);
  s.values.forEach((v, i) => {
    if (v.length !== s.columns || s.valid[i]!.length !== s.columns) throw new RangeError(`${name}: map ${i} has ${v.length} values / ${s.valid[i]!.length} mask entries, expected ${s.columns}`);
  });
}

/** Σ and Σ² and counts of the valid values, weighted (w[i] copies of unit i), over columns [c0, c1). */
function accumulate(units: ArrayLike<number>[], valid: ArrayLike<number>[], weights: ArrayLike<number> | undefined, c0: number, c1: number, S: Float64Array, Q: Float64Array | undefined, N: Float64Array): void {
  S.fill(0); N.fill(0); Q?.fill(0);
  for (let i = 0; i < units.length; i++) {
    const w = weights ? weights[i]! : 1;
    if (w === 0) continue;
    const u = units[i]!, m = valid[i]!;
    for (let c = c0; c < c1; c++) {
      if (!m[c]) continue;
      const v = u[c]!;
      const k = c - c0;
      S[k] = S[k]! + w * v;
      if (Q) Q[k] = Q[k]! + w * v * v;
      N[k] = N[k]! + w;
    }
  }
}

/** One-sample t from sum, sum of squares and count; 0 when it is undefined (n < 2 or zero spread). */
function oneSampleT(s: number, q: number, n: number): number {
  if (n < 2) return 0;
  const m = s / n;
  const v = Math.max(0, (q - n * m * m) / (n - 1));
  const se = Math.sqrt(v / n);
  return se > 0 ? m / se : 0;
}

/** Welch's t from each group's sum, sum of squares and count; 0 when undefined. */
function welchT(sa: number, qa: number, na: number, sb: number, qb: number, nb: number): number {
  if (na < 2 || nb < 2) return 0;
  const ma = sa / na, mb = sb / nb;
  const va = Math.max(0, (qa - na * ma * ma) / (na - 1)), vb = Math.max(0, (qb - nb * mb * mb) / (nb - 1));
  const se = Math.sqrt(va / na + vb / nb);
  return se > 0 ? (ma - mb) / se : 0;
}

/** Benjamini–Hochberg: 1 where the hypothesis is rejected at level q (NaN p-values are not tested). */
export function benjaminiHochberg(p: ArrayLike<number>, q: number): Uint8Array {
  const idx: number[] = [];
  for (let i = 0; i < p.length; i++) if (Number.isFinite(p[i]!)) idx.push(i);
  idx.sort((a, b) => p[a]! - p[b]!);
  const m = idx.length;
  let k = 0;
  for (let r = m; r >= 1; r--) if (p[idx[r - 1]!]! <= (r / m) * q) { k = r; break; }
  const out = new Uint8Array(p.length);
  for (let r = 0; r < k; r++) out[idx[r]!] = 1;
  return out;
}

/** Holm's step-down adjustment of a few p-values (NaN stays NaN). */
export function holm(p: ArrayLike<number>): Float64Array {
  const idx: number[] = [];
  for (let i = 0; i < p.length; i++) if (Number.isFinite(p[i]!)) idx.push(i);
  idx.sort((a, b) => p[a]! - p[b]!);
  const out = new Float64Array(p.length).fill(NaN);
  let running = 0;
  idx.forEach((i, r) => {
    running = Math.max(running, Math.min(1, (idx.length - r) * p[i]!));
    out[i] = running;
  });
  return out;
}

/** Relative tolerance for "|t*| ≥ |t|", so that a permutation equal to the observed one (up to float rounding) counts. */
const TIE = 1e-9;

/**
 * Compares two samples of per-image maps. Paired: `a.values[i]` and `b.values[i]` are the same
 * image; groups: independent images.
 */
export function compareSamples(design: CompareDesign, a: MapSample, b: MapSample, options: CompareOptions = {}): CompareResult {
  const o = resolve(options);
  checkSample(a, 'sample A');
  checkSample(b, 'sample B');
  if (a.columns !== b.columns) throw new RangeError(`sample A has ${a.columns} columns, sample B ${b.columns}`);
  const C = a.columns;
  if (design === 'paired' && a.values.length !== b.values.length) throw new RangeError(`paired samples need the same images: ${a.values.length} vs ${b.values.length}`);
  const blockSize = Math.max(1, Math.floor(o.block));

  // The units whose rows are resampled and permuted.
  let units: ArrayLike<number>[];
  let valid: ArrayLike<number>[];
  let labels: Uint8Array | undefined; // groups: 1 = A
  if (design === 'paired') {
    units = [];
    valid = [];
    for (let i = 0; i < a.values.length; i++) {
      const d = new Float32Array(C), m = new Uint8Array(C);
      const av = a.values[i]!, bv = b.values[i]!, am = a.valid[i]!, bm = b.valid[i]!;
      for (let c = 0; c < C; c++) if (am[c] && bm[c]) { d[c] = av[c]! - bv[c]!; m[c] = 1; }
      units.push(d);
      valid.push(m);
    }
  } else {
    units = [...a.values, ...b.values];
    valid = [...a.valid, ...b.valid];
    labels = new Uint8Array(units.length);
    labels.fill(1, 0, a.values.length);
  }
  const U = units.length;

  // Observed means, counts and t.
  const meanA = new Float64Array(C).fill(NaN), meanB = new Float64Array(C).fill(NaN), diff = new Float64Array(C).fill(NaN);
  const t = new Float64Array(C), tested = new Uint8Array(C);
  const countA = new Uint32Array(C), countB = new Uint32Array(C);
  {
    const S = new Float64Array(C), Q = new Float64Array(C), N = new Float64Array(C);
    if (design === 'paired') {
      accumulate(units, valid, undefined, 0, C, S, Q, N);
      // A and B over the images valid in both.
      const SA = new Float64Array(C), SB = new Float64Array(C), NN = new Float64Array(C);
      accumulate(a.values, valid, undefined, 0, C, SA, undefined, NN);
      accumulate(b.values, valid, undefined, 0, C, SB, undefined, NN);
      for (let c = 0; c < C; c++) {
        countA[c] = N[c]!; countB[c] = N[c]!;
        if (N[c]! < o.minImages) continue;
        tested[c] = 1;
        diff[c] = S[c]! / N[c]!;
        meanA[c] = SA[c]! / N[c]!;
        meanB[c] = SB[c]! / N[c]!;
        t[c] = oneSampleT(S[c]!, Q[c]!, N[c]!);
      }
    } else {
      const SB = new Float64Array(C), QB = new Float64Array(C), NB = new Float64Array(C);
      accumulate(a.values, a.valid, undefined, 0, C, S, Q, N);
      accumulate(b.values, b.valid, undefined, 0, C, SB, QB, NB);
      for (let c = 0; c < C; c++) {
        countA[c] = N[c]!; countB[c] = NB[c]!;
        if (N[c]! < o.minImages || NB[c]! < o.minImages) continue;
        tested[c] = 1;
        meanA[c] = S[c]! / N[c]!;
        meanB[c] = SB[c]! / NB[c]!;
        diff[c] = meanA[c]! - meanB[c]!;
        t[c] = welchT(S[c]!, Q[c]!, N[c]!, SB[c]!, QB[c]!, NB[c]!);
      }
    }
  }

  // Permutations.
  const exhaustive = design === 'paired' && U <= 30 && 2 ** U <= o.permutations;
  const P = exhaustive ? 2 ** U : o.permutations;
  const exceed = new Uint32Array(C);
  const maxes = new Float64Array(P);
  {
    const random = seededRandom((o.seed ^ 0x5bd1e995) >>> 0);
    const S = new Float64Array(C), Q = new Float64Array(C), N = new Float64Array(C);
    // Totals, for groups: B = total − A.
    const ST = new Float64Array(C), QT = new Float64Array(C), NT = new Float64Array(C);
    let Qfix: Float64Array | undefined, Nfix: Float64Array | undefined;
    if (design === 'paired') {
      Qfix = new Float64Array(C); Nfix = new Float64Array(C);
      accumulate(units, valid, undefined, 0, C, S, Qfix, Nfix); // Σd² and n do not change under sign flips
    } else {
      accumulate(units, valid, undefined, 0, C, ST, QT, NT);
    }
    const signs = new Float64Array(U);
    const perm = Int32Array.from({ length: U }, (_, i) => i);
    const nA = a.values.length;
    const absT = Float64Array.from(t, Math.abs);
    for (let k = 0; k < P; k++) {
      let max = 0;
      if (design === 'paired') {
        for (let i = 0; i < U; i++) signs[i] = exhaustive ? (((k / 2 ** i) & 1) ? -1 : 1) : random() < 0.5 ? -1 : 1;
        accumulate(units, valid, signs, 0, C, S, undefined, N); // N: scratch (signed weights)
        for (let c = 0; c < C; c++) {
          if (!tested[c]) continue;
          const tk = Math.abs(oneSampleT(S[c]!, Qfix![c]!, Nfix![c]!));
          if (tk >= absT[c]! * (1 - TIE)) exceed[c]!++;
          if (tk > max) max = tk;
        }
      } else {
        // Fisher–Yates: the first nA units form group A.
        for (let i = U - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          const x = perm[i]!; perm[i] = perm[j]!; perm[j] = x;
        }
        const w = new Float64Array(U);
        for (let i = 0; i < nA; i++) w[perm[i]!] = 1;
        accumulate(units, valid, w, 0, C, S, Q, N);
        for (let c = 0; c < C; c++) {
          if (!tested[c]) continue;
          const tk = Math.abs(welchT(S[c]!, Q[c]!, N[c]!, ST[c]! - S[c]!, QT[c]! - Q[c]!, NT[c]! - N[c]!));
          if (tk >= absT[c]! * (1 - TIE)) exceed[c]!++;
          if (tk > max) max = tk;
        }
      }
      maxes[k] = max;
    }
  }
  maxes.sort();
  const p = new Float64Array(C).fill(NaN), pFwer = new Float64Array(C).fill(NaN);
  const countAtLeast = (x: number): number => {
    // #{k: maxes[k] ≥ x(1 − TIE)} by binary search in the sorted maxima.
    const thr = x * (1 - TIE);
    let lo = 0, hi = P;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (maxes[mid]! >= thr) hi = mid; else lo = mid + 1; }
    return P - lo;
  };
  for (let c = 0; c < C; c++) {
    if (!tested[c]) continue;
    const at = Math.abs(t[c]!);
    p[c] = exhaustive ? exceed[c]! / P : (1 + exceed[c]!) / (P + 1);
    pFwer[c] = exhaustive ? countAtLeast(at) / P : (1 + countAtLeast(at)) / (P + 1);
  }
  const fwerMask = new Uint8Array(C);
  for (let c = 0; c < C; c++) if (tested[c] && pFwer[c]! <= o.alpha) fwerMask[c] = 1;
  const fdrMask = benjaminiHochberg(p, o.alpha);
  // p_FWER(x) ≤ alpha ⟺ #{perm: max ≥ x} ≤ K; with the maxima sorted ascending that holds exactly
  // for x above the (K+1)-th largest maximum.
  const K = exhaustive ? Math.floor(o.alpha * P + 1e-9) : Math.floor(o.alpha * (P + 1) + 1e-9) - 1;
  const maxtThreshold = K < 0 ? Infinity : K >= P ? 0 : maxes[P - 1 - K]!;

  // Bootstrap intervals of the estimate.
  const B = o.bootstrap;
  const low = new Float64Array(C).fill(NaN), high = new Float64Array(C).fill(NaN);
  {
    const random = seededRandom(o.seed >>> 0);
    const weights: Uint16Array[] = [];
    const nA = design === 'paired' ? U : a.values.length;
    for (let r = 0; r < B; r++) {
      const w = new Uint16Array(U);
      if (design === 'paired') {
        for (let i = 0; i < U; i++) w[Math.floor(random() * U)]!++;
      } else {
        const nB = U - nA;
        for (let i = 0; i < nA; i++) w[Math.floor(random() * nA)]!++;
        for (let i = 0; i < nB; i++) w[nA + Math.floor(random() * nB)]!++;
      }
      weights.push(w);
    }
    const tail = (1 - o.level) / 2;
    const S = new Float64Array(blockSize), N = new Float64Array(blockSize), SB = new Float64Array(blockSize), NB = new Float64Array(blockSize);
    const est = new Float64Array(B * blockSize);
    const wA = new Float64Array(U), wB = new Float64Array(U);
    const column = new Float64Array(B);
    for (let c0 = 0; c0 < C; c0 += blockSize) {
      const c1 = Math.min(C, c0 + blockSize);
      for (let r = 0; r < B; r++) {
        const w = weights[r]!;
        if (design === 'paired') {
          accumulate(units, valid, w, c0, c1, S, undefined, N);
          for (let c = c0; c < c1; c++) est[r * blockSize + c - c0] = N[c - c0]! > 0 ? S[c - c0]! / N[c - c0]! : NaN;
        } else {
          for (let i = 0; i < U; i++) { wA[i] = i < nA ? w[i]! : 0; wB[i] = i < nA ? 0 : w[i]!; }
          accumulate(units, valid, wA, c0, c1, S, undefined, N);
          accumulate(units, valid, wB, c0, c1, SB, undefined, NB);
          for (let c = c0; c < c1; c++) {
            const k = c - c0;
            est[r * blockSize + k] = N[k]! > 0 && NB[k]! > 0 ? S[k]! / N[k]! - SB[k]! / NB[k]! : NaN;
          }
        }
      }
      for (let c = c0; c < c1; c++) {
        if (!tested[c]) continue;
        let n = 0;
        for (let r = 0; r < B; r++) { const v = est[r * blockSize + c - c0]!; if (!Number.isNaN(v)) column[n++] = v; }
        const sorted = column.subarray(0, n).sort();
        low[c] = quantileSorted(sorted, tail);
        high[c] = quantileSorted(sorted, 1 - tail);
      }
    }
  }

  const significant = o.correction === 'maxt' ? fwerMask : fdrMask;
  const { block: _block, ...recorded } = o;
  void _block;
  return {
    design, columns: C, tested, meanA, meanB, diff, low, high, t, p, pFwer, fdrMask, fwerMask, significant, countA, countB,
    maxtThreshold, minP: exhaustive ? 2 / P : 1 / (P + 1), permutations: P, exhaustive, bootstrap: B, options: recorded,
  };
}

/** Human-readable names of the methods, for sidecars and reports. */
export function methodDescription(design: CompareDesign, r: Pick<CompareResult, 'permutations' | 'exhaustive' | 'bootstrap' | 'options'>): Record<string, string> {
  const { alpha, level, seed, correction, minImages } = r.options;
  const perm = r.exhaustive ? `all ${r.permutations} sign-flip vectors (exact)` : `${r.permutations} random ${design === 'paired' ? 'sign flips' : 'label shuffles'} (seed ${seed}); p = (1 + #{|t*| ≥ |t|}) / (P + 1)`;
  return {
    estimate: design === 'paired' ? 'mean over images of the per-image difference A_i − B_i (pixels valid in both maps of the image)' : 'mean(A) − mean(B), each over the images of its group that measured the pixel',
    statistic: design === 'paired' ? 'one-sample t of the per-image differences' : "Welch's t",
    interval: `${Math.round(level * 100)} % percentile bootstrap over images (${r.bootstrap} resamples, seed ${seed}; ${design === 'paired' ? 'paired: an image brings both of its maps' : 'resampled within each group independently'})`,
    permutation: `${design === 'paired' ? 'sign-flip permutation of whole per-image difference maps' : 'shuffled group labels (group sizes kept)'}: ${perm}`,
    correction: correction === 'maxt'
      ? `family-wise error rate ≤ ${alpha} by the single-step max-statistic method (Westfall–Young): p_FWER = share of permutations whose max over tested pixels of |t*| reaches the pixel's |t|; significant where p_FWER ≤ ${alpha}`
      : `false discovery rate ≤ ${alpha} by Benjamini–Hochberg on the per-pixel permutation p-values of the tested pixels`,
    missing: `pixels that no patch reached in an image are missing there (not 0); a pixel is tested when each sample has ≥ ${minImages} images that measured it`,
  };
}
