/**
 * The occlusion loop, once for every engine (design.md, "One loop, many engines"): plan → batches →
 * scores → drops → canonical accumulation. Engines supply primitives (engine/types.ts
 * OcclusionRun); everything that must be the same on every engine lives here: validation of the
 * request, the double-buffered batch schedule, and the check that no score is NaN or infinite.
 * Score-CAM and plain image-space occlusion use the same schedule (`runBatches`).
 */
import { CsmError, ModelError } from '../errors.js';
import type { CisRequest, EngineSession } from '../engine/types.js';
import type { CisMap } from './types.js';

/** What the batch schedule drives: build a batch into a slot, run it, consume its outputs. */
export interface BatchSteps<Out> {
  /** Fills slot `slot` with items [first, first + rows). Runs while the other slot is inferred. */
  build(slot: 0 | 1, first: number, rows: number): void;
  infer(slot: 0 | 1, rows: number): Promise<Out>;
  /** Takes the outputs of items [first, first + rows). */
  consume(out: Out, first: number, rows: number): void;
}

/**
 * A pass in flight whose error is still delivered to its `await`, but which does not become an
 * unhandled rejection (fatal in Node) if building the next batch throws first.
 */
function started<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * `count` items in batches of at most `capacity`, double buffered: batch k + 1 is built while
 * batch k's forward pass runs, and batch k's outputs are consumed before batch k + 1 is started,
 * so a slot is never rebuilt while a pass still reads it. Items are consumed in order.
 */
export async function runBatches<Out>(count: number, capacity: number, steps: BatchSteps<Out>): Promise<void> {
  if (!Number.isInteger(capacity) || capacity < 1) throw new CsmError(`batch must be a positive whole number, got ${capacity}`);
  if (count <= 0) return;
  let rows = Math.min(capacity, count);
  steps.build(0, 0, rows);
  let pending: { slot: 0 | 1; first: number; rows: number; out: Promise<Out> } | undefined = { slot: 0, first: 0, rows, out: started(steps.infer(0, rows)) };
  while (pending) {
    const first: number = pending.first + pending.rows;
    const slot: 0 | 1 = pending.slot === 0 ? 1 : 0;
    rows = Math.min(capacity, count - first);
    if (first < count) steps.build(slot, first, rows);
    steps.consume(await pending.out, pending.first, pending.rows);
    pending = first < count ? { slot, first, rows, out: started(steps.infer(slot, rows)) } : undefined;
  }
}

/** Throws a ModelError naming the output when a score is NaN or infinite. */
export function checkFinite(values: ArrayLike<number>, what: string, engine: string): void {
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    if (!Number.isFinite(v)) throw new ModelError(`[${engine}] the model gave a non-finite score (${v}) on ${what}`);
  }
}

/** Checks a request against the session before any work: sizes of the input(s) and pair plans. */
function validate(session: EngineSession, req: CisRequest): void {
  const per = session.valuesPerImage;
  if (req.input.length !== per) throw new CsmError(`input tensor has ${req.input.length} values; the model takes ${per}`);
  if (req.pair) {
    if (req.pair.input.length !== per) throw new CsmError(`the pair's second input tensor has ${req.pair.input.length} values; the model takes ${per}`);
    if (req.pair.plan.count !== req.plan.count) throw new CsmError('the two images of a pair need plans over the same canonical points');
    if (req.source) throw new CsmError('a pair is explained from its input tensors, not from a photo source');
  }
  if (req.score.pair && !req.pair) throw new CsmError('a verification score needs the pair\'s second image');
}

/** Algorithm 1 for one image on `session`: every plan point occluded, scored and painted on the canonical grid. */
export async function computeCis(session: EngineSession, req: CisRequest): Promise<CisMap> {
  validate(session, req);
  const run = await session.prepare(req);
  try {
    run.score(await run.infer('input', 1), 'baseline', 1);
    await runBatches(req.plan.count, session.batch, {
      build: (slot, first, rows) => run.occlude(slot, first, rows),
      infer: (slot, rows) => run.infer(slot, rows),
      consume: (out, first, rows) => run.score(out, first, rows),
    });
    const g = await run.gather();
    const what = `output "${req.score.output}"`;
    checkFinite([g.baseline], what, session.engine);
    checkFinite(g.drops, what, session.engine);
    if (g.drops.length !== req.plan.count || g.map.length !== req.plan.canonicalSize ** 2) {
      throw new CsmError(`[${session.engine}] returned ${g.drops.length} drops and ${g.map.length} map pixels for a plan of ${req.plan.count} points on a ${req.plan.canonicalSize}² grid`);
    }
    return { size: req.plan.canonicalSize, ...g };
  } finally {
    run.release();
  }
}
