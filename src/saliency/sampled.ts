/**
 * One image's CIS under a sampling (sampling.ts): which of the dense plan's points the occlusion
 * loop runs, and the CIS reconstructed from their drops (adaptive.ts reconstructCis).
 *
 * Every round is one ordinary call of the occlusion loop (loop.ts computeCis) over a sub-plan of
 * the dense plan: stratified sampling is one round, adaptive sampling several, each decided from
 * the drops of the rounds before it (AdaptivePlanner). So the loop, its batching and its checks
 * stay the one loop of every engine; a round costs one extra unoccluded pass (the baseline φ(I),
 * which the loop measures first), counted in `passes`.
 */
import { CsmError } from '../errors.js';
import type { CisRequest, EngineSession } from '../engine/types.js';
import { AdaptivePlanner, reconstructCis } from './adaptive.js';
import { computeCis } from './loop.js';
import { stratifiedIndices, stratifiedOrder, subPlan, type Sampling } from './sampling.js';
import type { CisMap, OcclusionPlan } from './types.js';

/**
 * Share of an adaptive budget spent on round 1 (the stratified prefix); the rest is refined. On
 * csm-celeba100 (40 images) a larger first share was better at every budget (264 points, CIS r
 * emotion / gender: 1/2 0.959 / 0.940, 3/4 0.972 / 0.956, 9/10 0.975 / 0.961), i.e. the
 * refinement rounds did not beat more of the even lattice; 3/4 keeps a real refinement.
 */
export const ADAPTIVE_FIRST_SHARE = 0.75;

export interface SampledCis {
  /** The points run, as a sub-plan of the dense plan (in the order they were run). */
  plan: OcclusionPlan;
  /** The CIS: the dense plan's map and counts (reconstructed when sampled); `drops` go with `plan`. */
  cis: CisMap;
  /** Forward passes spent: the occlusions and one unoccluded pass per round. */
  passes: number;
  /** Rounds of the occlusion loop (1 unless adaptive). */
  rounds: number;
}

/** The request restricted to plan points `indices` (a pair's second plan too: the plans are aligned). */
function subRequest(req: CisRequest, indices: number[]): CisRequest {
  return { ...req, plan: subPlan(req.plan, indices), ...(req.pair ? { pair: { ...req.pair, plan: subPlan(req.pair.plan, indices) } } : {}) };
}

/**
 * Runs `req` (a dense plan) under `sampling` for the item `key` (see sampling.ts stratumKey).
 * `spacing`: the dense grid's spacing in canonical pixels (see sampling.ts pointRanks).
 */
export async function sampledCis(session: EngineSession, req: CisRequest, sampling: Sampling | undefined, key: string, spacing: number): Promise<SampledCis> {
  if (!sampling || sampling.kind === 'grid') return { plan: req.plan, cis: await computeCis(session, req), passes: req.plan.count + 1, rounds: 1 };
  const dense = req.plan;
  if (sampling.kind === 'stratified') {
    const indices = stratifiedIndices(dense, sampling, spacing, key);
    const run = await computeCis(session, subRequest(req, indices));
    return { plan: subPlan(dense, indices), cis: reconstructCis(dense, spacing, indices, run.drops, run.baseline), passes: indices.length + 1, rounds: 1 };
  }
  // Adaptive: round 1 is the first 3/4 of the budget in stratified order (whole batches), the
  // rest is chosen round by round from the drops.
  const budget = Math.min(sampling.points, dense.count);
  const batch = session.batch;
  const first = Math.min(budget, Math.max(batch, Math.round((ADAPTIVE_FIRST_SHARE * budget) / batch) * batch));
  const planner = new AdaptivePlanner(dense, spacing, { budget, batch, first: stratifiedOrder(dense, spacing, key).order.slice(0, first) });
  let baseline: number | undefined;
  let rounds = 0;
  for (let round = planner.next(); round; round = planner.next()) {
    const run = await computeCis(session, subRequest(req, round));
    // The same unoccluded input every round: a different φ(I) would mean a nondeterministic engine.
    if (baseline !== undefined && Math.abs(run.baseline - baseline) > 1e-4 * Math.max(1, Math.abs(baseline))) {
      throw new CsmError(`[${session.engine}] the unoccluded score changed between adaptive rounds (${baseline} then ${run.baseline})`);
    }
    baseline ??= run.baseline;
    planner.record(run.drops);
    rounds++;
  }
  const drops = planner.measuredDrops();
  return { plan: subPlan(dense, planner.order), cis: reconstructCis(dense, spacing, planner.order, drops, baseline!), passes: planner.order.length + rounds, rounds };
}
