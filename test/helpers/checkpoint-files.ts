/** Where a checkpoint's arrays are: their names come from its state file (they are named by content). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The path of a checkpoint array by its role (`cms-sum.npy` or `cms-coverage.npy`). */
export function arrayPath(dir: string, role: string): string {
  const state = JSON.parse(readFileSync(join(dir, 'cms-state.json'), 'utf8')) as { files: Record<string, { file: string }> };
  return join(dir, state.files[role]!.file);
}

/** The file names a complete checkpoint in `dir` consists of, sorted. */
export function checkpointFiles(dir: string): string[] {
  return ['cms-state.json', ...['cms-sum.npy', 'cms-coverage.npy'].map((r) => arrayPath(dir, r).slice(dir.length + 1))].sort();
}
