/**
 * `csm queue collect`: the finished chunks' accumulators of a run merged exactly, as `csm merge`
 * merges shards: each chunk's result is loaded as a checkpoint (loadAccumulator checks its
 * integrity), its fingerprint must equal the others' (fingerprintDiff names what differs), its
 * images must be exactly its payload's, and CmsAccumulator.merge refuses an image already merged,
 * so no image can count twice whatever was put in the queue.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CsmError } from '../errors.js';
import { loadAccumulator } from '../saliency/checkpoint.js';
import type { CmsAccumulator } from '../saliency/cms.js';
import type { SkippedImage } from '../saliency/cms-run.js';
import { comparableFingerprint, fingerprintDiff } from '../saliency/resume.js';
import { chunkId, QUEUE_PREFIX, queueName, validateChunkPayload, type RunRecord } from './payload.js';
import { unpackResult, type ChunkSummary } from './result.js';
import { runRecord } from './status.js';

export interface Collected {
  record: RunRecord;
  acc: CmsAccumulator;
  /** The fingerprint every chunk shares (the parameters and the kind of job, as a checkpoint records it). */
  fingerprint: Record<string, unknown>;
  skipped: SkippedImage[];
  /** Each merged chunk's summary, in chunk order. */
  chunks: ChunkSummary[];
  /** Chunks not merged (not finished), with their state; empty unless allowMissing. */
  missing: { chunk: number; state: string; cause?: string }[];
}

/**
 * Merges the results of a run's finished chunks. Unless `allowMissing`, a run with a chunk not
 * finished is refused, naming it, its state and, for a failed one, its cause.
 */
export async function collectRun(client: Redis, run: string, options: { allowMissing?: boolean } = {}): Promise<Collected> {
  const record = await runRecord(client, run);
  const queue = new Queue(queueName(run), { connection: client, prefix: QUEUE_PREFIX });
  queue.on('error', () => {});
  const tmp = await mkdtemp(join(tmpdir(), 'csm-collect-'));
  try {
    const missing: Collected['missing'] = [];
    for (let k = 0; k < record.chunks; k++) {
      const state = await queue.getJobState(chunkId(k));
      if (state === 'completed') continue;
      const cause = state === 'failed' ? (await queue.getJob(chunkId(k)))?.failedReason : undefined;
      missing.push({ chunk: k, state, ...(cause ? { cause } : {}) });
    }
    if (missing.length && !options.allowMissing) {
      const shown = missing.slice(0, 8).map((m) => `${chunkId(m.chunk)} ${m.state}${m.cause ? ` (${m.cause})` : ''}`).join('; ');
      throw new CsmError(`run "${run}": ${missing.length} of ${record.chunks} chunks not finished: ${shown}${missing.length > 8 ? '; …' : ''}. Wait for the workers (csm queue status), or give --allow-missing to collect only the finished chunks`);
    }
    let acc: CmsAccumulator | undefined;
    let fingerprint: Record<string, unknown> | undefined;
    let first = '';
    const chunks: ChunkSummary[] = [];
    const skipped: SkippedImage[] = [];
    // Every finished job, one at a time (a result is a few hundred kB), merged in job-id order.
    const ids = (await queue.getRanges(['completed'], 0, -1, true)).sort();
    for (const id of ids) {
      const job = await queue.getJob(id);
      if (!job) throw new CsmError(`run "${run}": job ${id} disappeared while collecting`);
      const payload = validateChunkPayload(job.data, { run, job: id });
      const dir = join(tmp, id);
      const summary = await unpackResult(job.returnvalue, dir, id);
      const loaded = await loadAccumulator(dir);
      await rm(dir, { recursive: true, force: true });
      const fp = loaded.extra['fingerprint'] as Record<string, unknown> | undefined;
      if (typeof fp !== 'object' || fp === null) throw new CsmError(`run "${run}": the result of ${id} records no fingerprint`);
      if (fingerprint) {
        const diff = fingerprintDiff(comparableFingerprint(fingerprint), comparableFingerprint(fp), { names: [first, id] });
        if (diff.length) throw new CsmError(`run "${run}": chunk ${id} was explained with other parameters than ${first}: ${diff.join('; ')}`);
      } else {
        fingerprint = fp;
        first = id;
      }
      const chunkSkipped = (loaded.extra['skipped'] ?? []) as SkippedImage[];
      const covered = new Set([...loaded.acc.ids, ...chunkSkipped.map((s) => s.file)]);
      if (covered.size !== payload.images.length || payload.images.some((f) => !covered.has(f))) {
        throw new CsmError(`run "${run}": the result of ${id} is not of its images (${loaded.acc.images} explained + ${chunkSkipped.length} skipped, the job lists ${payload.images.length})`);
      }
      try {
        acc = acc ? acc.merge(loaded.acc) : loaded.acc;
      } catch (e) {
        throw new CsmError(`run "${run}": cannot merge ${id}: ${(e as Error).message}`, { cause: e });
      }
      skipped.push(...chunkSkipped);
      chunks.push(summary);
    }
    if (!acc || !fingerprint) throw new CsmError(`run "${run}": no chunk has finished yet (csm queue status shows progress)`);
    return { record, acc, fingerprint, skipped, chunks, missing };
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await queue.close();
  }
}
