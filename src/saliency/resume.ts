/**
 * What `--resume` checks before it trusts a checkpoint (the checkpoint's own files are checked by
 * loadAccumulator, checkpoint.ts): that the run state a CMS run stores beside the accumulator
 * (`extra`: the image list's hash, the fingerprint of the model and options, `next` and the skipped
 * files) agrees with itself and with the accumulator, and that the run now asked for is the same run:
 *
 * - `next` = images added + files skipped, and the added ids and the skipped files, merged in their
 *   recorded orders, are exactly the first `next` items of the image list, in order;
 * - the fingerprint matches key by key; a difference names the option(s), e.g.
 *   "--stride: checkpoint 4, now 6";
 * - the image list is the same (its hash), and where it is not, the message says where it differs.
 */
import { join } from 'node:path';
import { CsmError } from '../errors.js';
import { CheckpointError, STATE_FILE } from './checkpoint.js';
import type { CmsAccumulator } from './cms.js';
import type { SkippedImage } from './cms-run.js';

/** The command-line flag behind each key of a run's fingerprint (setup.ts params, plus the job's kind). */
export const PARAM_FLAGS: Readonly<Record<string, string>> = {
  model: '--model',
  head: '--head',
  class: '--class',
  score: '--score',
  fill: '--fill',
  patch: '--patch',
  stride: '--stride',
  canonicalSize: '--canonical-size',
  crop: '--crop',
  cropScale: '--crop-scale',
  alignment: '--alignment',
  face: '--face',
  sampling: '--sampling / --keep',
  mode: 'the kind of job (--images, --gallery or --pairs)',
  shard: '--shard',
};

/** Where a checkpointed run stops and continues. */
export interface ResumePoint {
  acc: CmsAccumulator;
  /** Index of the next item of the list to explain. */
  next: number;
  skipped: SkippedImage[];
}

/** A checkpoint that belongs to another run (options or image list); `reasons` lists each difference. */
export class ResumeError extends CsmError {
  constructor(readonly dir: string, message: string, readonly reasons: readonly string[]) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function show(v: unknown): string {
  if (v === undefined) return '(not set)';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

const quoted = (s: string | undefined): string => (s === undefined ? 'none left' : `"${s}"`);

/** The paths (a.b.c) where two JSON values differ, each with both values. */
function differences(a: unknown, b: unknown, path: string, out: { path: string; was: unknown; now: unknown }[]): void {
  if (isObject(a) && isObject(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) differences(a[k], b[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path, was: a, now: b });
}

/**
 * A fingerprint as runs on different machines (shards, queue chunks) must share it: the model file's path (a zoo
 * model's cache folder differs between machines and users) is left out; its SHA-256, which every
 * worker checked against the job's, stays.
 */
export function comparableFingerprint(fp: Record<string, unknown>): Record<string, unknown> {
  const model = fp['model'];
  if (typeof model !== 'object' || model === null) return fp;
  const { file: _, ...rest } = model as Record<string, unknown>;
  return { ...fp, model: rest };
}

/**
 * How two fingerprints differ, one line per top-level key that differs, named by its flag:
 * "--stride: checkpoint 4, now 6", "--model (model.sha256): checkpoint 1f0c…, now 9a7e…
 * (and 2 more differences)". `names` labels the two sides (default "checkpoint" and "now").
 */
export function fingerprintDiff(
  saved: Record<string, unknown>, now: Record<string, unknown>, options: { flags?: Readonly<Record<string, string>>; names?: [string, string] } = {},
): string[] {
  const flags = options.flags ?? PARAM_FLAGS;
  const [was, is] = options.names ?? ['checkpoint', 'now'];
  // Through JSON, as the checkpoint stored it (undefined members dropped).
  const all: { path: string; was: unknown; now: unknown }[] = [];
  differences(JSON.parse(JSON.stringify(saved)), JSON.parse(JSON.stringify(now)), '', all);
  const byKey = new Map<string, typeof all>();
  for (const d of all) {
    const key = d.path.split('.')[0]!;
    byKey.set(key, [...(byKey.get(key) ?? []), d]);
  }
  return [...byKey].map(([key, ds]) => {
    const d = ds[0]!;
    const label = flags[key] ?? key;
    const where = d.path === key ? '' : ` (${d.path})`;
    const more = ds.length > 1 ? ` (and ${ds.length - 1} more difference${ds.length > 2 ? 's' : ''})` : '';
    return `${label}${where}: ${was} ${show(d.was)}, ${is} ${show(d.now)}${more}`;
  });
}

/**
 * Walks the first `next` items of `files` against the added ids and the skipped files in their
 * recorded orders (each item is the next id or the next skipped file). Returns the index `at` of
 * the first item that is neither (-1 when all `next` items match) and how many ids (`i`) and
 * skipped files (`j`) were matched before it.
 */
function walk(files: readonly string[], next: number, ids: readonly string[], skipped: readonly SkippedImage[]): { at: number; i: number; j: number } {
  let i = 0;
  let j = 0;
  for (let k = 0; k < next; k++) {
    const f = files[k];
    if (f === undefined) return { at: k, i, j };
    // Both may name the item (a list with a duplicate: the second add was skipped); taking the
    // added id first is then as good as any order, since the two are the same string.
    if (i < ids.length && ids[i] === f) i++;
    else if (j < skipped.length && skipped[j]!.file === f) j++;
    else return { at: k, i, j };
  }
  return { at: -1, i, j };
}

/**
 * Checks a loaded checkpoint (loadAccumulator) against itself and against the run asked for, and
 * returns where to continue. Throws a {@link CheckpointError} naming the state file when its run
 * state is malformed or disagrees with itself, and a {@link ResumeError} naming what differs when
 * the options or the image list are not the checkpointed run's.
 */
export function checkResume(
  dir: string, loaded: { acc: CmsAccumulator; extra: Record<string, unknown> }, run: { files: readonly string[]; list: string; fingerprint: Record<string, unknown> },
): ResumePoint {
  const statePath = join(dir, STATE_FILE);
  const { acc, extra } = loaded;
  const bad = (why: string): never => {
    throw new CheckpointError(statePath, why);
  };
  const { next, skipped, list, fingerprint } = extra;
  if (typeof next !== 'number' || !Number.isSafeInteger(next) || next < 0) return bad(`its run state has no valid "next" (got ${show(next)})`);
  if (!Array.isArray(skipped) || !skipped.every((s) => isObject(s) && typeof s['file'] === 'string' && typeof s['cause'] === 'string')) {
    return bad('its run state has no valid "skipped" list (of { file, cause })');
  }
  if (typeof list !== 'string') return bad('its run state records no image list hash ("list")');
  if (!isObject(fingerprint)) return bad('its run state records no fingerprint object of the model and options');
  const skippedList = skipped as SkippedImage[];
  if (next !== acc.images + skippedList.length) {
    bad(
      `its contents disagree: "next" is ${next}, but it holds ${acc.images} added image${acc.images === 1 ? '' : 's'} and ` +
        `${skippedList.length} skipped file${skippedList.length === 1 ? '' : 's'}, so "next" should be ${acc.images + skippedList.length}`,
    );
  }

  const diff = fingerprintDiff(fingerprint, run.fingerprint);
  if (diff.length) {
    throw new ResumeError(
      dir,
      `--resume: the model or options differ from those of the run checkpointed in "${dir}": ${diff.join('; ')}. ` +
        'Resume with the same options, or start a new run (--force overwrites the checkpoint)',
      diff,
    );
  }

  const { at, i, j } = walk(run.files, next, acc.ids, skippedList);
  if (list !== run.list) {
    const where = at >= 0
      ? run.files[at] === undefined
        ? `the list now has ${run.files.length} item${run.files.length === 1 ? '' : 's'}, fewer than the ${next} the checkpointed run had done`
        : `item ${at + 1} is now "${run.files[at]}", which the checkpointed run did not have there`
      : `its first ${next} items agree, but items were added, removed or reordered after them`;
    throw new ResumeError(dir, `--resume: the image list differs from that of the run checkpointed in "${dir}": ${where}`, [where]);
  }
  if (next > run.files.length) bad(`its contents disagree with the image list: "next" is ${next}, but the list has only ${run.files.length} items`);
  if (at >= 0) {
    bad(
      `its contents disagree with the image list: item ${at + 1} ("${run.files[at]}") is neither the next added image ` +
        `(${quoted(acc.ids[i])}) nor the next skipped file (${quoted(skippedList[j]?.file)})`,
    );
  }
  return { acc, next, skipped: skippedList };
}
