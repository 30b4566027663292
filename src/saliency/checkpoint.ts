/**
 * Checkpoints of a {@link CmsAccumulator} (design.md: "Long runs checkpoint them"), so that a run
 * resumed from one ends with exactly the bytes of an uninterrupted run.
 *
 * A checkpoint is three files in one directory:
 * - `cms-sum.<hash>.npy`: the sums, float64, shape (size, size). Float64 keeps them exact (they are
 *   multiples of 2^-24 below 2^29, see cms.ts).
 * - `cms-coverage.<hash>.npy`: the per-pixel coverage, **int32**, shape (size, size). The .npy
 *   writer has no uint32; coverage ≤ images, and saving refuses (CsmError) an accumulator with a
 *   coverage above 2^31 − 1 (two billion images, far beyond any run), so int32 holds it exactly and
 *   reads as a plain integer array in NumPy. Loading refuses negative values.
 * - `cms-state.json`: `{ format: "csm-cms-checkpoint", version: 2, size, images, bound, ids,
 *   convergence, files: { "cms-sum.npy": { file, sha256, bytes }, "cms-coverage.npy": {…} },
 *   extra, stateSha256 }`. The numbers are JSON doubles, which JavaScript writes in shortest
 *   round-trip form, so they load back bit for bit.
 * `<hash>` is the first 16 hex digits of the array file's SHA-256: the arrays are named by their
 * contents, so a new checkpoint never overwrites the arrays the current state names.
 *
 * Integrity (version 2): `stateSha256` is the SHA-256 of the canonical JSON (keys sorted, no
 * spaces; {@link canonicalJson}) of the state without that field. Together with the hashes of
 * both arrays that it covers, any change to any file of a checkpoint (an edited `next`, id, count
 * or option, a flipped byte) is refused on load with a message naming the file. This detects
 * edits and corruption, not a forger: whoever edits the JSON can recompute the hash, which is why
 * a run also checks that the contents agree with each other (resume.ts). Version 1 checkpoints
 * (no `stateSha256`) are refused with a message saying so.
 *
 * Atomicity, even under kill -9 at any moment: the new arrays are written (temporary name, fsync,
 * rename: io/atomic.ts) under their new content names beside the old ones, then the state JSON is
 * renamed over the old one (the single step that switches checkpoints), and only then are the
 * arrays no state names any more deleted. At every moment `cms-state.json` names arrays that exist
 * with the hashes it records.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CsmError } from '../errors.js';
import { readNpy, writeNpy } from '../image/npy.js';
import { OutputWriteError, writeFilesAtomic, type AtomicWriteOptions } from '../io/atomic.js';
import { CmsAccumulator, type CmsConvergencePoint } from './cms.js';

export const CHECKPOINT_FORMAT = 'csm-cms-checkpoint';
export const CHECKPOINT_VERSION = 2;
export const SUM_FILE = 'cms-sum.npy';
export const COVERAGE_FILE = 'cms-coverage.npy';
export const STATE_FILE = 'cms-state.json';

/** A checkpoint that cannot be written or read. `file` is the path at fault. */
export class CheckpointError extends CsmError {
  readonly file: string;

  constructor(file: string, reason: string, options?: { cause?: unknown; action?: 'save' | 'load' }) {
    super(`cannot ${options?.action ?? 'load'} CMS checkpoint file "${file}": ${reason}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.file = file;
  }
}

interface FileRecord {
  /** The array's file name in the checkpoint folder (named by its contents). */
  file: string;
  sha256: string;
  bytes: number;
}

/** What an array file of a checkpoint may be called: `cms-sum.<16 hex>.npy` or `cms-coverage.<16 hex>.npy`. */
const ARRAY_FILE = /^cms-(sum|coverage)\.[0-9a-f]{16}\.npy$/;

/** The content-addressed file name of a checkpoint array (`cms-sum.npy` → `cms-sum.<hash>.npy`). */
function arrayFileName(role: string, hash: string): string {
  return role.replace(/\.npy$/, `.${hash.slice(0, 16)}.npy`);
}

interface StateJson {
  format: string;
  version: number;
  size: number;
  images: number;
  bound: number;
  ids: string[];
  convergence: CmsConvergencePoint[];
  files: Record<string, FileRecord>;
  extra: Record<string, unknown>;
  /** SHA-256 of the canonical JSON of the state without this field. */
  stateSha256: string;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The canonical JSON of a value: object keys sorted (by UTF-16 code units), no whitespace, members
 * whose value is undefined left out, as JSON.stringify writes numbers and strings. Two values that
 * JSON.parse(JSON.stringify(·)) maps to the same object have the same canonical JSON.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The `stateSha256` of a checkpoint state: SHA-256 of the canonical JSON of the state without that field. */
export function checkpointStateSha256(state: object): string {
  const { stateSha256: _, ...rest } = state as Record<string, unknown>;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/**
 * Saves `acc` into `dir` (created if missing) as its two arrays and cms-state.json,
 * atomically (see the module comment). `extra` is any JSON-serialisable object (run parameters,
 * the image list still to do, …) and comes back from {@link loadAccumulator} as saved.
 */
export async function saveAccumulator(dir: string, acc: CmsAccumulator, extra: object = {}, options: AtomicWriteOptions = {}): Promise<void> {
  const statePath = join(dir, STATE_FILE);
  let extraJson: unknown;
  try {
    extraJson = JSON.parse(JSON.stringify(extra) ?? 'null');
  } catch (e) {
    throw new CheckpointError(statePath, `extra is not JSON-serialisable: ${(e as Error).message}`, { cause: e, action: 'save' });
  }
  if (typeof extraJson !== 'object' || extraJson === null || Array.isArray(extraJson)) {
    throw new CheckpointError(statePath, 'extra must be a plain JSON object', { action: 'save' });
  }

  const { size } = acc;
  const coverage = new Int32Array(acc.coverage.length);
  for (let i = 0; i < coverage.length; i++) {
    const c = acc.coverage[i]!;
    if (c > 0x7fffffff) throw new CheckpointError(join(dir, COVERAGE_FILE), `coverage ${c} does not fit int32`, { action: 'save' });
    coverage[i] = c;
  }
  const sumBytes = writeNpy({ dtype: 'float64', shape: [size, size], data: acc.sum.slice() }, join(dir, SUM_FILE));
  const coverageBytes = writeNpy({ dtype: 'int32', shape: [size, size], data: coverage }, join(dir, COVERAGE_FILE));

  const state: Omit<StateJson, 'stateSha256'> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    size,
    images: acc.images,
    bound: acc.bound,
    ids: [...acc.ids],
    convergence: acc.convergence.map((p) => ({ images: p.images, change: p.change })),
    files: Object.fromEntries([[SUM_FILE, sumBytes], [COVERAGE_FILE, coverageBytes]].map(([role, bytes]) => {
      const hash = sha256(bytes as Uint8Array);
      return [role as string, { file: arrayFileName(role as string, hash), sha256: hash, bytes: (bytes as Uint8Array).length }];
    })),
    extra: extraJson as Record<string, unknown>,
  };
  const sealed: StateJson = { ...state, stateSha256: checkpointStateSha256(state) };
  const stateBytes = new TextEncoder().encode(JSON.stringify(sealed, null, 1) + '\n');

  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new CheckpointError(dir, `cannot create the directory: ${(e as Error).message}`, { cause: e, action: 'save' });
  }
  // The arrays under their content names first (beside the arrays the current state names), then
  // the state, whose rename is the one step that switches to the new checkpoint; then the arrays
  // no state names any more go.
  const files = state.files as Record<string, FileRecord>;
  try {
    await writeFilesAtomic([
      ...[SUM_FILE, COVERAGE_FILE].map((role) => ({ path: join(dir, files[role]!.file), data: role === SUM_FILE ? sumBytes : coverageBytes })),
    ], options);
    await writeFilesAtomic([{ path: statePath, data: stateBytes }], options);
  } catch (e) {
    await removeUnreferencedArrays(dir);
    if (e instanceof OutputWriteError) throw new CheckpointError(e.file, e.reason, { cause: e, action: 'save' });
    throw e;
  }
  await removeUnreferencedArrays(dir);
}

/** Deletes the array files that the state on disk does not name (older checkpoints, a failed save). */
async function removeUnreferencedArrays(dir: string): Promise<void> {
  let keep: Set<string>;
  try {
    const state = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as { files?: Record<string, { file?: unknown }> };
    keep = new Set(Object.values(state.files ?? {}).map((f) => String(f?.file)));
  } catch {
    return; // No readable state: nothing can tell which arrays matter, so none is deleted.
  }
  for (const name of await readdir(dir)) {
    if (ARRAY_FILE.test(name) && !keep.has(name)) await rm(join(dir, name), { force: true });
  }
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file is missing' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new CheckpointError(path, reason, { cause: e });
  }
}

/**
 * Loads a checkpoint written by {@link saveAccumulator}. Throws a {@link CheckpointError} naming
 * the file for a missing file, bad JSON, an unknown format or version, a hash or length mismatch
 * (a torn or corrupted checkpoint), an array of the wrong dtype or size, or inconsistent contents.
 */
export async function loadAccumulator(dir: string): Promise<{ acc: CmsAccumulator; extra: Record<string, unknown> }> {
  const statePath = join(dir, STATE_FILE);
  const stateText = new TextDecoder().decode(await readBytes(statePath));
  let raw: unknown;
  try {
    raw = JSON.parse(stateText);
  } catch (e) {
    throw new CheckpointError(statePath, `not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const failState = (why: string): never => {
    throw new CheckpointError(statePath, why);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return failState('not a JSON object');
  const state = raw as Partial<StateJson>;
  if (state.format !== CHECKPOINT_FORMAT) failState(`format is ${JSON.stringify(state.format)}, expected "${CHECKPOINT_FORMAT}"`);
  if (state.version === 1) {
    failState(
      `it is a version 1 checkpoint, written by an older csm without an integrity hash, and this csm reads only version ${CHECKPOINT_VERSION}: ` +
        'start a new run (or finish this one with the csm that wrote it)',
    );
  }
  if (state.version !== CHECKPOINT_VERSION) failState(`unsupported version ${JSON.stringify(state.version)} (this build reads version ${CHECKPOINT_VERSION})`);
  if (typeof state.stateSha256 !== 'string') failState('it records no stateSha256 (integrity hash)');
  const actual = checkpointStateSha256(state);
  if (actual !== state.stateSha256) {
    failState(
      `its contents do not match its integrity hash (stateSha256 records ${state.stateSha256}, the contents hash to ${actual}): ` +
        'the file was edited or corrupted, so it cannot be trusted; restore it or start a new run',
    );
  }
  const size = state.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) return failState(`bad size ${JSON.stringify(size)}`);
  if (typeof state.files !== 'object' || state.files === null) failState('missing "files" record');
  const extra = state.extra;
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) return failState('missing or bad "extra" object');

  const loadArray = async (name: string, dtype: 'float64' | 'int32') => {
    const record = state.files![name];
    if (typeof record !== 'object' || record === null || typeof record.sha256 !== 'string') failState(`no hash recorded for ${name}`);
    // The name comes from a file on disk: only a plain array name of this folder is followed.
    if (typeof record!.file !== 'string' || !ARRAY_FILE.test(record!.file)) failState(`bad file name recorded for ${name}: ${JSON.stringify(record!.file)}`);
    const path = join(dir, record!.file);
    const bytes = await readBytes(path);
    const hash = sha256(bytes);
    if (hash !== record!.sha256 || bytes.length !== record!.bytes) {
      throw new CheckpointError(
        path,
        `sha256 hash mismatch (file ${hash}, ${bytes.length} bytes; ${STATE_FILE} records ${record!.sha256}, ${record!.bytes} bytes): the checkpoint is torn or corrupted`,
      );
    }
    let npy;
    try {
      npy = readNpy(bytes, path);
    } catch (e) {
      throw new CheckpointError(path, (e as Error).message, { cause: e });
    }
    if (npy.dtype !== dtype) throw new CheckpointError(path, `dtype is ${npy.dtype}, expected ${dtype}`);
    if (npy.shape.length !== 2 || npy.shape[0] !== size || npy.shape[1] !== size) {
      throw new CheckpointError(path, `size mismatch: shape (${npy.shape.join(', ')}), but ${STATE_FILE} says size ${size} (expected (${size}, ${size}))`);
    }
    return npy.data;
  };
  const sum = (await loadArray(SUM_FILE, 'float64')) as Float64Array;
  const coverageI32 = (await loadArray(COVERAGE_FILE, 'int32')) as Int32Array;
  const coverage = new Uint32Array(coverageI32.length);
  for (let i = 0; i < coverage.length; i++) {
    const c = coverageI32[i]!;
    if (c < 0) throw new CheckpointError(join(dir, state.files![COVERAGE_FILE]!.file), `negative coverage ${c} at pixel (${i % size}, ${Math.floor(i / size)})`);
    coverage[i] = c;
  }

  let acc: CmsAccumulator;
  try {
    acc = CmsAccumulator.restore({
      size,
      sum,
      coverage,
      images: state.images as number,
      bound: state.bound as number,
      ids: state.ids as string[],
      convergence: state.convergence as CmsConvergencePoint[],
    });
  } catch (e) {
    throw new CheckpointError(statePath, (e as Error).message, { cause: e });
  }
  return { acc, extra: extra as Record<string, unknown> };
}
