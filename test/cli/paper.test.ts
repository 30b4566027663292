/**
 * `csm paper` end to end on four CelebA photos (two faces faceres calls female, two male) with a
 * coarse grid and three of its runs (gender, faceres gender, head pose): every analysis writes its
 * files, the numbers carry intervals, and --reuse redoes the analyses from the kept maps.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { celebaImages, REPO_ROOT, skip } from '../helpers/data.js';

const csm = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8' });
const PHOTOS = ['000686.jpg', '001841.jpg', '002060.jpg', '002595.jpg'];

test('csm paper: five-task figure, gender models compared, pose bins, eye region by prediction and by CSV; --reuse', () => {
  const all = celebaImages();
  if (!all) return skip('csm paper end to end', 'csm-celeba100 is absent');
  const photos = PHOTOS.map((p) => all.find((f) => f.endsWith(`/${p}`))!);
  const work = mkdtempSync(join(tmpdir(), 'csm-paper-'));
  writeFileSync(join(work, 'list.txt'), `${photos.join('\n')}\n`);
  // Groups the faces differently from any model: the first two photos against the last two.
  writeFileSync(join(work, 'groups.csv'), `file,group\n${photos.map((p, k) => `${p},${k < 2 ? 'first' : 'second'}`).join('\n')}\n`);
  const out = join(work, 'out');
  const args = ['paper', '--images', join(work, 'list.txt'), '--groups', join(work, 'groups.csv'), '--out', out, '--runs', 'gender,gender-faceres,pose',
    '--stride', '48', '--canonical-size', '128', '--permutations', '100', '--bootstrap', '100', '--quiet'];
  const r = csm(...args);
  assert.is(r.status, 0, r.stderr);
  for (const f of ['index.html', 'paper.json', 'fig1-tasks.png', 'pose-bins.png', 'gender/cms.json', 'gender/cis-maps.npy', 'gender/cis-maps.json',
    'compare-gender-vs-gender-faceres/compare.png', 'eyes-gender-by-predicted-gender/compare.json', 'eyes-gender-by-groups-csv/compare.json']) assert.ok(existsSync(join(out, f)), f);
  const paper = JSON.parse(readFileSync(join(out, 'paper.json'), 'utf8'));
  assert.is(paper.stride, 48);
  assert.equal(paper.sampling, { kind: 'stratified', points: 64 }, 'the default sampling is recorded');
  assert.is(paper.statistics.bootstrap, 100);
  for (const key of ['gender', 'gender-faceres', 'pose']) assert.is(paper.runs[key].explained, 4, key);
  assert.equal(Object.keys(paper.fig1.regions), ['gender', 'pose']);
  for (const row of paper.fig1.regions.gender) assert.ok(row.low <= row.mean + 1e-9 && row.mean <= row.high + 1e-9, `${row.region}: ${row.low} ≤ ${row.mean} ≤ ${row.high}`);
  // Pose: the whole set first, then each predicted bin with its images; the nose's rank among 7 regions.
  assert.is(paper.pose.bins[0].bin, 'all');
  assert.is(paper.pose.bins.slice(1).reduce((s: number, b: { images: number }) => s + b.images, 0), 4);
  assert.ok(paper.pose.bins[0].rank >= 1 && paper.pose.bins[0].rank <= 7);
  // One paired comparison of the two gender models, and the eye region by faceres's prediction (2 + 2) and by the CSV.
  const dirs = paper.comparisons.map((c: { dir: string }) => c.dir);
  assert.equal(dirs, ['compare-gender-vs-gender-faceres', 'eyes-gender-by-predicted-gender', 'eyes-gender-faceres-by-predicted-gender', 'eyes-gender-by-groups-csv']);
  const paired = JSON.parse(readFileSync(join(out, 'compare-gender-vs-gender-faceres', 'compare.json'), 'utf8'));
  assert.is(paired.design, 'paired');
  assert.is(paired.normalise.method, 'mean-abs');
  assert.is(paired.sides.A.images, 4);
  const csv = JSON.parse(readFileSync(join(out, 'eyes-gender-by-groups-csv', 'compare.json'), 'utf8'));
  assert.is(csv.grouping.source, 'csv');
  assert.equal([csv.sides.A.label, csv.sides.A.images, csv.sides.B.label, csv.sides.B.images], ['first', 2, 'second', 2]);
  const byPrediction = JSON.parse(readFileSync(join(out, 'eyes-gender-by-predicted-gender', 'compare.json'), 'utf8'));
  assert.equal([byPrediction.sides.A.images, byPrediction.sides.B.images], [2, 2]);
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  for (const d of dirs) assert.match(html, `href="${d}/index.html"`);
  assert.match(html, /fig1-tasks\.png/);

  // The analyses again from the kept maps: no model explains anything, the numbers are the same.
  const again = csm(...args, '--reuse');
  assert.is(again.status, 0, again.stderr);
  const reused = JSON.parse(readFileSync(join(out, 'paper.json'), 'utf8'));
  for (const key of ['gender', 'gender-faceres', 'pose']) assert.ok(reused.runs[key].reused, key);
  assert.equal(reused.fig1.regions, paper.fig1.regions);
  assert.equal(reused.comparisons, paper.comparisons);
  // A finished run is not overwritten without --force or --reuse.
  const refused = csm(...args);
  assert.is.not(refused.status, 0);
});

test.run();
