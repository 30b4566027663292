/**
 * How busy the inference engine is: the wall time during which at least one forward pass of a
 * session is in flight. A session wrapped by {@link meterSession} reports every `infer` (its own,
 * and those of the occlusion runs it prepares) to a {@link BusyMeter}; busy / wall is the share of
 * the run the engine worked, which is what pipelining the front end and the outputs is for.
 */
import type { EngineSession, OcclusionRun } from '../engine/types.js';

export class BusyMeter {
  private inFlight = 0;
  private since = 0;
  private total = 0;
  /** Forward passes started. */
  passes = 0;

  begin(): void {
    if (this.inFlight++ === 0) this.since = performance.now();
    this.passes++;
  }

  end(): void {
    if (--this.inFlight === 0) this.total += performance.now() - this.since;
  }

  /** Seconds with at least one pass in flight (up to now). */
  get busySeconds(): number {
    return (this.total + (this.inFlight > 0 ? performance.now() - this.since : 0)) / 1000;
  }

  reset(): void {
    this.total = 0;
    this.passes = 0;
    if (this.inFlight > 0) this.since = performance.now();
  }

  /** Runs `pass` as one forward pass. */
  async time<T>(pass: () => Promise<T>): Promise<T> {
    this.begin();
    try {
      return await pass();
    } finally {
      this.end();
    }
  }
}

/** `session` with every forward pass reported to `meter`; everything else passes through. */
export function meterSession(session: EngineSession, meter: BusyMeter): EngineSession {
  const meterRun = (run: OcclusionRun): OcclusionRun => ({
    occlude: (slot, first, rows) => run.occlude(slot, first, rows),
    infer: (slot, rows) => meter.time(() => run.infer(slot, rows)),
    score: (out, target, rows) => run.score(out, target, rows),
    gather: () => run.gather(),
    release: () => run.release(),
  });
  return {
    get engine() { return session.engine; },
    get batch() { return session.batch; },
    get valuesPerImage() { return session.valuesPerImage; },
    infer: (inputs, rows, outputs) => meter.time(() => session.infer(inputs, rows, outputs)),
    timeInference: (image, batches, output) => session.timeInference(image, batches, output),
    openModel: (model, options) => session.openModel(model, options),
    prepare: async (request) => meterRun(await session.prepare(request)),
    dispose: () => session.dispose(),
  };
}
