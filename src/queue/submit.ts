/**
 * `csm queue submit`: a run's images cut into chunks of consecutive images (in the order csm cms
 * lists them: a folder sorted by name), one BullMQ job per chunk with a deterministic id, so that
 * submitting the same run again adds nothing twice and restores only what is missing.
 */
import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CsmError } from '../errors.js';
import { canonicalJson } from '../saliency/checkpoint.js';
import { checkRunName, chunkId, doneKey, startedKey, PAYLOAD_FORMAT, PAYLOAD_VERSION, QUEUE_PREFIX, queueName, RUNS_KEY, validateChunkPayload, type ChunkPayload, type RunRecord } from './payload.js';

export interface SubmitOptions {
  run: string;
  /** Absolute paths in the run's order. */
  images: string[];
  /** The --images given (recorded). */
  source: string;
  model: ChunkPayload['model'];
  spec?: Record<string, unknown>;
  flags: ChunkPayload['flags'];
  /** Images per chunk. */
  chunkSize: number;
  /** Tries per chunk before it ends failed, and the first retry's delay (doubling after). */
  attempts: number;
  backoffMs: number;
}

export interface Submitted {
  record: RunRecord;
  /** Chunks added now; chunks already in the queue (a resubmit) are not added again. */
  added: number;
  already: number;
}

/** Cuts `images` into chunks of `size` consecutive images. */
export function chunkImages(images: readonly string[], size: number): string[][] {
  if (!Number.isInteger(size) || size < 1) throw new CsmError(`chunk size must be a whole number ≥ 1, got ${size}`);
  const out: string[][] = [];
  for (let i = 0; i < images.length; i += size) out.push(images.slice(i, i + size));
  return out;
}

/** The chunk payloads of a run, each checked as a worker will check it. */
export function chunkPayloads(o: SubmitOptions): ChunkPayload[] {
  const chunks = chunkImages(o.images, o.chunkSize);
  return chunks.map((images, chunk) => validateChunkPayload({
    format: PAYLOAD_FORMAT, version: PAYLOAD_VERSION, run: o.run, chunk, chunks: chunks.length, source: o.source, images,
    model: o.model, ...(o.spec ? { spec: o.spec } : {}), flags: o.flags,
  }));
}

/** What differs between a run's record and a resubmit of it, in words. */
function recordDiff(was: RunRecord, now: RunRecord): string[] {
  const out: string[] = [];
  if (was.images !== now.images) out.push(`${was.images} images then, ${now.images} now`);
  if (was.chunkSize !== now.chunkSize) out.push(`--chunk ${was.chunkSize} then, ${now.chunkSize} now`);
  if (was.source !== now.source) out.push(`--images "${was.source}" then, "${now.source}" now`);
  if (was.model.sha256 !== now.model.sha256 || was.model.name !== now.model.name) out.push(`--model ${was.model.name} (${was.model.sha256.slice(0, 12)}…) then, ${now.model.name} (${now.model.sha256.slice(0, 12)}…) now`);
  if (canonicalJson(was.flags) !== canonicalJson(now.flags)) out.push(`options ${canonicalJson(was.flags)} then, ${canonicalJson(now.flags)} now`);
  return out.length ? out : ['the image paths or the model spec differ'];
}

/**
 * Submits a run: records it (the hash RUNS_KEY) and adds one job per chunk. A run of the same
 * name submitted with other images or options is refused, naming what differs.
 */
export async function submitRun(client: Redis, o: SubmitOptions): Promise<Submitted> {
  checkRunName(o.run);
  if (!o.images.length) throw new CsmError(`there are no images in "${o.source}"`);
  if (!Number.isInteger(o.attempts) || o.attempts < 1) throw new CsmError(`attempts must be a whole number ≥ 1, got ${o.attempts}`);
  const payloads = chunkPayloads(o);
  const record: RunRecord = {
    run: o.run, submitted: new Date().toISOString(), images: o.images.length, chunks: payloads.length, chunkSize: o.chunkSize,
    source: o.source, model: o.model, flags: o.flags, sorted: o.images.every((f, i) => i === 0 || o.images[i - 1]! < f),
    sha256: createHash('sha256').update(canonicalJson(payloads)).digest('hex'),
  };
  const before = await client.hget(RUNS_KEY, o.run);
  if (before) {
    const was = JSON.parse(before) as RunRecord;
    if (was.sha256 !== record.sha256) throw new CsmError(`run "${o.run}" was submitted before with other images or options (${recordDiff(was, record).join('; ')}): give another --run, or csm queue remove --run ${o.run} first`);
    record.submitted = was.submitted;
  } else {
    await client.hset(RUNS_KEY, o.run, JSON.stringify(record));
  }
  const queue = new Queue(queueName(o.run), { connection: client, prefix: QUEUE_PREFIX });
  queue.on('error', () => {});
  try {
    const ids = payloads.map((p) => chunkId(p.chunk));
    const exists = await Promise.all(ids.map((id) => queue.getJobState(id)));
    const missing = payloads.filter((_, i) => exists[i] === 'unknown');
    // Completed and failed chunks stay in Redis (their results, their causes) until csm queue remove.
    await queue.addBulk(missing.map((p) => ({
      name: 'chunk', data: p,
      opts: { jobId: chunkId(p.chunk), attempts: o.attempts, backoff: { type: 'exponential', delay: o.backoffMs } },
    })));
    return { record, added: missing.length, already: payloads.length - missing.length };
  } finally {
    await queue.close();
  }
}

/** Removes a run: its queue with every job and result, its chunk summaries and its record. */
export async function removeRun(client: Redis, run: string): Promise<boolean> {
  checkRunName(run);
  const queue = new Queue(queueName(run), { connection: client, prefix: QUEUE_PREFIX });
  queue.on('error', () => {});
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
  }
  await client.del(doneKey(run), startedKey(run));
  return (await client.hdel(RUNS_KEY, run)) > 0;
}

/** Puts a run's failed chunks back in the queue (their attempts start again); returns how many. */
export async function retryFailed(client: Redis, run: string): Promise<number> {
  checkRunName(run);
  const queue = new Queue(queueName(run), { connection: client, prefix: QUEUE_PREFIX });
  queue.on('error', () => {});
  try {
    const failed = await queue.getFailedCount();
    await queue.retryJobs({ state: 'failed' });
    return failed;
  } finally {
    await queue.close();
  }
}
