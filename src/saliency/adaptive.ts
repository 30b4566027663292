/**
 * Coarse-to-fine sampling of one image's dense occlusion points (issue 14, `--sampling adaptive`)
 * and the reconstruction of a CIS from a subset of its points.
 *
 * ## Reconstruction (imputation, then the dense accumulation)
 * A dense CIS is a box filter of the drop field: pixel q holds the mean drop of the dense points
 * whose patch covers q. With only some points measured, the coverage-normalised sum over the
 * measured patches (accumulateCis of the subset) is the same filter with holes: every pixel
 * averages fewer, farther patches, and the map shows the sampling lattice. Instead, the drop at each
 * unmeasured dense point is estimated from the measured drops around it, and the dense box filter
 * is then applied to the completed field. The drop field is smooth at the patch scale (a drop is
 * the effect of occluding a whole patch, ≈ 4 grid cells wide), so a local weighted mean of the
 * measured neighbours is accurate: normalised convolution with a Gaussian on the dense grid's
 * cells,
 *
 *     d̂(c) = Σ_j w(c − c_j) d_j / Σ_j w(c − c_j),   w(δ) = exp(−|δ|² / 2σ²)  over measured j,
 *
 * (truncated at 2.5σ) with the narrowest σ of IMPUTE_SIGMAS (in cells) whose weights sum to at
 * least IMPUTE_MIN_WEIGHT, so that densely measured regions keep their detail and sparse ones are
 * still filled. Measured points keep their measured drops. On csm-celeba100 narrower was better
 * (minimum weights 3, 1.5, 0.8, 0.5 gave stratified-1/8 CIS r 0.962, 0.973, 0.976, 0.977 for
 * emotion on 40 images, measured with the earlier 4 × 2 strata) and 0.5 is where it levelled off. The reconstruction is a pure function of the measured points and
 * drops (deterministic, so resume and merge stay exact); bench/sampling.ts measures how close it
 * comes to the dense CIS.
 *
 * ## Adaptive choice of points
 * Round 1 is a prefix of the image's stratified order (sampling.ts; ADAPTIVE_FIRST_SHARE of the
 * budget, sampled.ts): evenly spread over the face, and different for every image like
 * stratified sampling. Each later round measures the
 * unmeasured points where the reconstruction is least certain:
 *
 *     priority(c) = max − min of the measured drops within r(c) cells of c,
 *     r(c) = the (Chebyshev) distance from c to its nearest measured point,
 *
 * the local range at the scale of the gap: large on the edges of salient regions, where the
 * imputation errs most, and small where the points around are already dense. Ties go to the lower
 * plan index. Round sizes are whole batches of the engine (`batch`) except where the budget ends,
 * and every round is one ordinary run of the occlusion loop over a sub-plan (sampled.ts), so the
 * rounds are data: what the loop runs next is decided from the drops so far.
 */
import { CsmError } from '../errors.js';
import { accumulateCis } from './cis.js';
import type { CisMap, OcclusionPlan } from './types.js';

/** σ ladder of the imputation (dense-grid cells), narrowest first. */
export const IMPUTE_SIGMAS = [0.75, 1.25, 2, 3, 5] as const;
/** Farthest a refinement looks for measured neighbours (cells). */
const GAP_REACH = 8;

/** Least kernel weight an estimate must rest on before a wider σ is tried. */
export const IMPUTE_MIN_WEIGHT = 0.5;

/** Dense-grid cell of each plan point: round((u − o) / s), o = ⌊s/2⌋ + 0.5 (see sampling.ts). */
export function planCells(canonical: Float32Array, count: number, spacing: number): { cx: Int32Array; cy: Int32Array } {
  const o = Math.floor(spacing / 2) + 0.5;
  const cx = new Int32Array(count);
  const cy = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    cx[n] = Math.round((canonical[2 * n]! - o) / spacing);
    cy[n] = Math.round((canonical[2 * n + 1]! - o) / spacing);
  }
  return { cx, cy };
}

/** Plan points indexed by cell, for neighbourhood look-ups (several points per cell allowed). */
class CellIndex {
  readonly x0: number;
  readonly y0: number;
  readonly w: number;
  readonly h: number;
  /** Start of each cell's points in `points` (CSR layout). */
  readonly start: Int32Array;
  readonly points: Int32Array;

  constructor(readonly cx: Int32Array, readonly cy: Int32Array) {
    const n = cx.length;
    let [x0, y0, x1, y1] = [0, 0, 0, 0];
    if (n) {
      [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
      for (let k = 0; k < n; k++) {
        x0 = Math.min(x0, cx[k]!); x1 = Math.max(x1, cx[k]!);
        y0 = Math.min(y0, cy[k]!); y1 = Math.max(y1, cy[k]!);
      }
    }
    [this.x0, this.y0, this.w, this.h] = [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
    const counts = new Int32Array(this.w * this.h + 1);
    for (let k = 0; k < n; k++) counts[this.cell(cx[k]!, cy[k]!) + 1]!++;
    for (let c = 0; c < this.w * this.h; c++) counts[c + 1]! += counts[c]!;
    this.start = counts;
    this.points = new Int32Array(n);
    const fill = counts.slice(0, -1);
    for (let k = 0; k < n; k++) this.points[fill[this.cell(cx[k]!, cy[k]!)]!++] = k;
  }

  private cell(x: number, y: number): number {
    return (y - this.y0) * this.w + (x - this.x0);
  }

  /** Calls `f` for every point within `r` cells (Chebyshev) of point `n`, with its offset. */
  around(n: number, r: number, f: (j: number, dx: number, dy: number) => void): void {
    const [x, y] = [this.cx[n]!, this.cy[n]!];
    for (let yy = Math.max(this.y0, y - r); yy <= Math.min(this.y0 + this.h - 1, y + r); yy++) {
      for (let xx = Math.max(this.x0, x - r); xx <= Math.min(this.x0 + this.w - 1, x + r); xx++) {
        const c = this.cell(xx, yy);
        for (let p = this.start[c]!; p < this.start[c + 1]!; p++) f(this.points[p]!, xx - x, yy - y);
      }
    }
  }
}

/**
 * Completes a dense plan's drops from the measured ones (see the module comment): `measured[n]` = 1
 * where `drops[n]` was measured. Returns a new array; measured drops are kept as they are. A point
 * with no measured point within the widest σ's reach gets the mean measured drop.
 */
export function imputeDrops(plan: OcclusionPlan, spacing: number, measured: Uint8Array, drops: Float32Array): Float32Array {
  const { cx, cy } = planCells(plan.canonical, plan.count, spacing);
  const index = new CellIndex(cx, cy);
  const out = Float32Array.from(drops);
  let total = 0, seen = 0;
  for (let n = 0; n < plan.count; n++) if (measured[n]) { total += drops[n]!; seen++; }
  const fallback = seen ? total / seen : 0;
  const reach = Math.ceil(2.5 * IMPUTE_SIGMAS[IMPUTE_SIGMAS.length - 1]!);
  const near: [number, number][] = [];
  for (let n = 0; n < plan.count; n++) {
    if (measured[n]) continue;
    near.length = 0;
    index.around(n, reach, (j, dx, dy) => { if (measured[j]) near.push([dx * dx + dy * dy, drops[j]!]); });
    let value = fallback;
    for (const sigma of IMPUTE_SIGMAS) {
      const cut = (2.5 * sigma) ** 2;
      let w = 0, s = 0;
      for (const [r2, d] of near) {
        if (r2 > cut) continue;
        const k = Math.exp(-r2 / (2 * sigma * sigma));
        w += k; s += k * d;
      }
      if (w >= IMPUTE_MIN_WEIGHT || (sigma === IMPUTE_SIGMAS[IMPUTE_SIGMAS.length - 1] && w > 0)) { value = s / w; break; }
    }
    out[n] = value;
  }
  return out;
}

/**
 * The CIS of a dense plan of which only the points `indices` were measured (with `drops`, in that
 * order): imputation, then the dense accumulation. The map and counts are the dense plan's; the
 * returned `drops` are the measured ones (in `indices` order), so that they go with the sub-plan.
 */
export function reconstructCis(plan: OcclusionPlan, spacing: number, indices: ArrayLike<number>, drops: Float32Array, baseline: number): CisMap {
  if (indices.length !== drops.length) throw new CsmError(`reconstruction: ${indices.length} points but ${drops.length} drops`);
  const measured = new Uint8Array(plan.count);
  const full = new Float32Array(plan.count);
  for (let k = 0; k < indices.length; k++) { measured[indices[k]!] = 1; full[indices[k]!] = drops[k]!; }
  const cis = accumulateCis(plan, imputeDrops(plan, spacing, measured, full), baseline);
  return { ...cis, drops: Float32Array.from(drops) };
}

export interface AdaptiveOptions {
  /** Points to measure in all (the pass budget, without the unoccluded passes). */
  budget: number;
  /** The engine's batch: every round but the last holds a whole number of batches. */
  batch: number;
  /** Points of round 1 (a stratum of the dense grid, see sampling.ts). */
  first: number[];
  /** Refinement rounds after round 1 (fewer when the batch is large); default 4. */
  rounds?: number;
}

/**
 * Chooses an image's points round by round from the drops measured so far (see the module
 * comment). `next()` gives the plan indices to measure next (undefined when the budget is spent),
 * `record()` takes their drops. Deterministic: the same drops give the same rounds.
 */
export class AdaptivePlanner {
  readonly measured: Uint8Array;
  readonly drops: Float32Array;
  /** Measured plan indices in measuring order. */
  readonly order: number[] = [];
  readonly #budget: number;
  readonly #roundSize: number;
  readonly #index: CellIndex;
  #pending: number[] | undefined;
  #started = false;

  constructor(readonly plan: OcclusionPlan, readonly spacing: number, readonly options: AdaptiveOptions) {
    if (!Number.isInteger(options.budget) || options.budget < 1) throw new CsmError(`adaptive sampling needs a budget of at least 1 point, got ${options.budget}`);
    this.measured = new Uint8Array(plan.count);
    this.drops = new Float32Array(plan.count);
    this.#budget = Math.min(options.budget, plan.count);
    const { cx, cy } = planCells(plan.canonical, plan.count, spacing);
    this.#index = new CellIndex(cx, cy);
    const rest = Math.max(0, this.#budget - Math.min(options.first.length, this.#budget));
    const rounds = Math.max(1, options.rounds ?? 4);
    this.#roundSize = Math.max(options.batch, Math.ceil(rest / rounds / options.batch) * options.batch);
  }

  /** The next round's plan indices, or undefined when the budget is spent. */
  next(): number[] | undefined {
    if (this.#pending) throw new CsmError('adaptive sampling: record() the last round before asking for the next');
    const left = this.#budget - this.order.length;
    if (left <= 0) return undefined;
    let round: number[];
    if (!this.#started) {
      this.#started = true;
      round = this.options.first.slice(0, left);
    } else {
      round = this.#refine(Math.min(this.#roundSize, left));
    }
    if (!round.length) return undefined;
    this.#pending = round;
    return round;
  }

  /** The drops of the round `next()` gave, in its order. */
  record(drops: Float32Array): void {
    const round = this.#pending;
    if (!round) throw new CsmError('adaptive sampling: no round to record');
    if (drops.length !== round.length) throw new CsmError(`adaptive sampling: ${round.length} points but ${drops.length} drops`);
    round.forEach((n, i) => { this.measured[n] = 1; this.drops[n] = drops[i]!; this.order.push(n); });
    this.#pending = undefined;
  }

  /** The measured drops in measuring order (as `order`). */
  measuredDrops(): Float32Array {
    return Float32Array.from(this.order, (n) => this.drops[n]!);
  }

  #refine(want: number): number[] {
    const scored: [number, number][] = [];
    for (let n = 0; n < this.plan.count; n++) {
      if (this.measured[n]) continue;
      let gap = Infinity;
      this.#index.around(n, GAP_REACH, (j, dx, dy) => { if (this.measured[j]) gap = Math.min(gap, Math.max(Math.abs(dx), Math.abs(dy))); });
      let lo = Infinity, hi = -Infinity;
      this.#index.around(n, Number.isFinite(gap) ? gap : GAP_REACH, (j) => {
        if (!this.measured[j]) return;
        const d = this.drops[j]!;
        if (d < lo) lo = d;
        if (d > hi) hi = d;
      });
      scored.push([n, hi > lo ? hi - lo : 0]);
    }
    scored.sort((p, q) => q[1] - p[1] || p[0] - q[0]);
    return scored.slice(0, want).map((s) => s[0]);
  }
}
