/**
 * `csm worker`: takes chunks from a run's BullMQ queue and explains each one through the same code
 * path as `csm cms` (classificationJob → runCms, with its fingerprint and exact accumulator), then
 * returns the chunk's accumulator as the job's result (result.ts says why there).
 *
 * Faults:
 * - A worker killed mid-chunk stops renewing the job's lock; BullMQ's stalled-job check (run by
 *   every live worker each `stalledInterval`) puts the chunk back in the queue for another worker.
 *   A chunk that stalls more than `maxStalledCount` times ends failed.
 * - A chunk that throws is retried (the job's attempts, with exponential backoff) and ends failed
 *   with its cause. A malformed payload, bad flags or a head that cannot be explained over images
 *   are not retried (BullMQ's UnrecoverableError): no other worker would do better.
 * - Bad images are skipped with their cause, as in a local run; they are part of the chunk's result.
 * - Redis going away: the clients reconnect for ever; a chunk being explained carries on, and its
 *   completion is accepted if the job's lock survived (a Redis with persistence keeps it), else
 *   the chunk runs again. Either way it counts once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CsmError, FatalError } from '../errors.js';
import type { FrontEnd } from '../pipeline/frontend.js';
import { canonicalJson } from '../saliency/checkpoint.js';
import { runCms } from '../saliency/cms-run.js';
import { classificationJob } from '../saliency/jobs.js';
import { cmsFingerprint } from '../saliency/outputs.js';
import { createExplainSetup, type ExplainSetup, type ExplainSetupOptions } from '../saliency/setup.js';
import { checkRunName, doneKey, QUEUE_PREFIX, startedKey, queueName, RUNS_KEY, validateChunkPayload, type ChunkPayload, type RunRecord } from './payload.js';
import { packResult, type ChunkResult, type ChunkSummary } from './result.js';
import { scrub, type RedisTarget } from './connection.js';

/** BullMQ's fault-tolerance timings (milliseconds) and the stall limit. */
export interface StallOptions {
  /** How long a chunk's lock lasts without renewal (renewed every half of it while the chunk runs). */
  lockDuration: number;
  /** How often a worker looks for chunks whose lock expired and puts them back. */
  stalledInterval: number;
  /** A chunk that stalls more often than this ends failed. */
  maxStalledCount: number;
}

export const DEFAULT_STALL: StallOptions = { lockDuration: 30_000, stalledInterval: 15_000, maxStalledCount: 2 };

export interface QueueWorkerOptions extends StallOptions {
  /** A persistent client (connectRedis with persistent: true); the worker duplicates it as BullMQ needs. */
  client: Redis;
  target: RedisTarget;
  /** Serve only this run; without it, every submitted run, oldest first. */
  run?: string;
  /** Chunks explained at once in this process (each with its own model session). */
  concurrency: number;
  /** Stop when the run (or, without `run`, every run) has no chunk waiting, delayed or active. */
  exitWhenDone: boolean;
  /**
   * Turns a chunk's model, spec and flags into setup options; the CLI parses the flags with the
   * same parser as csm cms. A CsmError here (a bad flag or spec) refuses the chunk.
   */
  setupOptions: (payload: ChunkPayload) => Promise<ExplainSetupOptions>;
  /** The front end that prepares a chunk's next images (the caller's choice; closed here). */
  frontEnd?: (setup: ExplainSetup) => Promise<FrontEnd>;
  log: (line: string) => void;
  /** Resolves when the worker should stop taking chunks (a signal); the chunk in hand is finished. */
  stop?: Promise<void>;
}

/** A model session with its front end, kept between chunks of the same options. */
interface Slot { key: string; setup: ExplainSetup; frontEnd: FrontEnd | undefined; busy: boolean }

/** Opens model sessions on demand and keeps them for the next chunk with the same options. */
class SetupPool {
  private readonly slots: Slot[] = [];

  constructor(private readonly options: QueueWorkerOptions) {}

  async acquire(o: ExplainSetupOptions): Promise<Slot> {
    const key = canonicalJson(o);
    const free = this.slots.find((s) => !s.busy && s.key === key);
    if (free) { free.busy = true; return free; }
    // Sessions of other options (another run) that are idle go before a new one opens.
    for (const s of this.slots.filter((x) => !x.busy && x.key !== key)) await this.drop(s);
    const setup = await createExplainSetup(o);
    let frontEnd: FrontEnd | undefined;
    try {
      frontEnd = this.options.frontEnd ? await this.options.frontEnd(setup) : undefined;
    } catch (e) {
      await setup.dispose();
      throw e;
    }
    const slot: Slot = { key, setup, frontEnd, busy: true };
    this.slots.push(slot);
    return slot;
  }

  release(slot: Slot): void {
    slot.busy = false;
  }

  /** Closes a session that failed in a way no later chunk recovers from (a lost GPU, a dead front end). */
  async discard(slot: Slot): Promise<void> {
    await this.drop(slot).catch(() => {});
  }

  private async drop(slot: Slot): Promise<void> {
    this.slots.splice(this.slots.indexOf(slot), 1);
    await slot.frontEnd?.close();
    await slot.setup.dispose();
  }

  async close(): Promise<void> {
    for (const s of [...this.slots]) await this.drop(s);
  }
}

const workerName = `${hostname()}:${process.pid}`;

/** Explains one chunk and returns its result (or throws: UnrecoverableError when retrying is pointless). */
async function processChunk(job: Job, run: string, pool: SetupPool, o: QueueWorkerOptions): Promise<ChunkResult> {
  const started = Date.now();
  let payload: ChunkPayload;
  let setupOptions: ExplainSetupOptions;
  try {
    payload = validateChunkPayload(job.data, { run, job: String(job.id) });
    setupOptions = await o.setupOptions(payload);
  } catch (e) {
    if (e instanceof CsmError) {
      const m = e.message;
      throw new UnrecoverableError(m.startsWith('malformed job payload') ? m : `malformed job payload (job ${job.id} of run "${run}"): ${m}; the job is refused, not run`);
    }
    throw e;
  }
  // The first start of a chunk (a chunk run again after a stall keeps it): status measures throughput from it.
  await o.client.hsetnx(startedKey(run), String(job.id), String(started));
  const slot = await pool.acquire(setupOptions);
  const setupSeconds = (Date.now() - started) / 1000;
  const dir = await mkdtemp(join(tmpdir(), 'csm-chunk-'));
  let broken = false;
  try {
    const { setup } = slot;
    const hash = (setup.params['model'] as { sha256: string }).sha256;
    // Another file under the same name on this machine: refused here, so another worker may take the chunk.
    if (hash !== payload.model.sha256) throw new CsmError(`model "${payload.model.name}" on worker ${workerName} has SHA-256 ${hash.slice(0, 12)}…, the run was submitted with ${payload.model.sha256.slice(0, 12)}…`);
    let cmsJob;
    try {
      cmsJob = classificationJob(setup.explainer, payload.images, payload.source);
    } catch (e) {
      throw e instanceof CsmError ? new UnrecoverableError(e.message) : e;
    }
    const result = await runCms(cmsJob.items, cmsJob.explain, setup.explainer.canonicalSize, {
      checkpointDir: dir, checkpointEvery: 0, resume: false, fingerprint: cmsFingerprint(setup, cmsJob),
      ...(slot.frontEnd ? { frontEnd: slot.frontEnd } : {}),
      onProgress: (p) => { job.updateProgress({ done: p.done, total: p.total, skipped: p.skipped }).catch(() => {}); },
    });
    const summary: ChunkSummary = {
      chunk: payload.chunk, listed: payload.images.length, explained: result.acc.images, skipped: result.skipped,
      started, finished: 0, seconds: 0, setupSeconds, loop: { wall: result.timing.wall, frontEndWait: result.timing.frontEndWait, explain: result.timing.explain },
      worker: workerName, engine: setup.session.engine,
    };
    const packed = await packResult(dir, summary);
    summary.finished = Date.now();
    summary.seconds = (summary.finished - started) / 1000;
    // Small, for status; a chunk that runs again overwrites its own entry (never counted twice).
    await o.client.hset(doneKey(run), String(job.id), JSON.stringify(summary));
    return packed;
  } catch (e) {
    // A bug or a fatal condition: the next chunk gets a fresh session (the chunk is retried).
    broken = e instanceof FatalError || !(e instanceof CsmError || e instanceof UnrecoverableError);
    throw e;
  } finally {
    if (broken) await pool.discard(slot);
    else pool.release(slot);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Chunks of a run not yet finished: waiting, delayed (a retry's backoff), prioritized or active. */
async function pending(queue: Queue): Promise<number> {
  const c = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'waiting-children');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Serves one run until it has nothing pending (`untilDone`) or `stop` resolves; returns the
 * number of chunks this process finished.
 */
async function serveRun(run: string, pool: SetupPool, o: QueueWorkerOptions, untilDone: boolean): Promise<number> {
  let lastError = 0;
  let finished = 0;
  let inHand = 0;
  const queue = new Queue(queueName(run), { connection: o.client, prefix: QUEUE_PREFIX });
  queue.on('error', () => {});
  let stopped = false;
  void o.stop?.then(() => { stopped = true; });
  const worker = new Worker(queueName(run), async (job, token) => {
    // Stopping: a chunk BullMQ fetched with the last one's completion goes back, untouched.
    if (stopped) {
      await job.moveToWait(token);
      throw new WaitingError();
    }
    inHand++;
    try {
      return await processChunk(job, run, pool, o);
    } finally {
      inHand--;
    }
  }, {
    connection: o.client, prefix: QUEUE_PREFIX, concurrency: o.concurrency,
    lockDuration: o.lockDuration, stalledInterval: o.stalledInterval, maxStalledCount: o.maxStalledCount,
  });
  worker.on('error', (e) => {
    // Redis gone: ioredis reconnects; say so once every few seconds, never the password.
    if (Date.now() - lastError > 5000) o.log(`csm worker: run "${run}": ${scrub(e.message, o.target)} (reconnecting to ${o.target.shown})`);
    lastError = Date.now();
  });
  worker.on('completed', (job) => {
    finished++;
    const s = (job.returnvalue as ChunkResult | undefined)?.summary;
    o.log(`csm worker: run "${run}" ${job.id}: ${s ? `${s.explained} explained, ${s.skipped.length} skipped in ${s.seconds.toFixed(1)} s` : 'done'}`);
  });
  worker.on('failed', (job, e) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1) || e.name === 'UnrecoverableError';
    o.log(`csm worker: run "${run}" ${job.id} ${final ? 'failed' : `failed (attempt ${job.attemptsMade} of ${job.opts.attempts}, retried later)`}: ${scrub(e.message, o.target)}`);
  });
  try {
    for (;;) {
      await sleep(500);
      if (stopped) break;
      if (!untilDone || inHand > 0) continue;
      try {
        if ((await pending(queue)) === 0) break;
      } catch {
        // Redis unreachable for now: the worker reconnects; look again later.
      }
    }
  } finally {
    await worker.close();
    await queue.close();
  }
  return finished;
}

/** Runs a worker until `exitWhenDone` finds nothing pending, or `stop` resolves. */
export async function runQueueWorker(o: QueueWorkerOptions): Promise<{ chunks: number }> {
  if (o.run !== undefined) checkRunName(o.run);
  const pool = new SetupPool(o);
  let chunks = 0;
  let stopped = false;
  void o.stop?.then(() => { stopped = true; });
  try {
    if (o.run !== undefined) {
      chunks += await serveRun(o.run, pool, o, o.exitWhenDone);
      return { chunks };
    }
    // Every submitted run, oldest first: serve one until it has nothing pending, then look again.
    let idleSaid = false;
    while (!stopped) {
      let next: string | undefined;
      try {
        const runs = Object.values(await o.client.hgetall(RUNS_KEY)).map((t) => JSON.parse(t) as RunRecord).sort((a, b) => a.submitted.localeCompare(b.submitted));
        for (const r of runs) {
          const q = new Queue(queueName(r.run), { connection: o.client, prefix: QUEUE_PREFIX });
          try {
            if ((await pending(q)) > 0) { next = r.run; break; }
          } finally {
            await q.close();
          }
        }
      } catch (e) {
        o.log(`csm worker: cannot list runs: ${scrub((e as Error).message, o.target)}`);
      }
      if (next) {
        idleSaid = false;
        o.log(`csm worker: serving run "${next}"`);
        chunks += await serveRun(next, pool, o, true);
        continue;
      }
      if (o.exitWhenDone) break;
      if (!idleSaid) o.log('csm worker: no run has chunks waiting; looking again every 5 s');
      idleSaid = true;
      await Promise.race([sleep(5000), o.stop ?? new Promise<void>(() => {})]);
    }
    return { chunks };
  } finally {
    await pool.close();
  }
}
