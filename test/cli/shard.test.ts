/** `csm cms --shard K/N` then `csm merge`: N shards merged are one run, byte for byte. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { cacheDir, shardOf } from '../../src/index.js';
import { CELEBA_DIR, celebaImages, REPO_ROOT, skip } from '../helpers/data.js';

const csmIn = (env: NodeJS.ProcessEnv, ...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8', env });
const csm = (...args: string[]) => csmIn(process.env, ...args);
const CHEAP = ['--model', 'emotion', '--stride', '24', '--canonical-size', '96', '--backend', 'cpu', '--quiet'];
const json = (dir: string) => JSON.parse(readFileSync(join(dir, 'cms.json'), 'utf8'));

test('3 shards (--shard K/3) merged equal one run byte for byte; merge refuses missing, repeated and foreign shards', () => {
  const photos = celebaImages();
  if (!photos) return skip('sharded CMS', `csm-celeba100 is not at ${CELEBA_DIR}`);
  const root = mkdtempSync(join(tmpdir(), 'csm-shard-'));
  const images = join(root, 'images');
  mkdirSync(images);
  for (const f of photos.slice(0, 6)) copyFileSync(f, join(images, basename(f)));
  const out = (name: string) => join(root, name);

  const one = csm('cms', '--images', images, '--out', out('one'), ...CHEAP);
  assert.is(one.status, 0, one.stderr);
  // Shard 1 runs with its zoo models in another cache folder, as on another machine: the same
  // files (SHA-256) under another path must still merge.
  const otherCache = out('other-cache');
  mkdirSync(join(otherCache, 'models'), { recursive: true });
  for (const m of readdirSync(join(cacheDir(), 'models')).filter((n) => /^(emotion|blazeface|facemesh)-.*\.onnx$/.test(n))) copyFileSync(join(cacheDir(), 'models', m), join(otherCache, 'models', m));
  for (let k = 0; k < 3; k++) {
    const env = k === 1 ? { ...process.env, CSM_CACHE_DIR: otherCache } : process.env;
    const r = csmIn(env, 'cms', '--images', images, '--out', out(`s${k}`), '--shard', `${k}/3`, ...CHEAP);
    assert.is(r.status, 0, r.stderr);
  }
  const shards = [0, 1, 2].map((k) => json(out(`s${k}`)));
  assert.equal(shards.map((s) => s.shard.index), [0, 1, 2]);
  assert.is(shards.reduce((n, s) => n + s.counts.explained, 0), 6, 'every photo in exactly one shard');
  assert.ok(String(shards[1].params.model.file).startsWith(otherCache), 'shard 1 read its model from the other cache');
  assert.is(shards[1].params.model.sha256, shards[0].params.model.sha256);
  assert.is(new Set(shards.flatMap((s) => s.images)).size, 6);
  for (const s of shards) {
    assert.is(s.shard.count, 3);
    assert.is(s.shard.listed, 6);
    assert.is(s.shard.by, 'image path');
  }

  // Given in any order, the shards merge into the bytes of the one run.
  const m = csm('merge', out('s2'), out('s0'), out('s1'), '--out', out('merged'));
  assert.is(m.status, 0, m.stderr);
  assert.ok(readFileSync(join(out('merged'), 'cms.npy')).equals(readFileSync(join(out('one'), 'cms.npy'))), 'cms.npy: merged = one run, byte for byte');
  for (const f of ['cms-jet.png', 'cms-turbo.png', 'cms-overlay.png', 'cms-regions.md']) {
    assert.ok(readFileSync(join(out('merged'), f)).equals(readFileSync(join(out('one'), f))), `${f}: merged = one run`);
  }
  const merged = json(out('merged'));
  const whole = json(out('one'));
  for (const key of ['kind', 'params', 'images', 'regions']) assert.equal(merged[key], whole[key], `cms.json ${key}`);
  assert.is(merged.counts.explained, whole.counts.explained);
  assert.is(merged.mode.kind, whole.mode.kind);
  assert.equal(merged.shards.given.map((g: { index: number }) => g.index), [0, 1, 2], 'the merged cms.json lists every shard');
  assert.equal(merged.shards.missing, []);

  // The split does not depend on the listing: a list file naming the photos in reverse order gives shard 1 the same photos.
  writeFileSync(join(images, '.reversed.txt'), `${photos.slice(0, 6).map((f) => basename(f)).reverse().join('\n')}\n`);
  const rev = csm('cms', '--images', join(images, '.reversed.txt'), '--out', out('s1-list'), '--shard', '1/3', ...CHEAP);
  assert.is(rev.status, 0, rev.stderr);
  assert.equal([...json(out('s1-list')).images].sort(), [...shards[1].images].sort());
  assert.is(json(out('s1-list')).shard.setSha256, shards[1].shard.setSha256);
  assert.ok(readFileSync(join(out('s1-list'), 'cms.npy')).equals(readFileSync(join(out('s1'), 'cms.npy'))));

  const missing = csm('merge', out('s0'), out('s2'), '--out', out('m-missing'));
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /shard 1\/3 of the 3-way split is missing: give all 3 shard outputs, or --allow-missing/);
  const allowed = csm('merge', out('s0'), out('s2'), '--allow-missing', '--out', out('m-partial'));
  assert.is(allowed.status, 0, allowed.stderr);
  assert.match(allowed.stderr, /warning: shard 1\/3 of the 3-way split is missing/);
  assert.equal(json(out('m-partial')).shards.missing, [1]);
  const twice = csm('merge', out('s0'), out('s1'), out('s1-list'), out('s2'), '--out', out('m-twice'));
  assert.is(twice.status, 1);
  assert.match(twice.stderr, /shard 1\/3 is given twice/);
  const mixed = csm('merge', out('one'), out('s0'), '--out', out('m-mixed'));
  assert.is(mixed.status, 1);
  assert.match(mixed.stderr, /made without --shard .* with --shard 0\/3/);
  // A shard of another split, or of other parameters, is refused.
  assert.is(csm('cms', '--images', images, '--out', out('t0'), '--shard', '0/2', ...CHEAP).status, 0);
  const split = csm('merge', out('t0'), out('s1'), out('s2'), '--out', out('m-split'));
  assert.is(split.status, 1);
  assert.match(split.stderr, /different splits/);
  const other = csm('cms', '--images', images, '--out', out('p1'), '--shard', '1/3', ...CHEAP.map((a) => (a === '24' ? '32' : a)));
  assert.is(other.status, 0, other.stderr);
  const params = csm('merge', out('s0'), out('p1'), out('s2'), '--out', out('m-params'));
  assert.is(params.status, 1);
  assert.match(params.stderr, /different model or parameters.*--stride/);
  // Resuming a shard's checkpoint as another shard is refused by name.
  const resume = csm('cms', '--images', images, '--out', out('s0'), '--shard', '1/3', '--resume', ...CHEAP);
  assert.is(resume.status, 1);
  assert.match(resume.stderr, /--shard \(shard\.index\): checkpoint 0, now 1/);

  // 6 photos in 7 shards: an empty shard still finishes (an array job goes on to its merge).
  const names = photos.slice(0, 6).map((f) => basename(f));
  const empty = [0, 1, 2, 3, 4, 5, 6].find((k) => !names.some((n) => shardOf(n, 7) === k))!;
  const e = csm('cms', '--images', images, '--out', out('e'), '--shard', `${empty}/7`, ...CHEAP);
  assert.is(e.status, 0, e.stderr);
  assert.is(json(out('e')).empty, true);
  assert.is(json(out('e')).counts.explained, 0);
  const none = csm('merge', out('e'), '--allow-missing', '--out', out('m-empty'));
  assert.is(none.status, 1);
  assert.match(none.stderr, /no image was explained in any of the 1 shards/);
});

test('--shard usage errors exit 2 with a clear message', () => {
  const r = csm('cms', '--images', '.', '--out', join(tmpdir(), 'never'), '--shard', '3/3', ...CHEAP);
  assert.is(r.status, 2);
  assert.match(r.stderr, /shards count from 0 \(the last of 3 is 2\/3/);
  const a = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), 'cms', '--images', '.', '--out', join(tmpdir(), 'never'), '--shard', 'auto/3', ...CHEAP], { encoding: 'utf8', env: { ...process.env, JOB_COMPLETION_INDEX: '', SLURM_ARRAY_TASK_ID: '' } });
  assert.is(a.status, 2);
  assert.match(a.stderr, /neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set/);
});

test.run();
