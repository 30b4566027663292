/**
 * Reading an input file without trusting it: only a regular file (or a symbolic link to one) is
 * opened, never a FIFO, device, socket or directory, so that a FIFO named `x.jpg` cannot hang the
 * run and a link to /dev/zero cannot fill memory; the file is opened non-blocking and its type
 * checked again on the open descriptor (the path may be swapped between the two); and no more than
 * a size cap is read, even from a file that grows while being read.
 *
 * Failures are `FileRefusal`s carrying a plain-words reason; decode.ts turns them into
 * ImageDecodeErrors naming the file.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** Default cap on an input file's size: far above any photo, far below what would strain memory. */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

/** Why a file was not read, in plain words (a clause: "it is a directory, not a regular file"). */
export class FileRefusal extends Error {
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'FileRefusal';
  }
}

/** "a FIFO (named pipe)", "a directory", ...: what a non-regular file is, for messages. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFile()) return 'a regular file';
  return 'not a regular file';
}

/** Sizes in messages: bytes below 1 KiB, else KiB/MiB/GiB with one decimal where it matters. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** An fs error as a plain-words clause; the code (ENOENT...) is not shown. */
export function describeFsError(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'ENOTDIR': return 'a folder on its path is not a folder';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'ELOOP': return 'it is a symbolic link that loops (too many levels of links)';
    case 'ENAMETOOLONG': return 'its path is too long';
    case 'EISDIR': return 'it is a directory, not a regular file';
    case 'EMFILE':
    case 'ENFILE': return 'too many files are open';
    case 'EIO': return 'an input/output error occurred while reading it';
    case 'ENXIO':
    case 'ENODEV': return 'it is a device that cannot be read';
    case 'ETIMEDOUT':
    case 'EAGAIN':
    case 'EWOULDBLOCK': return 'it could not be read without waiting (a network or special file?)';
    default: return typeof code === 'string' ? `the operating system refused to read it (${code})` : 'it could not be read';
  }
}

/** Where a link points, best effort, for the message; undefined when it cannot be resolved. */
async function linkTarget(path: string | Buffer): Promise<string | undefined> {
  try {
    return (await realpath(path, { encoding: 'buffer' })).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * Stat `path` and refuse anything but a regular file or a link to one. Returns the stats of the
 * file itself (the link's target).
 */
async function checkRegular(path: string | Buffer): Promise<Stats> {
  let own: Stats;
  try {
    own = await lstat(path);
  } catch (err) {
    throw new FileRefusal(describeFsError(err), { cause: err });
  }
  if (!own.isSymbolicLink()) {
    if (!own.isFile()) throw new FileRefusal(`it is ${fileKind(own)}, not a regular file`);
    return own;
  }
  let target: Stats;
  try {
    target = await stat(path);
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if (code === 'ENOENT') throw new FileRefusal('it is a symbolic link whose target does not exist', { cause: err });
    throw new FileRefusal(describeFsError(err), { cause: err });
  }
  if (!target.isFile()) {
    const to = await linkTarget(path);
    throw new FileRefusal(`it is a symbolic link to ${fileKind(target)}${to === undefined ? '' : ` ("${to}")`}, not a regular file`);
  }
  return target;
}

function tooBig(size: number, maxBytes: number): FileRefusal {
  return new FileRefusal(`the file is ${formatBytes(size)}, over the size limit of ${formatBytes(maxBytes)}`);
}

/**
 * The whole content of a regular file of at most `maxBytes` bytes. Throws FileRefusal for
 * anything else, before opening it where the type alone rules it out.
 */
export async function readRegularFile(path: string | Buffer, maxBytes: number = DEFAULT_MAX_FILE_BYTES): Promise<Buffer> {
  const before = await checkRegular(path);
  if (before.size > maxBytes) throw tooBig(before.size, maxBytes);
  let handle;
  try {
    // O_NONBLOCK: should the path have been swapped for a FIFO since the stat, open does not wait
    // for a writer (the fstat below then refuses it). Regular-file reads are unaffected.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new FileRefusal(describeFsError(err), { cause: err });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new FileRefusal(`it is ${fileKind(st)}, not a regular file`);
    if (st.dev !== before.dev || st.ino !== before.ino) throw new FileRefusal('it was replaced by another file while being opened');
    if (st.size > maxBytes) throw tooBig(st.size, maxBytes);
    // Read what fstat promised, then on to the end of file: some regular files report a wrong
    // size (procfs says 0), and a file may grow meanwhile. Never past maxBytes.
    // One byte more than promised, so that the usual end of file is seen without growing.
    let buffer = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > maxBytes) throw new FileRefusal(`the file grew past the size limit of ${formatBytes(maxBytes)} while being read`);
        const bigger = Buffer.allocUnsafe(Math.min(Math.max(2 * buffer.length, 65536), maxBytes + 1));
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      let n: number;
      try {
        ({ bytesRead: n } = await handle.read(buffer, length, buffer.length - length, null));
      } catch (err) {
        throw new FileRefusal(describeFsError(err), { cause: err });
      }
      if (n === 0) break;
      length += n;
    }
    if (length > maxBytes) throw new FileRefusal(`the file grew past the size limit of ${formatBytes(maxBytes)} while being read`);
    return buffer.subarray(0, length);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Node decodes file names as UTF-8, replacing bytes that are not UTF-8 with U+FFFD, so a name from
 * readdir or argv that is not UTF-8 no longer opens the file it came from (ENOENT). For such a
 * name, look in its folder for the one entry whose bytes decode to it and return that entry's real
 * (Buffer) path. Undefined when the name has no U+FFFD; a FileRefusal when it cannot be resolved.
 */
export async function resolveNonUtf8Name(path: string): Promise<Buffer | undefined> {
  if (!path.includes('\uFFFD')) return undefined;
  const dir = dirname(path);
  const name = basename(path);
  if (dir.includes('\uFFFD') || !name.includes('\uFFFD')) {
    throw new FileRefusal('no such file, or a folder name on its path is not valid UTF-8 (shown with U+FFFD) and cannot be opened by this name');
  }
  let entries: Buffer[];
  try {
    entries = await readdir(dir, { encoding: 'buffer' });
  } catch (err) {
    throw new FileRefusal(`its name is not valid UTF-8 and its folder cannot be listed (${describeFsError(err)})`, { cause: err });
  }
  const matches = entries.filter((e) => e.toString('utf8') === name);
  if (matches.length === 0) throw new FileRefusal('no such file (nor one whose name, not valid UTF-8, reads the same)');
  if (matches.length > 1) {
    throw new FileRefusal(`its name is not valid UTF-8 and ${matches.length} files in its folder have names that read the same, so it cannot be told apart`);
  }
  return Buffer.concat([Buffer.from(dir === '/' ? '' : dir, 'utf8'), Buffer.from('/'), matches[0]!]);
}
