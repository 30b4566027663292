/** The groups of a comparison from a CSV of "file,group" lines (csm compare --groups, csm paper --groups). */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CsmError } from '../errors.js';

/** "file,group" lines → [file, group][] (paths resolved against `base`). */
export async function readGroups(csv: string, base: string): Promise<{ file: string; group: string }[]> {
  const text = await readFile(csv, 'utf8').catch(() => { throw new CsmError(`cannot read the groups file "${csv}"`); });
  const rows: { file: string; group: string }[] = [];
  text.split(/\r?\n/).forEach((line, k) => {
    const l = line.trim();
    if (!l || l.startsWith('#')) return;
    const cut = l.lastIndexOf(',');
    if (cut <= 0 || cut === l.length - 1) throw new CsmError(`${csv}:${k + 1}: expected "file,group", got "${l}"`);
    const file = l.slice(0, cut).trim(), group = l.slice(cut + 1).trim();
    if (rows.length === 0 && file.toLowerCase() === 'file' && group.toLowerCase() === 'group') return;
    rows.push({ file: isAbsolute(file) ? file : resolve(base, file), group });
  });
  const groups = [...new Set(rows.map((r) => r.group))];
  if (groups.length !== 2) throw new CsmError(`${csv}: needs exactly two groups, found ${groups.length} (${groups.join(', ')})`);
  return rows;
}

/**
 * The folder that a groups CSV's relative paths are read from: --images when it is a folder, the
 * folder of --images when it is a list file (a list's own paths are relative to it), else the
 * CSV's own folder.
 */
export async function groupsBase(csv: string, images?: string): Promise<string> {
  if (!images) return dirname(resolve(csv));
  const info = await stat(images).catch(() => { throw new CsmError(`"${images}" does not exist (give a folder of images or a list file)`); });
  return info.isDirectory() ? resolve(images) : dirname(resolve(images));
}
