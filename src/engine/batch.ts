/**
 * Choosing the batch (occluded copies per forward pass) by measurement. Throughput against batch
 * size is not monotone: on 2 CPU cores a ResNet-18 ran ~13 % faster at batch 8 than at 55 (cache
 * size), while a GPU wants large batches. So `--batch auto` times pure inference of each candidate
 * batch on the session itself, the way the loop feeds it (EngineSession.timeInference), for a short
 * fixed budget, and keeps the fastest per forward pass.
 */
import type { EngineSession } from './types.js';

export interface BatchTuning {
  /** The batch chosen. */
  batch: number;
  /** Measured forward passes per second for each candidate tried. */
  passesPerSecond: Record<string, number>;
  /** Seconds the measurement took. */
  seconds: number;
}

/** Candidates: powers of two up to `max` (the engine's memory-based default), and `max` itself. */
export function batchCandidates(max: number): number[] {
  const out: number[] = [];
  for (let b = 4; b < max; b *= 2) out.push(b);
  out.push(max);
  return out;
}

/**
 * Times each candidate for about `budgetSeconds / candidates` (at least two batches each, after one
 * warm-up batch) on `input` (one image's tensor: content does not change the cost), sets
 * `session.batch` to the fastest and says what it measured. A larger batch must be more than 2 %
 * faster to win: ties go to the smaller one, which wastes less on a plan's last, partial batch.
 */
export async function tuneBatch(session: EngineSession, input: Float32Array, output: string, options: { budgetSeconds?: number; max?: number } = {}): Promise<BatchTuning> {
  const t0 = performance.now();
  const candidates = batchCandidates(options.max ?? session.batch);
  const share = (options.budgetSeconds ?? 1.5) / candidates.length;
  const passesPerSecond: Record<string, number> = {};
  let best = { batch: candidates[candidates.length - 1]!, rate: 0 };
  for (const b of candidates) {
    await session.timeInference(input, [b], output);
    let batches = 2;
    let seconds = await session.timeInference(input, [b, b], output);
    // Repeat until the candidate's share of the budget is used, to average out noise.
    while (seconds < share && batches < 64) {
      seconds += await session.timeInference(input, [b], output);
      batches++;
    }
    const rate = (batches * b) / seconds;
    passesPerSecond[String(b)] = Math.round(rate);
    if (rate > best.rate * 1.02) best = { batch: b, rate };
  }
  session.batch = best.batch;
  return { batch: best.batch, passesPerSecond, seconds: (performance.now() - t0) / 1000 };
}
