/**
 * Canonical Model Saliency over a data set (Eq. 6): images are streamed one at a time (never all
 * in memory), each one's CIS is added to an exact accumulator, bad files are skipped with their
 * cause, and the accumulator is checkpointed every N images so that `resume` continues a killed
 * run and ends with exactly the bytes of an uninterrupted one.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CsmError, FatalError } from '../errors.js';
import { loadAccumulator, saveAccumulator } from './checkpoint.js';
import { checkResume } from './resume.js';
import { CmsAccumulator } from './cms.js';
import type { CisResult } from './explain.js';

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
  onImage?: (result: CisResult, index: number) => Promise<void> | void;
  onProgress?: (p: CmsProgress) => void;
  onWarning?: (message: string) => void;
}

export interface CmsRunResult {
  acc: CmsAccumulator;
  files: string[];
  skipped: SkippedImage[];
  resumedAt: number;
  seconds: number;
}

const listHash = (files: string[]): string => createHash('sha256').update(files.join('\n')).digest('hex');

/**
 * Runs `explain` on every item (an image path, or a pair written "a|b") in order. Items that fail
 * with a CsmError are skipped and recorded; any other error is a bug and stops the run.
 */
export async function runCms(files: string[], explain: (item: string) => Promise<CisResult>, canonicalSize: number, options: CmsRunOptions): Promise<CmsRunResult> {
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
  const checkpoint = (): Promise<void> => saveAccumulator(options.checkpointDir, acc, { list, fingerprint, next, skipped });
  for (; next < files.length;) {
    const file = files[next]!;
    try {
      const result = await explain(file);
      for (const w of result.prepared.warnings) options.onWarning?.(w);
      acc.add(result.cis, file);
      await options.onImage?.(result, next);
    } catch (e) {
      // A bug, or a fatal condition (GPU lost), stops the run; the checkpoint then holds every
      // image before this one, so --resume continues here.
      if (!(e instanceof CsmError) || e instanceof FatalError) {
        if (e instanceof FatalError) await checkpoint();
        throw e;
      }
      skipped.push({ file, cause: e.message });
      options.onWarning?.(`skipped: ${e.message}`);
    }
    next++;
    options.onProgress?.({ done: next, total: files.length, skipped: skipped.length, file, elapsed: (performance.now() - t0) / 1000 });
    if (options.checkpointEvery > 0 && next % options.checkpointEvery === 0 && next < files.length) await checkpoint();
  }
  await checkpoint();
  return { acc, files, skipped, resumedAt, seconds: (performance.now() - t0) / 1000 };
}
