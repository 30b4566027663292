/**
 * An engine session that replays known drops: every occlusion of a point of `dense` (looked up by
 * its canonical position) gives that point's drop, whatever sub-plan the loop is run over. Exact
 * for occlusion, where each forward pass occludes one patch, so a point's drop does not depend on
 * which other points are run: the sampling bench and the sampling tests drive the real loop and
 * the real sampling code (sampled.ts) with it. Counts the forward passes it answers.
 */
import { accumulateCis, type EngineSession, type OcclusionPlan, type OcclusionRun } from '../../src/index.js';

export interface ReplaySession extends EngineSession {
  /** Forward passes answered (unoccluded and occluded rows). */
  passes: number;
  /** Points of each run of the occlusion loop (one per round), in order. */
  rounds: number[];
}

export function replaySession(dense: OcclusionPlan, drops: Float32Array, baseline: number, batch = 32): ReplaySession {
  const index = new Map<string, number>();
  for (let n = 0; n < dense.count; n++) index.set(`${dense.canonical[2 * n]},${dense.canonical[2 * n + 1]}`, n);
  const session: ReplaySession = {
    engine: 'replay', batch, valuesPerImage: 1, passes: 0, rounds: [],
    async infer() { throw new Error('replay session: infer is not replayed'); },
    async timeInference() { return 0; },
    async openModel() { throw new Error('replay session: no other model'); },
    async dispose() { /* nothing held */ },
    async prepare(req): Promise<OcclusionRun> {
      const plan = req.plan;
      session.rounds.push(plan.count);
      const got = Float32Array.from({ length: plan.count }, (_, k) => {
        const n = index.get(`${plan.canonical[2 * k]},${plan.canonical[2 * k + 1]}`);
        if (n === undefined) throw new Error(`replay session: point ${k} is not a point of the dense plan`);
        return drops[n]!;
      });
      return {
        occlude() { /* the drops are known */ },
        async infer(_slot, rows) { session.passes += rows; return undefined; },
        score() { /* the drops are known */ },
        async gather() { return { ...accumulateCis(plan, got, baseline), baseline, drops: got }; },
        release() { /* nothing held */ },
      };
    },
  };
  return session;
}
