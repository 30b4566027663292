/**
 * Fewer forward passes for the same map (issue 14): which of an image's dense occlusion points are
 * run, decided as part of the plan (the plan is data; the occlusion loop does not change).
 *
 * - `grid`: every point of the plan (the dense grid of `--stride`), as before.
 * - `stratified` with `keep` = k: every dense point belongs to one of k strata by its canonical
 *   position alone, and each image runs only the points of ONE stratum, chosen from its id:
 *
 *       cell (cx, cy) = round((u − o) / s), round((v − o) / s)   (s: the dense grid's spacing,
 *                                                                  o = ⌊s/2⌋ + 0.5 its origin)
 *       tile shape a × b with a · b = k (a = 2^⌈log2 k / 2⌉: 2→2×1, 4→2×2, 8→4×2, 16→4×4)
 *       stratum(point) = (cx mod a) + a · (cy mod b)
 *       stratum(image) = uint32be(first 4 bytes of SHA-256("csm-stratum:" + key)) mod k,
 *       key = the item's file name (the part after the last / or \\, "#N" kept), so that the
 *       stratum does not change with how the folder is spelled (./imgs, /abs/imgs) or moved;
 *       a pair's key is its two file names joined by "|"
 *
 *   So a stratum is the dense grid thinned to a regular lattice of spacing a·s × b·s (one cell per
 *   tile), shifted by its offset inside the tile: every image's points are spread evenly over the
 *   whole face, and the k strata partition the dense points, so across a data set every dense
 *   point is run by about 1/k of the images. With the default geometry (canonical patch ≈ 17 px at
 *   H_F 256, s = 4) one stratum's patches still tile the face for k ≤ 16 (a·s ≤ 16 < 17), so each
 *   sampled CIS covers the face like a dense one and per-pixel coverage stays ≈ the image count.
 *   Deterministic (no state: a function of the id and the canonical positions), hence resumable
 *   and mergeable exactly like grid runs; the parameters are recorded in the sidecar params, which
 *   are the checkpoint fingerprint, so resume and merge refuse a different sampling.
 */
import { createHash } from 'node:crypto';
import { CsmError } from '../errors.js';
import type { OcclusionPlan } from './types.js';

export type SamplingKind = 'grid' | 'stratified';

export type Sampling = { kind: 'grid' } | { kind: 'stratified'; keep: number };

export const GRID: Sampling = { kind: 'grid' };

/** The k values `--sampling stratified --keep 1/k` accepts. */
export const STRATIFIED_KEEPS = [2, 4, 8, 16, 32, 64] as const;

/** Parses `--keep 1/k` (or `k`): the share of the dense points each image runs. */
export function parseKeep(text: string): number {
  const m = /^(?:1\/)?(\d+)$/.exec(text.trim());
  const k = m ? Number(m[1]) : NaN;
  if (!(STRATIFIED_KEEPS as readonly number[]).includes(k)) {
    throw new CsmError(`--keep takes 1/k with k one of ${STRATIFIED_KEEPS.join(', ')}, got "${text}"`);
  }
  return k;
}

/** Tile shape a × b (a · b = k, both powers of two, a ≥ b). */
export function tileShape(k: number): [number, number] {
  if (!Number.isInteger(k) || k < 1 || (k & (k - 1)) !== 0) throw new CsmError(`stratified sampling needs k a power of two, got ${k}`);
  const a = 2 ** Math.ceil(Math.log2(k) / 2);
  return [a, k / a];
}

/** An item's stratum key: its file name (the text after the last / or \\). */
export function stratumKey(item: string): string {
  return item.split(/[\\/]/).pop()!;
}

/** The stratum of an image from its key (see stratumKey): SHA-256("csm-stratum:" + key), first 4 bytes big-endian, mod k. */
export function imageStratum(key: string, k: number): number {
  return createHash('sha256').update(`csm-stratum:${key}`, 'utf8').digest().readUInt32BE(0) % k;
}

/**
 * The stratum of each point of a plan from its canonical position (see the module comment).
 * `spacing` is the dense grid's spacing s in canonical pixels (csm's own mesh: the stride); for
 * points not on a grid (external alignments) pass the mean spacing, √(bounding box area / count).
 */
export function pointStrata(canonical: Float32Array, count: number, k: number, spacing: number): Uint8Array {
  const [a, b] = tileShape(k);
  const o = Math.floor(spacing / 2) + 0.5;
  const out = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const cx = Math.round((canonical[2 * n]! - o) / spacing);
    const cy = Math.round((canonical[2 * n + 1]! - o) / spacing);
    out[n] = (((cx % a) + a) % a) + a * (((cy % b) + b) % b);
  }
  return out;
}

/** Mean spacing of scattered points: √(bounding-box area / finite points) (at least 1; non-finite points skipped). */
export function meanSpacing(canonical: Float32Array, count: number): number {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  let finite = 0;
  for (let n = 0; n < count; n++) {
    const u = canonical[2 * n]!, v = canonical[2 * n + 1]!;
    if (!Number.isFinite(u) || !Number.isFinite(v)) continue;
    finite++;
    if (u < x0) x0 = u; if (u > x1) x1 = u;
    if (v < y0) y0 = v; if (v > y1) y1 = v;
  }
  return finite > 1 ? Math.max(1, Math.sqrt(((x1 - x0) * (y1 - y0)) / finite)) : 1;
}

/** The plan restricted to the given point indices (in that order): same geometry, fewer points. */
export function subPlan(plan: OcclusionPlan, indices: ArrayLike<number>): OcclusionPlan {
  const count = indices.length;
  const centres = new Float32Array(2 * count);
  const canonical = new Float32Array(2 * count);
  const inputRects = new Int32Array(4 * count);
  const canonicalRects = new Int32Array(4 * count);
  for (let k = 0; k < count; k++) {
    const n = indices[k]!;
    centres.set(plan.centres.subarray(2 * n, 2 * n + 2), 2 * k);
    canonical.set(plan.canonical.subarray(2 * n, 2 * n + 2), 2 * k);
    inputRects.set(plan.inputRects.subarray(4 * n, 4 * n + 4), 4 * k);
    canonicalRects.set(plan.canonicalRects.subarray(4 * n, 4 * n + 4), 4 * k);
  }
  return { ...plan, count, centres, canonical, inputRects, canonicalRects };
}

/** Indices of the plan points in `stratum`. */
export function stratumIndices(strata: Uint8Array, stratum: number): number[] {
  const out: number[] = [];
  for (let n = 0; n < strata.length; n++) if (strata[n] === stratum) out.push(n);
  return out;
}

/**
 * Applies a sampling to an image's dense plan: grid returns it unchanged; stratified keeps the
 * points of the image's stratum (from `id`, an item path: see stratumKey; a pair: "a|b"). `spacing`: the dense grid's spacing (see pointStrata).
 */
export function samplePlan(plan: OcclusionPlan, sampling: Sampling | undefined, id: string, spacing: number): OcclusionPlan {
  if (!sampling || sampling.kind === 'grid') return plan;
  const strata = pointStrata(plan.canonical, plan.count, sampling.keep, spacing);
  return subPlan(plan, stratumIndices(strata, imageStratum(stratumKey(id), sampling.keep)));
}

/** Whether a run's CMS is written as sum / coverage (stratified) rather than sum / images. */
export function usesCoveredMean(sampling: Sampling | undefined): boolean {
  return sampling?.kind === 'stratified';
}

/** What the sidecar params record (absent for grid, so grid runs keep their old fingerprint). */
export function samplingParams(sampling: Sampling | undefined): Record<string, unknown> | undefined {
  if (!sampling || sampling.kind === 'grid') return undefined;
  const [a, b] = tileShape(sampling.keep);
  return {
    kind: 'stratified', keep: `1/${sampling.keep}`,
    rule: `point stratum = (cx mod ${a}) + ${a}·(cy mod ${b}) of its dense-grid cell; image stratum = uint32be(SHA-256("csm-stratum:" + file name)[0..4]) mod ${sampling.keep}`,
    cms: 'sum / coverage per pixel (the mean over the images whose sampled CIS covers the pixel)',
  };
}

/**
 * Adaptive sampling (issue 14, experimental: benchmarked, not yet a `--sampling` choice, since it
 * needs the occlusion loop to run in rounds): a coarse stratum first (stratum 0 of `coarse` = k,
 * spacing √k·s), then rounds of `batch` points (full batches) until `budget` points are measured.
 * Each round takes the unmeasured dense points with the highest priority
 *
 *     priority(c) = max |d_j| + (max d_j − min d_j)   over measured points j within `radius` cells,
 *
 * i.e. near large drops and where neighbouring drops differ most (edges of salient regions); ties
 * go to the lower plan index, so the choice is deterministic. `measure` returns the drops of the
 * points it is given (an engine run, or known drops in the bench: a drop does not depend on which
 * other points are occluded). Returns the measured indices in measuring order and their drops.
 */
export async function adaptiveSample(
  plan: OcclusionPlan, spacing: number, budget: number, measure: (indices: number[]) => Float32Array | Promise<Float32Array>,
  options: { coarse?: number; batch?: number; radius?: number } = {},
): Promise<{ indices: number[]; drops: Float32Array; rounds: number }> {
  const coarse = options.coarse ?? 16;
  const batch = options.batch ?? 128;
  const [a] = tileShape(coarse);
  const radius = options.radius ?? a;
  const o = Math.floor(spacing / 2) + 0.5;
  const cells = new Map<number, number>();
  const cx = new Int32Array(plan.count);
  const cy = new Int32Array(plan.count);
  const KEY = 1 << 16;
  for (let n = 0; n < plan.count; n++) {
    cx[n] = Math.round((plan.canonical[2 * n]! - o) / spacing);
    cy[n] = Math.round((plan.canonical[2 * n + 1]! - o) / spacing);
    cells.set((cy[n]! + KEY / 2) * KEY + cx[n]! + KEY / 2, n);
  }
  const drop = new Float64Array(plan.count);
  const measured = new Uint8Array(plan.count);
  const order: number[] = [];
  const take = async (idx: number[]): Promise<void> => {
    const d = await measure(idx);
    idx.forEach((n, i) => { drop[n] = d[i]!; measured[n] = 1; order.push(n); });
  };
  const first = stratumIndices(pointStrata(plan.canonical, plan.count, coarse, spacing), 0);
  await take(first.slice(0, Math.min(first.length, budget)));
  let rounds = 1;
  while (order.length < Math.min(budget, plan.count)) {
    const want = Math.min(batch, budget - order.length, plan.count - order.length);
    const scored: [number, number][] = [];
    for (let n = 0; n < plan.count; n++) {
      if (measured[n]) continue;
      let maxAbs = 0, lo = Infinity, hi = -Infinity, any = false;
      for (let dy = -radius; dy <= radius; dy++) {
        for (let dx = -radius; dx <= radius; dx++) {
          const j = cells.get((cy[n]! + dy + KEY / 2) * KEY + cx[n]! + dx + KEY / 2);
          if (j === undefined || !measured[j]) continue;
          any = true;
          const d = drop[j]!;
          if (Math.abs(d) > maxAbs) maxAbs = Math.abs(d);
          if (d < lo) lo = d;
          if (d > hi) hi = d;
        }
      }
      scored.push([n, any ? maxAbs + (hi - lo) : Infinity]);
    }
    scored.sort((p, q) => q[1] - p[1] || p[0] - q[0]);
    await take(scored.slice(0, want).map((s) => s[0]));
    rounds++;
  }
  return { indices: order, drops: Float32Array.from(order, (n) => drop[n]!), rounds };
}
