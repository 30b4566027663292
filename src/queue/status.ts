/**
 * `csm queue status`: a run's progress over all its workers, from Redis alone: chunks by state
 * (BullMQ's counts), images explained and skipped (the finished chunks' summaries), throughput
 * and ETA, the chunks in hand with their progress, and the cause of every chunk that failed or
 * is waiting to be retried.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CsmError } from '../errors.js';
import { checkRunName, doneKey, QUEUE_PREFIX, startedKey, queueName, RUNS_KEY, type RunRecord } from './payload.js';
import type { ChunkSummary } from './result.js';
import type { SkippedImage } from '../saliency/cms-run.js';

export interface ChunkProblem { job: string; attempts: number; maxAttempts: number; cause: string }

export interface RunStatus {
  run: string;
  submitted: string;
  chunks: { total: number; waiting: number; active: number; done: number; failed: number; retrying: number };
  images: { total: number; explained: number; skipped: number; inActiveChunks: number };
  /** Images (explained or skipped) per second over `elapsed`, all workers together. */
  throughput: number | null;
  /** Seconds until every image is done at that throughput (null before a chunk finished). */
  eta: number | null;
  /** Seconds from the first chunk's start to now, or to the last finish once no chunk is pending. */
  elapsed: number | null;
  workers: string[];
  active: { job: string; done: number; total: number }[];
  failed: ChunkProblem[];
  retrying: ChunkProblem[];
  skipped: SkippedImage[];
}

/** The record of a submitted run (a CsmError naming the known runs when there is none). */
export async function runRecord(client: Redis, run: string): Promise<RunRecord> {
  checkRunName(run);
  const text = await client.hget(RUNS_KEY, run);
  if (!text) {
    const known = await client.hkeys(RUNS_KEY);
    throw new CsmError(`no run "${run}" was submitted to this Redis (${known.length ? `runs: ${known.sort().join(', ')}` : 'no run at all'})`);
  }
  return JSON.parse(text) as RunRecord;
}

const problem = (j: { id?: string | undefined; attemptsMade: number; opts: { attempts?: number }; failedReason: string }): ChunkProblem => ({
  job: String(j.id), attempts: j.attemptsMade, maxAttempts: j.opts.attempts ?? 1, cause: j.failedReason,
});

export async function runStatus(client: Redis, run: string): Promise<RunStatus> {
  const record = await runRecord(client, run);
  const queue = new Queue(queueName(run), { connection: client, prefix: QUEUE_PREFIX });
  queue.on('error', () => {});
  try {
    const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed');
    const summaries = Object.values(await client.hgetall(doneKey(run))).map((t) => JSON.parse(t) as ChunkSummary);
    const active = (await queue.getActive(0, 999)).map((j) => {
      const p = (typeof j.progress === 'object' && j.progress !== null ? j.progress : {}) as { done?: number; total?: number };
      return { job: String(j.id), done: p.done ?? 0, total: p.total ?? (j.data as { images?: unknown[] })?.images?.length ?? 0 };
    });
    const failed = (await queue.getFailed(0, 999)).map(problem);
    const retrying = (await queue.getDelayed(0, 999)).map(problem);
    const explained = summaries.reduce((n, s) => n + s.explained, 0);
    const skipped = summaries.flatMap((s) => s.skipped);
    const doneImages = summaries.reduce((n, s) => n + s.listed, 0);
    const inActive = active.reduce((n, a) => n + a.done, 0);
    let elapsed: number | null = null;
    let throughput: number | null = null;
    if (summaries.length) {
      // While chunks are pending the clock runs to now; once none is, it stops at the last finish.
      const firstStarts = Object.values(await client.hgetall(startedKey(run))).map(Number);
      const start = Math.min(...summaries.map((s) => s.started), ...firstStarts);
      const over = c['completed']! + c['failed']! >= record.chunks;
      const until = over ? Math.max(...summaries.map((s) => s.finished)) : Date.now();
      elapsed = (until - start) / 1000;
      throughput = elapsed > 0 ? (doneImages + inActive) / elapsed : null;
    }
    const left = Math.max(0, record.images - doneImages - inActive);
    return {
      run, submitted: record.submitted,
      chunks: { total: record.chunks, waiting: c['waiting']! + c['prioritized']!, active: c['active']!, done: c['completed']!, failed: c['failed']!, retrying: c['delayed']! },
      images: { total: record.images, explained, skipped: skipped.length, inActiveChunks: inActive },
      throughput, eta: left === 0 ? 0 : throughput ? left / throughput : null, elapsed,
      workers: [...new Set(summaries.map((s) => s.worker))].sort(),
      active, failed, retrying, skipped,
    };
  } finally {
    await queue.close();
  }
}
