/**
 * Inputs of the identity explanations: a gallery laid out one sub-folder per identity (zero-shot
 * recognition, Eq. 7) and a CSV of pairs (verification, Eq. 8), with τ fitted on the pairs when it
 * is not given.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CsmError } from '../errors.js';

export interface Gallery { identities: Map<string, string[]>; files: string[]; identityOf: Map<string, string> }

/** DIR/<identity>/<image>: every identity with its images, sorted. */
export async function readGallery(dir: string): Promise<Gallery> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new CsmError(`cannot read gallery "${dir}": ${(e as Error).message}`);
  }
  const identities = new Map<string, string[]>();
  for (const d of entries.filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    const files = (await readdir(join(dir, d), { withFileTypes: true })).filter((f) => f.isFile() && !f.name.startsWith('.')).map((f) => join(dir, d, f.name)).sort();
    if (files.length) identities.set(d, files);
  }
  if (identities.size === 0) throw new CsmError(`gallery "${dir}" has no identity sub-folders with images (expected DIR/<identity>/<image>)`);
  const files = [...identities.values()].flat();
  const identityOf = new Map(files.map((f) => [f, [...identities.entries()].find(([, fs]) => fs.includes(f))![0]]));
  return { identities, files, identityOf };
}

export interface Pair { a: string; b: string; same: boolean }

const GENUINE = ['1', 'true', 'same', 'genuine', 'yes'];
const IMPOSTOR = ['0', 'false', 'different', 'impostor', 'no'];

/**
 * `image1,image2,same` per line; same: 1/0, true/false, same/different, genuine/impostor or
 * yes/no, in any case. A first line whose first column is no file name (no extension) is a
 * header, as `image1,image2,same` or deepface's `master.csv` (`file_x,file_y,Decision` with
 * `Yes`/`No`). CRLF line ends and a UTF-8 byte-order
 * mark are accepted. Paths are relative to the CSV's folder.
 */
export async function readPairs(csv: string): Promise<Pair[]> {
  let text: string;
  try {
    text = await readFile(csv, 'utf8');
  } catch (e) {
    throw new CsmError(`cannot read pairs file "${csv}": ${(e as Error).message}`);
  }
  const pairs: Pair[] = [];
  let first = true;
  text.replace(/^\uFEFF/, '').split(/\r?\n|\r/).forEach((line, k) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const cols = t.split(',').map((c) => c.trim());
    const flag = (cols[2] ?? '').toLowerCase();
    const known = GENUINE.includes(flag) || IMPOSTOR.includes(flag);
    // A header's first column is no file name (image1, deepface's file_x); a first line naming a file is data.
    // (Its third column cannot tell: "same" is both a flag and the usual header.)
    const header = first && !/\.[a-z0-9]+$/i.test(cols[0] ?? '');
    first = false;
    if (header) return;
    if (cols.length !== 3) throw new CsmError(`"${csv}" line ${k + 1}: expected image1,image2,same`);
    if (!known) throw new CsmError(`"${csv}" line ${k + 1}: "${cols[2]}" is not 1/0, true/false, yes/no or same/different`);
    pairs.push({ a: resolve(dirname(csv), cols[0]!), b: resolve(dirname(csv), cols[1]!), same: GENUINE.includes(flag) });
  });
  if (!pairs.length) throw new CsmError(`"${csv}" lists no pairs`);
  return pairs;
}

/**
 * Splits pairs into a half that fits τ and a held-out half: genuine and impostor pairs alternate
 * separately (the 1st, 3rd… of each go to `fit`), so both halves hold about half of each kind.
 */
export function splitPairs<P extends { same: boolean }>(pairs: readonly P[]): { fit: P[]; held: P[] } {
  const fit: P[] = [], held: P[] = [];
  let genuine = 0, impostor = 0;
  for (const p of pairs) {
    const k = p.same ? genuine++ : impostor++;
    (k % 2 === 0 ? fit : held).push(p);
  }
  return { fit, held };
}

/** Share of pairs classified right by τ (genuine when cos ≥ τ). */
export function verificationAccuracy(similarities: readonly number[], same: readonly boolean[], tau: number): number {
  return similarities.filter((s, k) => (s >= tau) === same[k]).length / similarities.length;
}

/**
 * The threshold τ on cosine similarity that classifies the most pairs correctly (genuine when
 * cos ≥ τ), taken midway between neighbouring similarities; ties go to the smaller τ.
 */
export function fitThreshold(similarities: number[], same: boolean[]): { tau: number; accuracy: number } {
  const order = similarities.map((s, k) => ({ s, same: same[k]! })).sort((a, b) => a.s - b.s);
  const candidates = [order[0]!.s - 1e-6, ...order.slice(1).map((o, k) => (o.s + order[k]!.s) / 2), order[order.length - 1]!.s + 1e-6];
  let best = { tau: candidates[0]!, accuracy: -1 };
  for (const tau of candidates) {
    const correct = order.filter((o) => (o.s >= tau) === o.same).length / order.length;
    if (correct > best.accuracy) best = { tau, accuracy: correct };
  }
  return best;
}

export const pairId = (p: Pair): string => `${p.a}|${p.b}|${p.same ? 1 : 0}`;
