/**
 * Canonical Model Saliency over a data set (Eq. 6): images are streamed one at a time (never all
 * in memory), each one's CIS is added to an exact accumulator, bad files are skipped with their
 * cause, and the accumulator is checkpointed every N images so that `resume` continues a killed
 * run and ends with exactly the bytes of an uninterrupted one.
 *
 * Pipelined (design.md, "The loop never waits for the front end"): with a front end
 * (src/pipeline/) the next items are decoded, detected and meshed while this one is explained,
 * and handed over strictly in input order, so the maps are the same bytes as a serial run's.
 * Per-image outputs (`onImage`) and checkpoints go to an ordered, bounded output queue and are
 * written behind the loop; a checkpoint is written only after the outputs of every image it
 * counts, and the run waits for the queue before it returns.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CsmError, FatalError } from '../errors.js';
import type { FrontEnd, FrontEndStats } from '../pipeline/frontend.js';
import { OutputQueue } from '../pipeline/outputs.js';
import { loadAccumulator, saveAccumulator } from './checkpoint.js';
import { checkResume } from './resume.js';
import { CmsAccumulator } from './cms.js';
import type { CisResult } from './explain.js';
import type { PreparedImage } from './prepare.js';

/**
 * Image paths from a folder (its image files, sorted by name; sub-folders are not entered) or a
 * list file (one path per line, relative to the list's folder; blank lines and # comments ignored).
 */
export async function listImages(source: string): Promise<string[]> {
  let info;
  try {
    info = await stat(source);
  } catch {
    throw new CsmError(`"${source}" does not exist (give a folder of images or a list file)`);
  }
  if (info.isDirectory()) {
    const names = (await readdir(source, { withFileTypes: true })).filter((d) => !d.isDirectory()).map((d) => d.name).sort();
    // Every visible file is listed: one that is not an image is skipped later, with its cause.
    return names.filter((n) => !n.startsWith('.')).map((n) => join(source, n));
  }
  const text = await readFile(source, 'utf8');
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => resolve(dirname(source), l));
}

export interface SkippedImage { file: string; cause: string }

export interface CmsProgress { done: number; total: number; skipped: number; file: string; elapsed: number }

export interface CmsRunOptions {
  /** Folder for checkpoints (created). */
  checkpointDir: string;
  /** Checkpoint after this many images (0: never). */
  checkpointEvery: number;
  /** Continue from the checkpoint in checkpointDir. */
  resume: boolean;
  /** Parameters that must match on resume (model hash, options): any change refuses to resume. */
  fingerprint: Record<string, unknown>;
  /** Per-image outputs: queued behind the loop, called in input order (see `outputQueue`). */
  onImage?: (result: CisResult, index: number) => Promise<void> | void;
  onProgress?: (p: CmsProgress) => void;
  onWarning?: (message: string) => void;
  /**
   * Prepares the next items while the loop explains this one; `explain` then receives them.
   * Without one, `explain` prepares each item itself (serial). The caller closes it.
   */
  frontEnd?: FrontEnd;
  /** The photos of an item for the front end (default: the item; a verification pair: both photos). */
  photosOf?: (item: string) => string[];
  /** Outputs and checkpoints waiting to be written, at most (default 4; 0 writes them in line). */
  outputQueue?: number;
}

/** Where a run's time went (seconds). */
export interface CmsRunTiming {
  wall: number;
  /** The loop waiting for the front end to hand over the next item. */
  frontEndWait: number;
  /** `explain` (with a front end: plan, prediction and the occlusion loop; without: also preparing). */
  explain: number;
  /** Output and checkpoint tasks running (mostly behind the loop). */
  outputs: number;
  /** The loop waiting for a place in the output queue, and for the queue at the end. */
  outputWait: number;
  /** The front end's own counters (with a front end). */
  frontEnd?: FrontEndStats;
}

export interface CmsRunResult {
  acc: CmsAccumulator;
  files: string[];
  skipped: SkippedImage[];
  resumedAt: number;
  seconds: number;
  timing: CmsRunTiming;
}

const listHash = (files: string[]): string => createHash('sha256').update(files.join('\n')).digest('hex');

/**
 * Runs `explain` on every item (an image path, or a pair written "a|b") in order. Items that fail
 * with a CsmError are skipped and recorded; any other error is a bug and stops the run. With a
 * front end, `explain` gets the item's prepared images (one per photo) as its second argument.
 */
export async function runCms(
  files: string[], explain: (item: string, prepared?: PreparedImage[]) => Promise<CisResult>, canonicalSize: number, options: CmsRunOptions,
): Promise<CmsRunResult> {
  let acc = new CmsAccumulator(canonicalSize);
  let skipped: SkippedImage[] = [];
  let next = 0;
  const list = listHash(files);
  const fingerprint = options.fingerprint;
  if (options.resume) {
    if (!existsSync(join(options.checkpointDir, 'cms-state.json'))) throw new CsmError(`--resume: no checkpoint in "${options.checkpointDir}"`);
    const loaded = await loadAccumulator(options.checkpointDir);
    // Integrity, consistency (next, ids, skipped, list) and the options, each named when refused.
    ({ acc, next, skipped } = checkResume(options.checkpointDir, loaded, { files, list, fingerprint }));
  }
  const resumedAt = next;
  const t0 = performance.now();
  const timing: CmsRunTiming = { wall: 0, frontEndWait: 0, explain: 0, outputs: 0, outputWait: 0 };
  const since = (t: number): number => (performance.now() - t) / 1000;
  // What a checkpoint holds, taken now: the queue may write it while the loop goes on.
  const snapshot = (): { acc: CmsAccumulator; extra: object } => ({ acc: acc.clone(), extra: { list, fingerprint, next, skipped: skipped.map((s) => ({ ...s })) } });
  const save = (s: { acc: CmsAccumulator; extra: object }): Promise<void> => saveAccumulator(options.checkpointDir, s.acc, s.extra);
  const outputs = new OutputQueue(options.outputQueue ?? 4);
  const stream = options.frontEnd?.stream(files, { from: next, ...(options.photosOf ? { photos: options.photosOf } : {}) });
  try {
    for (; next < files.length;) {
      const file = files[next]!;
      const index = next;
      let result: CisResult | undefined;
      try {
        let prepared: PreparedImage[] | undefined;
        if (stream) {
          const t = performance.now();
          const got = await stream.next();
          timing.frontEndWait += since(t);
          if (got.item !== file) throw new Error(`front end out of order: got "${got.item}" for "${file}"`);
          if (got.error) throw got.error;
          prepared = got.prepared;
        }
        const t = performance.now();
        result = await explain(file, prepared);
        timing.explain += since(t);
        for (const w of result.prepared.warnings) options.onWarning?.(w);
        acc.add(result.cis, file);
      } catch (e) {
        // A bug, or a fatal condition (GPU lost, a front-end worker dead), stops the run; the
        // checkpoint then holds every image before this one, so --resume continues here.
        if (!(e instanceof CsmError) || e instanceof FatalError) {
          if (e instanceof FatalError) {
            await outputs.drain();
            await save(snapshot());
          } else {
            await outputs.settle();
          }
          throw e;
        }
        result = undefined;
        skipped.push({ file, cause: e.message });
        options.onWarning?.(`skipped: ${e.message}`);
      }
      // An output that failed earlier is thrown here and stops the run (not a skip of this image).
      if (result && options.onImage) {
        const [onImage, r] = [options.onImage, result];
        await outputs.push(() => onImage(r, index));
      }
      next++;
      options.onProgress?.({ done: next, total: files.length, skipped: skipped.length, file, elapsed: since(t0) });
      if (options.checkpointEvery > 0 && next % options.checkpointEvery === 0 && next < files.length) {
        const s = snapshot();
        await outputs.push(() => save(s));
      }
    }
    const t = performance.now();
    await outputs.drain();
    await save(snapshot());
    timing.outputWait = outputs.stalled + since(t);
  } finally {
    await stream?.close();
    await outputs.settle();
  }
  timing.outputs = outputs.seconds;
  timing.wall = since(t0);
  if (stream) timing.frontEnd = { ...stream.stats };
  return { acc, files, skipped, resumedAt, seconds: timing.wall, timing };
}
