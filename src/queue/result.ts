/**
 * A chunk's result as BullMQ stores it (the job's return value): a short summary plus the chunk's
 * exact accumulator, as the files of a CMS checkpoint (checkpoint.ts: cms-state.json and its two
 * content-named arrays), each gzipped and base64-encoded.
 *
 * Why the job result and not a shared folder: BullMQ records the return value in the same atomic
 * step that marks the job completed, so a chunk is either done with its accumulator or not done at
 * all; a worker killed at any moment leaves nothing half-written, and a stalled chunk that runs
 * twice cannot leave two results (a second completion without the job's lock is refused). Workers
 * then need shared storage only for reading images, and `collect` runs wherever Redis is reachable.
 * The cost is Redis memory: the arrays are 768 kB raw at --canonical-size 256 but gzip well (the
 * sums are multiples of 2^-24 and the map is zero off the face): about 13 kB per chunk measured at
 * --stride 8 (bench/results/queue-cpu-*.md), until `csm queue remove`.
 *
 * Reusing the checkpoint format means that collect loads each chunk with loadAccumulator, which
 * checks the integrity hashes and the accumulator's consistency, as `csm merge` does for a shard.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CsmError } from '../errors.js';
import type { SkippedImage } from '../saliency/cms-run.js';

export const RESULT_FORMAT = 'csm-queue-result';

/** What status shows of a finished chunk (also kept apart, small, in the run's done hash). */
export interface ChunkSummary {
  chunk: number;
  /** Images listed in the chunk, explained, and skipped with their causes. */
  listed: number;
  explained: number;
  skipped: SkippedImage[];
  /** When the worker started and finished the chunk (ms since 1970) and its wall time in seconds. */
  started: number;
  finished: number;
  seconds: number;
  /** Of those, opening the model session (0 when the worker's session from an earlier chunk served). */
  setupSeconds: number;
  /** The run's own timing (runCms): its wall time, the loop waiting for the front end, explaining. */
  loop: { wall: number; frontEndWait: number; explain: number };
  /** host:pid of the worker, and the engine it ran on. */
  worker: string;
  engine: string;
}

export interface ChunkResult {
  format: typeof RESULT_FORMAT;
  summary: ChunkSummary;
  /** Checkpoint file name → gzip + base64 of its bytes. */
  checkpoint: Record<string, string>;
}

/** The names a chunk's checkpoint may hold: the state and its content-named arrays (never a path). */
const CHECKPOINT_FILE = /^(cms-state\.json|cms-(sum|coverage)\.[0-9a-f]{16}\.npy)$/;

/** Packs the checkpoint folder a chunk's run wrote (runCms saves it at the end) into a result. */
export async function packResult(checkpointDir: string, summary: ChunkSummary): Promise<ChunkResult> {
  const checkpoint: Record<string, string> = {};
  for (const name of (await readdir(checkpointDir)).filter((n) => CHECKPOINT_FILE.test(n)).sort()) {
    checkpoint[name] = gzipSync(await readFile(join(checkpointDir, name))).toString('base64');
  }
  if (!checkpoint['cms-state.json']) throw new CsmError(`chunk ${summary.chunk}: the run left no checkpoint in "${checkpointDir}"`);
  return { format: RESULT_FORMAT, summary, checkpoint };
}

/**
 * Writes a stored result's checkpoint files into `dir` (for loadAccumulator, which checks them) and
 * returns its summary. `job` names the job in errors. Only the checkpoint's own file names are
 * written: a result naming anything else is refused.
 */
export async function unpackResult(value: unknown, dir: string, job: string): Promise<ChunkSummary> {
  const fail = (why: string): never => { throw new CsmError(`result of job ${job} is not a csm chunk result: ${why}`); };
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const r = value as Partial<ChunkResult>;
  if (r.format !== RESULT_FORMAT) fail(`format ${JSON.stringify(r.format)}`);
  if (typeof r.summary !== 'object' || r.summary === null) fail('no summary');
  if (typeof r.checkpoint !== 'object' || r.checkpoint === null) return fail('no checkpoint');
  await mkdir(dir, { recursive: true });
  for (const [name, data] of Object.entries(r.checkpoint)) {
    if (!CHECKPOINT_FILE.test(name)) fail(`it names a file ${JSON.stringify(name.slice(0, 80))}`);
    if (typeof data !== 'string') fail(`${name} is not base64 text`);
    let bytes: Buffer;
    try {
      bytes = gunzipSync(Buffer.from(data as string, 'base64'));
    } catch (e) {
      return fail(`${name} does not decompress: ${(e as Error).message}`);
    }
    await writeFile(join(dir, name), bytes);
  }
  return r.summary as ChunkSummary;
}
