/** `csm compare` as a user runs it: two models on the same photos, and one model on two groups from a CSV. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { readNpy } from '../../src/index.js';
import { celebaImages, REPO_ROOT, skip } from '../helpers/data.js';

const csm = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8' });
const FAST = ['--stride', '16', '--canonical-size', '128', '--quiet', '--permutations', '200', '--bootstrap', '200'];
const OUTPUTS = ['compare.png', 'compare-diff-all.png', 'compare-convergence.png', 'a.npy', 'b.npy', 'diff.npy', 'diff-low.npy', 'diff-high.npy', 'significant.npy', 't.npy', 'p.npy', 'p-fwer.npy', 'compare-regions.md', 'compare.json', 'index.html'];

function checkOutputs(out: string): Record<string, any> {
  for (const f of OUTPUTS) assert.ok(existsSync(join(out, f)), f);
  const side = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'));
  const diff = readNpy(readFileSync(join(out, 'diff.npy')), 'diff.npy');
  const low = readNpy(readFileSync(join(out, 'diff-low.npy')), 'diff-low.npy');
  const high = readNpy(readFileSync(join(out, 'diff-high.npy')), 'diff-high.npy');
  const sig = readNpy(readFileSync(join(out, 'significant.npy')), 'significant.npy');
  assert.equal(diff.shape, [128, 128]);
  assert.is(sig.dtype, 'uint8');
  let tested = 0;
  for (let p = 0; p < 128 * 128; p++) {
    const d = diff.data[p] as number;
    if (Number.isNaN(d)) { assert.is(sig.data[p], 0); continue; }
    tested++;
    assert.ok((low.data[p] as number) <= d + 1e-6 && d <= (high.data[p] as number) + 1e-6, `pixel ${p}: ${low.data[p]} ≤ ${d} ≤ ${high.data[p]}`);
  }
  assert.is(tested, side.counts.testedPixels);
  assert.is(side.regions.length, 7);
  assert.is(side.convergence.A.length, side.sides.A.images);
  for (const b of side.convergence.B) assert.ok(b.low <= b.median && b.median <= b.high);
  for (const r of side.regions) for (const k of ['a', 'b', 'diff', 'low', 'high', 'p', 'pFwer', 'pHolm']) assert.type(r[k], 'number', `${r.region}.${k}`);
  assert.match(side.statistics.methods.correction, side.statistics.correction === 'maxt' ? /max-statistic/ : /Benjamini–Hochberg/);
  assert.is(side.statistics.permutations, 200);
  assert.is(side.statistics.alpha, 0.05);
  assert.match(readFileSync(join(out, 'index.html'), 'utf8'), /compare\.png/);
  return side;
}

test('csm compare --help explains both designs and the methods', () => {
  const r = csm('compare', '--help');
  assert.is(r.status, 0);
  for (const s of ['--model-b', '--groups', '--group-by', '--permutations', '--alpha', 'Westfall', 'Benjamini', 'sign of whole per-image', 'significant.npy']) assert.ok(r.stdout.includes(s), s);
  assert.ok(csm('--help').stdout.includes('compare'));
  const bad = csm('compare', '--model', 'gender', '--images', '/nonexistent', '--out', mkdtempSync(join(tmpdir(), 'csm-cmp-')));
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /exactly one of --model-b/);
  const norm = csm('compare', '--model', 'gender', '--model-b', 'age', '--images', '/nonexistent', '--normalise', 'max', '--out', mkdtempSync(join(tmpdir(), 'csm-cmp-')));
  assert.is(norm.status, 2);
  assert.match(norm.stderr, /--normalise takes none \| mean-abs/);
});

test('csm compare: two gender models on the same photos (paired)', () => {
  const photos = celebaImages();
  if (!photos) return skip('compare on photos', 'csm-celeba100 is not there');
  const list = join(mkdtempSync(join(tmpdir(), 'csm-cmp-list-')), 'list.txt');
  writeFileSync(list, `${photos.slice(0, 4).join('\n')}\n`);
  const out = mkdtempSync(join(tmpdir(), 'csm-cmp-paired-'));
  const r = csm('compare', '--model', 'gender', '--model-b', 'faceres', '--head-b', 'gender', '--images', list, '--out', out, ...FAST);
  assert.is(r.status, 0, r.stderr);
  const side = checkOutputs(out);
  assert.is(side.design, 'paired');
  assert.is(side.sides.A.label, 'gender');
  assert.is(side.sides.B.label, 'faceres:gender');
  assert.is(side.sides.B.model.head, 'gender');
  assert.is(side.counts.explained, 4);
  assert.is(side.statistics.exhaustive, true); // 2^4 = 16 ≤ 200: every sign flip
  assert.is(side.statistics.permutationsUsed, 16);
  assert.match(r.stderr, /smallest attainable p-value is 0\.125/);
});

test('csm compare: one model on two groups from a CSV', () => {
  const photos = celebaImages();
  if (!photos) return skip('compare groups', 'csm-celeba100 is not there');
  const dir = mkdtempSync(join(tmpdir(), 'csm-cmp-groups-'));
  const csv = join(dir, 'groups.csv');
  // Relative names, resolved against --images.
  writeFileSync(csv, `file,group\n${photos.slice(0, 6).map((p, k) => `${basename(p)},${k % 2 ? 'odd' : 'even'}`).join('\n')}\n`);
  const out = join(dir, 'out');
  const r = csm('compare', '--model', 'gender', '--groups', csv, '--images', join(photos[0]!, '..'), '--out', out, ...FAST, '--correction', 'fdr', '--normalise', 'mean-abs');
  assert.is(r.status, 0, r.stderr);
  const side = checkOutputs(out);
  assert.is(side.design, 'groups');
  assert.equal(side.grouping.order, ['even', 'odd']);
  assert.is(side.sides.A.images, 3);
  assert.is(side.sides.B.images, 3);
  assert.is(side.statistics.correction, 'fdr');
  assert.is(side.normalise.method, 'mean-abs');
  assert.match(side.statistics.methods.permutation, /shuffled group labels/);
  assert.is(Object.keys(side.assignments).length, 6);
  // A finished run is not overwritten without --force.
  const again = csm('compare', '--model', 'gender', '--groups', csv, '--images', join(photos[0]!, '..'), '--out', out, ...FAST);
  assert.is(again.status, 1);
});

test('csm compare --group-by: groups by the predicted class, even when --class fixes the explained one', () => {
  const photos = celebaImages();
  if (!photos) return skip('compare group-by', 'csm-celeba100 is not there');
  // The gender model calls the first three female and the last three male (checked on this data set).
  const names = ['001841.jpg', '002595.jpg', '004263.jpg', '000686.jpg', '001978.jpg', '002060.jpg'];
  const dir = mkdtempSync(join(tmpdir(), 'csm-cmp-by-'));
  const list = join(dir, 'list.txt');
  writeFileSync(list, `${names.map((n) => join(photos[0]!, '..', n)).join('\n')}\n`);
  const out = join(dir, 'out');
  const r = csm('compare', '--model', 'gender', '--class', 'male', '--group-by', 'gender:gender', '--images', list, '--out', out, ...FAST);
  assert.is(r.status, 0, r.stderr);
  const side = checkOutputs(out);
  assert.equal(side.grouping, { source: 'prediction', model: 'gender', order: ['female', 'male'] });
  assert.equal(Object.values(side.assignments), ['female', 'female', 'female', 'male', 'male', 'male']);
  assert.equal(side.explainedClasses, { female: { male: 3 }, male: { male: 3 } });
  const two = csm('compare', '--model', 'gender', '--group-by', 'emotion:expression', '--images', list, '--out', join(dir, 'o2'), ...FAST);
  assert.is(two.status, 2);
  assert.match(two.stderr, /needs a two-class head; emotion has 7 classes/);
});

test.run();
