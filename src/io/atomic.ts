/**
 * Every file csm writes for a user (maps, figures, sidecars, reports, checkpoints) goes through
 * here, so that a crash, a full disk or an I/O error never leaves a truncated file behind:
 *
 * - each file is written to a temporary name in its own folder (same file system), flushed to the
 *   disk (fsync), and only then renamed over its final name, which is atomic;
 * - a set of files ({@link writeFilesAtomic}) is written in two phases: every temporary file first,
 *   then the renames, so that a failure while writing leaves none of the set changed;
 * - before anything is written, the free space of each folder is compared with the bytes about to
 *   be written (rounded up to the file system's blocks): too little is refused up front, naming the
 *   folder and both sizes;
 * - a failed write becomes one {@link OutputWriteError} sentence naming the file and the cause
 *   (ENOSPC, EIO, …), with the temporary file removed.
 *
 * The file system calls that fail on a full or broken disk (statfs, writing the bytes) can be
 * replaced through {@link AtomicWriteOptions.io}, which is how the tests exercise those paths
 * without root or a real full disk.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, statfs, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CsmError } from '../errors.js';

/** A file to write: its path and its contents (a string is written as UTF-8). */
export interface OutputFile {
  path: string;
  data: Uint8Array | string;
}

/** Free space of a file system as `fs.statfs` reports it. */
export interface FreeSpace {
  /** Blocks available to an unprivileged user. */
  bavail: number;
  /** Block size in bytes. */
  bsize: number;
}

/** The file system calls that can be replaced (tests inject a full disk or a failing device). */
export interface AtomicIo {
  /** Free space of the file system holding `dir` (default: fs.statfs). */
  statfs?: (dir: string) => Promise<FreeSpace>;
  /** Writes all of `bytes` to the open temporary file (default: handle.writeFile). */
  write?: (handle: FileHandle, bytes: Uint8Array, tempPath: string) => Promise<void>;
}

export interface AtomicWriteOptions {
  /** Compare the bytes with the folder's free space before writing (default true). */
  checkSpace?: boolean;
  io?: AtomicIo;
}

const CAUSES: Record<string, string> = {
  ENOSPC: 'the disk is full (ENOSPC)',
  EDQUOT: 'the disk quota is exceeded (EDQUOT)',
  EIO: 'the device reported an input/output error (EIO)',
  EROFS: 'the file system is read-only (EROFS)',
  EACCES: 'permission denied (EACCES)',
  EPERM: 'operation not permitted (EPERM)',
  ENOENT: 'its folder does not exist (ENOENT)',
  ENOTDIR: 'a part of its path is a file, not a folder (ENOTDIR)',
  EISDIR: 'it is a folder (EISDIR)',
  EFBIG: 'the file is too large for the file system (EFBIG)',
};

/** The cause of a failed file operation in words, with its code. */
export function describeIoError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code && CAUSES[code]) return CAUSES[code]!;
  const message = (e as Error)?.message ?? String(e);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/** A file that could not be written. No partial file is left at `file` (it keeps its old contents, if any). */
export class OutputWriteError extends CsmError {
  readonly file: string;
  /** The cause in words, e.g. "the disk is full (ENOSPC); no partial file was left". */
  readonly reason: string;
  /** The system error code (ENOSPC, EIO, …) when there is one. */
  readonly code: string | undefined;

  constructor(file: string, cause: unknown) {
    const reason = `${describeIoError(cause)}; no partial file was left`;
    super(`cannot write "${file}": ${reason}`, { cause });
    this.file = file;
    this.reason = reason;
    this.code = (cause as NodeJS.ErrnoException)?.code;
  }
}

/** The outputs do not fit in the free space of their folder; nothing was written. */
export class OutputSpaceError extends CsmError {
  constructor(readonly dir: string, readonly needed: number, readonly free: number) {
    super(`not enough free space in "${dir}": the outputs need ${formatBytes(needed)} but only ${formatBytes(free)} is free, so nothing was written`);
  }
}

/** Bytes in a short human form (1 kB = 1000 bytes), with the exact count when it is rounded. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} bytes`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]} (${n} bytes)`;
}

const toBytes = (data: Uint8Array | string): Uint8Array => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);

const defaultStatfs = async (dir: string): Promise<FreeSpace> => {
  const s = await statfs(dir);
  return { bavail: Number(s.bavail), bsize: Number(s.bsize) };
};

/**
 * Refuses (OutputSpaceError) when files of these sizes would not fit in the free space of `dir`'s
 * file system, each rounded up to whole blocks. A file system that cannot report its free space
 * passes (the write itself still fails cleanly if the disk fills).
 */
export async function checkFreeSpace(dir: string, sizes: readonly number[], io: AtomicIo = {}): Promise<void> {
  let space: FreeSpace;
  try {
    space = await (io.statfs ?? defaultStatfs)(dir);
  } catch {
    return;
  }
  const block = space.bsize > 0 ? space.bsize : 1;
  const needed = sizes.reduce((s, n) => s + Math.ceil(n / block) * block, 0);
  const free = space.bavail * block;
  if (needed > free) throw new OutputSpaceError(dir, needed, free);
}

async function writeTemp(path: string, bytes: Uint8Array, io: AtomicIo): Promise<string> {
  const temp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx');
    if (io.write) await io.write(handle, bytes, temp);
    else await handle.writeFile(bytes);
    await handle.sync();
    const h = handle;
    handle = undefined;
    await h.close();
    return temp;
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw new OutputWriteError(path, e);
  }
}

/** Flushes a folder's entries (the renames) where the platform allows it. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not supported everywhere (e.g. Windows); the renames are atomic all the same.
  }
}

/**
 * Writes a set of files, each atomically (temporary file in its folder, fsync, rename), after
 * checking the free space of every folder. All temporary files are written before any rename,
 * so a failure while writing (ENOSPC, EIO, …) changes none of the files: the temporary files are
 * removed and an {@link OutputWriteError} names the file and the cause. Folders must exist.
 * Returns the paths in order.
 */
export async function writeFilesAtomic(files: readonly OutputFile[], options: AtomicWriteOptions = {}): Promise<string[]> {
  const io = options.io ?? {};
  const items = files.map((f) => ({ path: f.path, bytes: toBytes(f.data) }));
  const dirs = [...new Set(items.map((f) => dirname(f.path)))];
  if (options.checkSpace ?? true) {
    for (const dir of dirs) await checkFreeSpace(dir, items.filter((f) => dirname(f.path) === dir).map((f) => f.bytes.length), io);
  }
  const temps: string[] = [];
  const removeTemps = async (from: number): Promise<void> => {
    for (const t of temps.slice(from)) await rm(t, { force: true }).catch(() => undefined);
  };
  try {
    for (const f of items) temps.push(await writeTemp(f.path, f.bytes, io));
  } catch (e) {
    await removeTemps(0);
    throw e;
  }
  for (const [k, f] of items.entries()) {
    try {
      await rename(temps[k]!, f.path);
    } catch (e) {
      await removeTemps(k);
      throw new OutputWriteError(f.path, e);
    }
  }
  for (const dir of dirs) await syncDir(dir);
  return items.map((f) => f.path);
}

/** Writes one file atomically (see {@link writeFilesAtomic}). */
export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFilesAtomic([{ path, data }], options);
}
