/**
 * Fewer forward passes for the same map (issue 14): which of an image's dense occlusion points are
 * run, decided as part of the plan (the plan is data; the occlusion loop does not change).
 *
 * - `grid`: every point of the plan (the dense grid of `--stride`), as before.
 * - `stratified`: each image runs an evenly spread share of the dense points, in a fixed order:
 *
 *       cell (cx, cy) = round((u − o) / s), round((v − o) / s)   (s: the dense grid's spacing,
 *                                                                  o = ⌊s/2⌋ + 0.5 its origin)
 *       offset (ox, oy) = bytes 0 and 1 of SHA-256("csm-stratum:" + key), each mod 8,
 *       key = the item's file name (the part after the last / or \\, "#N" kept), so that the
 *       choice does not change with how the folder is spelled (./imgs, /abs/imgs) or moved;
 *       a pair's key is its two file names joined by "|"
 *       rank(point) = B((cx − ox) mod 8, (cy − oy) mod 8),  B the 8 × 8 Bayer matrix (0 … 63)
 *
 *   `--keep 1/k` (k = 2 … 64) runs the points of rank < 64/k: in every 8 × 8 tile of cells the same
 *   64/k positions, which the Bayer matrix spreads as a regular lattice (k = 4: every second cell
 *   in x and y; k = 2, 8, 32: the quincunx between), so each image's points cover the whole face.
 *   `--points N` runs the first N points in order of (rank, tile order, plan index), the tile order
 *   a fixed hash of the tile: whole lattices first, then the next lattice's points spread over the
 *   face. Images differ by their offset, so across a data set every dense point is run by about
 *   1/k of the images.
 * - `adaptive` (adaptive.ts, sampled.ts): the first 3/4 of the `--points` budget in stratified order, then
 *   rounds chosen from the drops measured so far.
 *
 * A sampled image's CIS is reconstructed on the dense plan (adaptive.ts reconstructCis: the
 * unmeasured drops imputed from the measured ones, then the dense accumulation), so it covers the
 * face like a dense CIS and the CMS stays sum / images (Eq. 6). Everything is a function of the
 * item's name and of the drops, hence resumable and mergeable exactly like grid runs; the
 * parameters are recorded in the sidecar params, which are the checkpoint fingerprint, so resume
 * and merge refuse a different sampling.
 */
import { createHash } from 'node:crypto';
import { CsmError } from '../errors.js';
import { planCells } from './adaptive.js';
import type { OcclusionPlan } from './types.js';

export type SamplingKind = 'grid' | 'stratified' | 'adaptive';

/** Stratified: `keep` = k (1/k of the points) or `points` = N per image; adaptive: `points` = N per image. */
export type Sampling = { kind: 'grid' } | { kind: 'stratified'; keep: number } | { kind: 'stratified'; points: number } | { kind: 'adaptive'; points: number };

export const GRID: Sampling = { kind: 'grid' };

/** The k values `--keep 1/k` accepts. */
export const STRATIFIED_KEEPS = [2, 4, 8, 16, 32, 64] as const;

/**
 * The share `--sampling stratified` keeps without --keep or --points, and csm cms's default
 * sampling: on csm-celeba100 (bench/results/sampling-celeba100.md) 1/4 kept the CMS at mean
 * r ≥ 0.993 to the dense CMS from 25 images on for emotion and gender (95 % of random 25-image
 * sets ≥ 0.989), where 1/8 gets there only from 50 images (gender at 25: 0.990 [0.985, 0.995]);
 * 1/2 kept r ≥ 0.998 from 10 images on.
 */
export const DEFAULT_KEEP = 4;

/** Side of the tile the Bayer ranks repeat over (cells). */
export const BAYER_SIZE = 8;

/** Parses `--keep 1/k` (or `k`): the share of the dense points each image runs. */
export function parseKeep(text: string): number {
  const m = /^(?:1\/)?(\d+)$/.exec(text.trim());
  const k = m ? Number(m[1]) : NaN;
  if (!(STRATIFIED_KEEPS as readonly number[]).includes(k)) {
    throw new CsmError(`--keep takes 1/k with k one of ${STRATIFIED_KEEPS.join(', ')}, got "${text}"`);
  }
  return k;
}

/** Parses `--points N`: forward passes per image for the occlusions (a whole number ≥ 1). */
export function parsePoints(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) throw new CsmError(`--points takes a whole number of occlusions per image (at least 1), got "${text}"`);
  return n;
}

/**
 * The Bayer (ordered-dither) matrix of side 2^m: B_1 = [[0, 2], [3, 1]], B_2n = [[4B, 4B + 2],
 * [4B + 3, 4B + 1]]. Its entries below 4^j form a square lattice of spacing 2^(m−j), those below
 * 2 · 4^j the quincunx between: every share 1/k of a tile is spread evenly.
 */
export function bayerMatrix(side: number): Int32Array {
  if (side === 1) return Int32Array.of(0);
  const half = side / 2;
  const b = bayerMatrix(half);
  const out = new Int32Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const q = 4 * b[(y % half) * half + (x % half)]!;
      out[y * side + x] = q + [0, 2, 3, 1][(y >= half ? 2 : 0) + (x >= half ? 1 : 0)]!;
    }
  }
  return out;
}

const BAYER = bayerMatrix(BAYER_SIZE);

/** An item's stratum key: its file name (the text after the last / or \\). */
export function stratumKey(item: string): string {
  return item.split(/[\\/]/).pop()!;
}

/** An image's lattice offset from its key (see stratumKey): bytes 0 and 1 of SHA-256("csm-stratum:" + key), mod 8. */
export function imageOffset(key: string): [number, number] {
  const h = createHash('sha256').update(`csm-stratum:${key}`, 'utf8').digest();
  return [h[0]! % BAYER_SIZE, h[1]! % BAYER_SIZE];
}

/** A fixed 32-bit hash of a tile (spreads a partial lattice over the face). */
function tileHash(tx: number, ty: number): number {
  let h = Math.imul(tx ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(ty ^ 0xc2b2ae35, 0x27d4eb2f);
  h ^= h >>> 15; h = Math.imul(h, 0x2c1b3c6d); h ^= h >>> 12;
  return h >>> 0;
}

/**
 * The Bayer rank (0 … 63) of each plan point for an image offset (see the module comment).
 * `spacing` is the dense grid's spacing s in canonical pixels (csm's own mesh: the stride); for
 * points not on a grid (external alignments) pass the mean spacing, √(bounding box area / count).
 */
export function pointRanks(canonical: Float32Array, count: number, spacing: number, offset: [number, number]): Uint8Array {
  const { cx, cy } = planCells(canonical, count, spacing);
  const m = (v: number): number => ((v % BAYER_SIZE) + BAYER_SIZE) % BAYER_SIZE;
  return Uint8Array.from({ length: count }, (_, n) => BAYER[m(cy[n]! - offset[1]) * BAYER_SIZE + m(cx[n]! - offset[0])]!);
}

/**
 * An image's dense points in stratified order: by rank, then by tile hash, then by plan index.
 * The first ⌈count/k⌉-ish points (rank < 64/k) are the 1/k lattice; any prefix is spread evenly.
 */
export function stratifiedOrder(plan: OcclusionPlan, spacing: number, key: string): { order: number[]; ranks: Uint8Array } {
  const offset = imageOffset(key);
  const ranks = pointRanks(plan.canonical, plan.count, spacing, offset);
  const { cx, cy } = planCells(plan.canonical, plan.count, spacing);
  const tile = Uint32Array.from({ length: plan.count }, (_, n) => tileHash(Math.floor((cx[n]! - offset[0]) / BAYER_SIZE), Math.floor((cy[n]! - offset[1]) / BAYER_SIZE)));
  const order = Array.from({ length: plan.count }, (_, n) => n);
  order.sort((a, b) => ranks[a]! - ranks[b]! || tile[a]! - tile[b]! || a - b);
  return { order, ranks };
}

/** The plan indices a stratified sampling runs for an image (in stratified order). */
export function stratifiedIndices(plan: OcclusionPlan, sampling: Extract<Sampling, { kind: 'stratified' }>, spacing: number, key: string): number[] {
  const { order, ranks } = stratifiedOrder(plan, spacing, key);
  if ('keep' in sampling) return order.filter((n) => ranks[n]! < (BAYER_SIZE * BAYER_SIZE) / sampling.keep);
  return order.slice(0, Math.min(sampling.points, plan.count));
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

/** What the sidecar params record (absent for grid, so grid runs keep their old fingerprint). */
export function samplingParams(sampling: Sampling | undefined): Record<string, unknown> | undefined {
  if (!sampling || sampling.kind === 'grid') return undefined;
  const order = 'rank = 8×8 Bayer matrix at the dense-grid cell minus the image offset (SHA-256("csm-stratum:" + file name) bytes 0, 1 mod 8); order = (rank, tile hash, plan index)';
  const reconstruction = 'unmeasured drops imputed (Gaussian normalised convolution on the dense grid), then the dense accumulation; CMS = sum / images';
  if (sampling.kind === 'stratified') {
    return 'keep' in sampling
      ? { kind: 'stratified', keep: `1/${sampling.keep}`, rule: `points of rank < ${64 / sampling.keep}; ${order}`, reconstruction }
      : { kind: 'stratified', points: sampling.points, rule: `the first ${sampling.points} points; ${order}`, reconstruction };
  }
  return {
    kind: 'adaptive', points: sampling.points,
    rule: `round 1: the first 3/4 of the points (whole batches) in stratified order (${order}); then rounds of whole batches by the local range of the measured drops at the scale of the gap (adaptive.ts)`,
    reconstruction,
  };
}
