/**
 * The output folder of a run, checked and claimed before any work starts:
 *
 * - {@link checkOutDir}: the path is not a file, the folder can be created, and a probe file can
 *   be created and removed in it (so an unwritable folder is found before a model is loaded, not
 *   after hours of work);
 * - {@link lockOutDir}: `<dir>/.csm.lock`, created with the `wx` flag (it fails if the file
 *   exists) and holding the pid, host, start time and command of the run, stops two runs from
 *   writing into one folder. A lock left by a run that died (its pid is not alive on this host)
 *   is taken over with a warning. The lock is released by {@link OutDirLock.release}, and on
 *   process exit or SIGINT/SIGTERM/SIGHUP as a backstop;
 * - {@link openOutDir}: both, then refuses a folder that already holds a finished run's outputs
 *   (or an unfinished run's checkpoint) unless the caller overwrites (`force`) or continues
 *   (`resume`) it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CsmError } from '../errors.js';
import { describeIoError } from './atomic.js';

export const LOCK_FILE = '.csm.lock';

/** An output folder that cannot be used (a file, not creatable, not writable, locked, or holding a finished run). */
export class OutDirError extends CsmError {
  constructor(readonly dir: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO 8601 time the run started. */
  started: string;
  command: string;
  /** Tells this lock from a later one by the same pid. */
  token: string;
}

/** A claimed output folder. */
export interface OutDirLock {
  dir: string;
  file: string;
  info: LockInfo;
  /** Removes the lock file (if it is still this run's). Safe to call more than once. */
  release(): Promise<void>;
}

const isCode = (e: unknown, ...codes: string[]): boolean => codes.includes((e as NodeJS.ErrnoException)?.code ?? '');

/**
 * Checks that `dir` can take a run's outputs before any work starts: it is not a file, it exists or
 * can be created (with its parents), and a probe file can be created and removed in it. Throws an
 * {@link OutDirError} of one sentence naming the folder and the cause.
 */
export async function checkOutDir(dir: string): Promise<void> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw new OutDirError(dir, `the output folder "${dir}" is a file, not a folder: choose another --out`);
  } catch (e) {
    if (e instanceof OutDirError) throw e;
    if (!isCode(e, 'ENOENT')) throw new OutDirError(dir, `cannot use the output folder "${dir}": ${describeIoError(e)}`, { cause: e });
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new OutDirError(dir, `cannot create the output folder "${dir}": ${describeIoError(e)}`, { cause: e });
  }
  const probe = join(dir, `.csm-probe-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    const fh = await open(probe, 'wx');
    try {
      await fh.writeFile('csm write probe\n');
    } finally {
      await fh.close();
    }
    await unlink(probe);
  } catch (e) {
    await rm(probe, { force: true }).catch(() => undefined);
    throw new OutDirError(dir, `the output folder "${dir}" is not writable: ${describeIoError(e)}`, { cause: e });
  }
}

/** Whether a process with this pid exists on this host (EPERM: it exists but belongs to another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return !isCode(e, 'ESRCH');
  }
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.started === 'string' && typeof v.token === 'string') {
      return { pid: v.pid, host: v.host, started: v.started, command: typeof v.command === 'string' ? v.command : '?', token: v.token };
    }
  } catch {
    // not a lock csm wrote
  }
  return undefined;
}

/** Locks held by this process, released on exit or a termination signal if their owner did not. */
const held = new Map<string, LockInfo>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function releaseSync(file: string, token: string): void {
  try {
    if (parseLock(readFileSync(file, 'utf8'))?.token === token) unlinkSync(file);
  } catch {
    // already gone
  }
}

function releaseAllSync(): void {
  for (const [file, info] of held) releaseSync(file, info.token);
  held.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  releaseAllSync();
  uninstall();
  // Die of the same signal, as the process would have without this handler.
  process.kill(process.pid, signal);
}

let installed = false;
function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', releaseAllSync);
  for (const s of SIGNALS) process.on(s, onSignal);
}
function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', releaseAllSync);
  for (const s of SIGNALS) process.off(s, onSignal);
}

const describeHolder = (info: LockInfo): string => `pid ${info.pid} on ${info.host}, "${info.command}", started ${info.started}`;

/**
 * Claims `dir` (which must exist) for this run with `<dir>/.csm.lock`. Throws an
 * {@link OutDirError} naming the folder and the other run's pid when another live run holds it.
 * A lock whose pid is dead on this host is taken over, with `onWarning` told so.
 */
export async function lockOutDir(dir: string, options: { command?: string; onWarning?: (message: string) => void } = {}): Promise<OutDirLock> {
  const file = join(dir, LOCK_FILE);
  const info: LockInfo = {
    pid: process.pid, host: hostname(), started: new Date().toISOString(), command: options.command ?? process.argv.slice(2).join(' '), token: randomBytes(8).toString('hex'),
  };
  for (let attempt = 0; ; attempt++) {
    let fh;
    try {
      fh = await open(file, 'wx');
    } catch (e) {
      if (!isCode(e, 'EEXIST') || attempt >= 3) throw new OutDirError(dir, `cannot lock the output folder "${dir}" (${file}): ${describeIoError(e)}`, { cause: e });
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (re) {
        if (isCode(re, 'ENOENT')) continue; // released meanwhile
        throw new OutDirError(dir, `cannot read the lock file "${file}": ${describeIoError(re)}`, { cause: re });
      }
      const other = parseLock(text);
      if (!other) {
        throw new OutDirError(dir, `the output folder "${dir}" holds a lock file "${file}" that csm cannot read; if no other csm run is writing there, delete it`);
      }
      const here = other.host === info.host;
      if (!here || pidAlive(other.pid)) {
        const who = other.pid === process.pid && here ? 'an earlier run in this process' : 'another csm run';
        throw new OutDirError(
          dir,
          `the output folder "${dir}" is in use by ${who} (${describeHolder(other)}): wait for it to finish or choose another --out` +
            (here ? '' : `; if that run is gone, delete ${file}`),
        );
      }
      await takeOver(dir, file, other);
      options.onWarning?.(`took over the lock of a csm run that is gone (${describeHolder(other)}) in "${dir}"`);
      continue;
    }
    try {
      await fh.writeFile(`${JSON.stringify(info)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    break;
  }
  held.set(file, info);
  install();
  let released = false;
  return {
    dir, file, info,
    async release() {
      if (released) return;
      released = true;
      held.delete(file);
      if (!held.size) uninstall();
      try {
        if (parseLock(await readFile(file, 'utf8'))?.token === info.token) await unlink(file);
      } catch {
        // already gone
      }
    },
  };
}

/**
 * Removes a stale lock without removing a fresh one that another run may have put in its place
 * meanwhile: the lock is renamed aside, and if what was moved is not the stale lock, it is put back.
 */
async function takeOver(dir: string, file: string, stale: LockInfo): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (e) {
    if (isCode(e, 'ENOENT')) return;
    throw new OutDirError(dir, `cannot remove the stale lock "${file}": ${describeIoError(e)}`, { cause: e });
  }
  const moved = parseLock(await readFile(aside, 'utf8').catch(() => ''));
  if (moved?.token !== stale.token) {
    // Another run took it over first: put its lock back (link fails if yet another one exists).
    await link(aside, file).catch(() => undefined);
  }
  await rm(aside, { force: true });
}

export interface OpenOutDirOptions {
  /** Files (relative to the folder) whose presence means a finished run that this one would overwrite. */
  finished?: readonly string[];
  /** A file (relative to the folder) whose presence means a run's checkpoint, to be resumed or overwritten. */
  checkpoint?: string;
  /** Overwrite a finished run's outputs or an unfinished run's checkpoint. */
  force?: boolean;
  /** This run continues the checkpointed one (no refusal). */
  resume?: boolean;
  /** Recorded in the lock (default: the process arguments). */
  command?: string;
  onWarning?: (message: string) => void;
}

/**
 * Readies an output folder before any work: {@link checkOutDir}, {@link lockOutDir}, then refuses
 * (OutDirError, the lock released) a folder holding a finished run's outputs (`finished`) unless
 * `force` or `resume`, or an unfinished run's checkpoint unless `force` or `resume`. The caller
 * releases the lock when the run ends, also on errors.
 */
export async function openOutDir(dir: string, options: OpenOutDirOptions = {}): Promise<OutDirLock> {
  await checkOutDir(dir);
  const lock = await lockOutDir(dir, { ...(options.command ? { command: options.command } : {}), ...(options.onWarning ? { onWarning: options.onWarning } : {}) });
  try {
    if (!options.force && !options.resume) {
      const exists = async (name: string): Promise<boolean> => stat(join(dir, name)).then(() => true, () => false);
      const found: string[] = [];
      for (const name of options.finished ?? []) if (await exists(name)) found.push(name);
      if (found.length) {
        throw new OutDirError(
          dir,
          `the output folder "${dir}" already holds the outputs of a finished run (${found.slice(0, 3).join(', ')}${found.length > 3 ? ', …' : ''}) ` +
            'and csm will not overwrite them: choose another --out, or add --force to overwrite them',
        );
      }
      if (options.checkpoint && await exists(options.checkpoint)) {
        throw new OutDirError(
          dir,
          `the output folder "${dir}" holds the checkpoint of an unfinished run (${options.checkpoint}): add --resume to continue it, --force to start over, or choose another --out`,
        );
      }
    }
  } catch (e) {
    await lock.release();
    throw e;
  }
  return lock;
}
