/** Static shards (saliency/shard.ts): parsing of --shard, a stable and balanced split, keys. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityKeyOf, imageKeyOf, pairKeyOf, parseShard, shardJob, shardOf, ShardSpecError, splitKeys } from '../../src/index.js';

const keys = Array.from({ length: 3000 }, (_, i) => `img_${String(i).padStart(6, '0')}.jpg`);

/** A deterministic shuffle (LCG), so the test needs no seedable library. */
function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('--shard parses K/N (0-based) and auto/N from JOB_COMPLETION_INDEX, then SLURM_ARRAY_TASK_ID', () => {
  assert.equal(parseShard('0/3', {}), { index: 0, count: 3 });
  assert.equal(parseShard(' 2 / 3 ', {}), { index: 2, count: 3 });
  assert.equal(parseShard('0/1', {}), { index: 0, count: 1 });
  assert.equal(parseShard('auto/4', { JOB_COMPLETION_INDEX: '3', SLURM_ARRAY_TASK_ID: '1' }), { index: 3, count: 4 });
  assert.equal(parseShard('auto/4', { SLURM_ARRAY_TASK_ID: '1' }), { index: 1, count: 4 });
});

test('--shard errors say what is wrong', () => {
  const fails = (text: string, re: RegExp, env: Record<string, string> = {}) => {
    try {
      parseShard(text, env);
    } catch (e) {
      assert.instance(e, ShardSpecError);
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`"${text}" was accepted`);
  };
  fails('3', /takes K\/N .*K from 0 to N−1.* or auto\/N, got "3"/);
  fails('1/2/3', /takes K\/N/);
  fails('', /takes K\/N/);
  fails('3/3', /shard 3 is not below N = 3; shards count from 0 \(the last of 3 is 2\/3; a Slurm array is then --array=0-2\)/);
  fails('5/3', /shard 5 is not below N = 3$/);
  fails('-1/3', /K \(this shard\) must be a whole number from 0 to 2, got "-1"/);
  fails('1.5/3', /K \(this shard\) must be a whole number/);
  fails('a/3', /K \(this shard\) must be a whole number/);
  fails('0/0', /N \(the number of shards\) must be a whole number ≥ 1, got "0"/);
  fails('0/x', /N \(the number of shards\) must be a whole number ≥ 1/);
  fails('auto/3', /neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set/);
  fails('auto/3', /JOB_COMPLETION_INDEX is "two", not a whole number/, { JOB_COMPLETION_INDEX: 'two' });
  fails('auto/3', /shard 3 \(SLURM_ARRAY_TASK_ID=3\) is not below N = 3; shards count from 0/, { SLURM_ARRAY_TASK_ID: '3' });
});

test('the split: every key in exactly one shard, the same whatever the order, roughly balanced', () => {
  for (const n of [1, 2, 3, 7, 16]) {
    const parts = splitKeys(keys, n);
    assert.is(parts.length, n);
    assert.is(parts.reduce((s, p) => s + p.length, 0), keys.length, 'every key once');
    assert.is(new Set(parts.flat()).size, keys.length, 'no key twice');
    const expected = keys.length / n;
    for (const p of parts) assert.ok(Math.abs(p.length - expected) < 5 * Math.sqrt(expected) + 1, `${n} shards: ${parts.map((q) => q.length)}`);
    for (const seed of [1, 2]) {
      const again = splitKeys(shuffled(keys, seed), n);
      for (let k = 0; k < n; k++) assert.equal([...again[k]!].sort(), [...parts[k]!].sort(), `shard ${k}/${n} after shuffling`);
    }
  }
  // The rule is fixed (SHA-256, first 8 bytes big-endian, mod N): pinned values guard against a change.
  assert.equal(['000686.jpg', '001841.jpg', '002060.jpg'].map((k) => shardOf(k, 3)), [0, 2, 1]);
  assert.is(shardOf('000686.jpg', 1), 0);
});

test('shardJob keeps one share of the items in their order, and records the split', () => {
  const items = keys.slice(0, 60).map((k) => `/data/imgs/${k}`);
  const job = { items, skippedBefore: [] as { file: string; cause: string }[], mode: { kind: 'x' } };
  const key = (f: string) => f.slice('/data/imgs/'.length);
  const shards = [0, 1, 2].map((index) => shardJob(job, { index, count: 3 }, key, 'image path'));
  assert.is(shards.reduce((s, j) => s + j.items.length, 0), 60);
  for (const s of shards) {
    assert.equal(s.items, items.filter((f) => s.items.includes(f)), 'list order kept');
    assert.is(s.shard!.listed, 60);
    assert.is(s.shard!.kept, s.items.length);
    assert.is(s.shard!.sorted, true);
    assert.equal(s.mode, { kind: 'x' });
  }
  // The same data set in another order, under another mount point: the same shards and data-set hash.
  const moved = shardJob({ ...job, items: shuffled(items, 9).map((f) => f.replace('/data/', '/mnt/nfs/')) }, { index: 1, count: 3 }, (f) => f.slice('/mnt/nfs/imgs/'.length), 'image path');
  assert.equal(moved.items.map((f) => f.replace('/mnt/nfs/', '/data/')).sort(), [...shards[1]!.items].sort());
  assert.is(moved.shard!.setSha256, shards[1]!.shard!.setSha256);
  assert.is(moved.shard!.sorted, false);
});

test('keys: a folder and a list file beside its photos agree; galleries by identity; pairs relative to the CSV', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-shard-keys-'));
  writeFileSync(join(dir, 'list.txt'), 'a.jpg\n');
  mkdirSync(join(dir, 'sub'));
  const byDir = await imageKeyOf(dir);
  const byList = await imageKeyOf(join(dir, 'list.txt'));
  assert.is(byDir(join(dir, 'a.jpg')), 'a.jpg');
  assert.is(byList(join(dir, 'a.jpg')), 'a.jpg');
  assert.is(byList(join(dir, 'sub', 'b.jpg')), 'sub/b.jpg');
  assert.is(identityKeyOf('/g')('/g/alice/1.jpg'), 'alice');
  assert.is(pairKeyOf('/p/pairs.csv')('/p/x/1.jpg|/p/y/2.jpg|0'), 'x/1.jpg|y/2.jpg|0');
});

test.run();
