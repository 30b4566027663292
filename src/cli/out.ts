/**
 * The output folder of a command, readied before any work (io/out-dir.ts): checked (not a file,
 * creatable, writable), locked against a second run (`.csm.lock`), and refused when it already
 * holds a finished run's outputs unless --force (or the command continues that run, --resume).
 */
import { openOutDir, type OutDirLock } from '../index.js';
import { warn } from './output.js';

/** What a command would overwrite in its --out. */
export interface OutputGuard {
  /** Files (relative to --out) that a finished run of this command leaves, e.g. cms.json. */
  finished?: readonly string[];
  /** A checkpoint (relative to --out) that marks an unfinished run. */
  checkpoint?: string;
  /** The command continues the run in --out (--resume). */
  resume?: boolean;
}

/** Readies `dir` for a command; the caller releases the lock when it ends (also on errors). */
export async function openOutput(dir: string, guard: OutputGuard & { force?: boolean } = {}): Promise<OutDirLock> {
  return openOutDir(dir, {
    ...(guard.finished ? { finished: guard.finished } : {}),
    ...(guard.checkpoint ? { checkpoint: guard.checkpoint } : {}),
    force: guard.force ?? false,
    resume: guard.resume ?? false,
    command: `csm ${process.argv.slice(2).join(' ')}`.trim(),
    onWarning: (m) => warn(`warning: ${m}`),
  });
}
