/**
 * The identity jobs without a model: pairs files as users and deepface write them, τ fitted on a
 * separate half of the pairs, a pair that cannot be embedded listed and counted once, and zero-shot
 * against a separate reference set (leave-one-out only when asked). An explainer stub gives each
 * photo a fixed embedding, so every number here is known.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsmError, galleryJob, pairsJob, readPairs, shardJob, splitPairs, type Explainer, type Pair } from '../../src/index.js';

/** Embeddings by file-name prefix: a_* and b_* are two people; bad_* has no face. */
function stub(): Explainer & { calls: Record<string, unknown[][]> } {
  const calls: Record<string, unknown[][]> = { zeroShot: [], pair: [] };
  const vector = (file: string): Float32Array => {
    const name = file.split('/').pop()!;
    if (name.startsWith('a_')) return Float32Array.from([1, 0.1 * name.length % 0.3, 0]);
    if (name.startsWith('b_')) return Float32Array.from([0, 1, 0.05]);
    return Float32Array.from([0.7, 0.7, 0]);
  };
  return {
    calls,
    head: { name: 'descriptor', confidence: 'embedding', output: 'e' },
    prepare: async (file: string) => {
      if (file.split('/').pop()!.startsWith('bad_')) throw new CsmError(`"${file}": no face found`);
      return { file };
    },
    embed: async (p: { file: string }) => vector(p.file),
    cisZeroShot: async (...args: unknown[]) => { calls['zeroShot']!.push(args); return {} as never; },
    cisPair: async (...args: unknown[]) => { calls['pair']!.push(args); return {} as never; },
  } as unknown as Explainer & { calls: Record<string, unknown[][]> };
}

test('pairs CSV: deepface master.csv (file_x,file_y,Decision, Yes/No, CRLF) and any-case flags', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-pairs-'));
  writeFileSync(join(dir, 'master.csv'), '\uFEFFfile_x,file_y,Decision\r\nimg1.jpg,img2.jpg,Yes\r\nimg1.jpg,img3.jpg,No\r\nimg4.jpg,img5.jpg,yes\r\n');
  const pairs = await readPairs(join(dir, 'master.csv'));
  assert.equal(pairs.map((p) => [p.a, p.b, p.same]), [[join(dir, 'img1.jpg'), join(dir, 'img2.jpg'), true], [join(dir, 'img1.jpg'), join(dir, 'img3.jpg'), false], [join(dir, 'img4.jpg'), join(dir, 'img5.jpg'), true]]);
  // No header, mixed case, old Mac line ends.
  writeFileSync(join(dir, 'mixed.csv'), 'a.jpg,b.jpg,NO\ra.jpg,c.jpg,TRUE\ra.jpg,d.jpg,Different\r');
  assert.equal((await readPairs(join(dir, 'mixed.csv'))).map((p) => p.same), [false, true, false]);
  // The usual header, whose third column "same" is also a flag, is a header all the same.
  writeFileSync(join(dir, 'plain.csv'), 'image1,image2,same\na.jpg,b.jpg,1\n');
  assert.is((await readPairs(join(dir, 'plain.csv'))).length, 1);
  writeFileSync(join(dir, 'bad.csv'), 'file_x,file_y,Decision\r\na.jpg,b.jpg,perhaps\r\n');
  await readPairs(join(dir, 'bad.csv')).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /line 2: "perhaps" is not/));
});

test('splitPairs alternates genuine and impostor pairs separately', () => {
  const pairs = [true, true, false, true, false, false, true].map((same, k) => ({ a: `${k}`, b: 'x', same }));
  const { fit, held } = splitPairs(pairs);
  // Genuine 0, 1, 3, 6 → fit, held, fit, held; impostor 2, 4, 5 → fit, held, fit.
  assert.equal(fit.map((p) => p.a), ['0', '2', '3', '5']);
  assert.equal(held.map((p) => p.a), ['1', '4', '6']);
  assert.is(fit.length + held.length, pairs.length);
});

test('verification: τ fitted on one half, the other half explained, held-out accuracy recorded', async () => {
  const d = '/photos';
  const pairs: Pair[] = [
    { a: `${d}/a_1.jpg`, b: `${d}/a_22.jpg`, same: true }, { a: `${d}/a_1.jpg`, b: `${d}/b_1.jpg`, same: false },
    { a: `${d}/a_333.jpg`, b: `${d}/a_1.jpg`, same: true }, { a: `${d}/a_22.jpg`, b: `${d}/b_2.jpg`, same: false },
  ];
  const explainer = stub();
  const job = await pairsJob(explainer, pairs, { source: 'pairs.csv' });
  const mode = job.mode as { tau: number; tauFrom: string; fitted: { pairs: string[]; heldOut: { pairs: number; accuracy: number; baseline: number } } };
  assert.is(mode.fitted.pairs.length, 2, 'one genuine and one impostor pair fit τ');
  assert.is(job.items.length, 2, 'the other two are explained');
  assert.ok(job.items.every((id) => !mode.fitted.pairs.includes(id)), 'no explained pair fitted τ');
  assert.is(mode.fitted.heldOut.pairs, 2);
  assert.is(mode.fitted.heldOut.accuracy, 1);
  assert.is(mode.fitted.heldOut.baseline, 0.5);
  assert.match(mode.tauFrom, /separate half/);
  const given = await pairsJob(explainer, pairs, { source: 'pairs.csv', tau: 0.5 });
  assert.is(given.items.length, 4, 'with τ given every pair is explained');
  assert.is((given.mode as { tauFrom: string }).tauFrom, 'given');
});

test('a pair that cannot be embedded is skipped once, and counts.listed is the number of pairs', async () => {
  const d = '/photos';
  const pairs: Pair[] = [
    { a: `${d}/a_1.jpg`, b: `${d}/a_22.jpg`, same: true }, { a: `${d}/a_1.jpg`, b: `${d}/b_1.jpg`, same: false },
    { a: `${d}/a_333.jpg`, b: `${d}/bad_1.jpg`, same: true }, { a: `${d}/a_22.jpg`, b: `${d}/b_2.jpg`, same: false },
    { a: `${d}/a_22.jpg`, b: `${d}/a_333.jpg`, same: true }, { a: `${d}/bad_2.jpg`, b: `${d}/b_2.jpg`, same: false },
  ];
  const job = await pairsJob(stub(), pairs, { source: 'pairs.csv' });
  const skipped = job.skippedBefore.map((s) => s.file);
  assert.is(skipped.length, 2);
  assert.is(new Set(skipped).size, 2);
  for (const s of skipped) assert.not.ok(job.items.includes(s), `${s} is both skipped and listed`);
  const fitted = (job.mode as { fitted: { pairs: string[] } }).fitted.pairs;
  assert.is(job.items.length + job.skippedBefore.length + fitted.length, pairs.length, 'every pair is explained, skipped or fitted τ, once');
  // What cms.json and a shard record as listed: the explained and skipped ones, each once.
  const sharded = shardJob(job, { index: 0, count: 1 }, (id) => id, 'pair');
  assert.is(sharded.shard.listed, job.items.length + job.skippedBefore.length);
  assert.ok(sharded.shard.listed <= pairs.length);
  // With τ given nothing is embedded before the run: the bad pairs fail (once) in the run itself.
  const given = await pairsJob(stub(), pairs, { source: 'pairs.csv', tau: 0.3 });
  assert.is(given.items.length, pairs.length);
  assert.is(given.skippedBefore.length, 0);
});

test('zero-shot (Eq. 7): against a separate reference set; leave-one-out only when asked', async () => {
  const root = mkdtempSync(join(tmpdir(), 'csm-gallery-'));
  const put = (dir: string, files: string[]): void => { for (const f of files) { mkdirSync(join(root, dir, f.split('/')[0]!), { recursive: true }); writeFileSync(join(root, dir, f), ''); } };
  put('queries', ['alice/a_1.jpg', 'alice/a_22.jpg', 'bob/b_1.jpg', 'carol/c_1.jpg']);
  put('refs', ['alice/a_333.jpg', 'bob/b_2.jpg', 'bob/bad_3.jpg']);
  const explainer = stub();
  const job = await galleryJob(explainer, join(root, 'queries'), { references: join(root, 'refs') });
  assert.equal(job.items.map((f) => f.split('/').pop()), ['a_1.jpg', 'a_22.jpg', 'b_1.jpg']);
  assert.is(job.skippedBefore.length, 1);
  assert.match(job.skippedBefore[0]!.cause, /"carol" has no usable image in the reference set/);
  const mode = job.mode as { references: string; referenceImages: number; referencesSkipped: { file: string }[] };
  assert.is(mode.references, join(root, 'refs'));
  assert.is(mode.referenceImages, 2);
  assert.is(mode.referencesSkipped.length, 1);
  await job.explain(job.items[2]!);
  const [item, refs, identity] = explainer.calls['zeroShot']![0]!;
  assert.is(item, join(root, 'queries', 'bob', 'b_1.jpg'));
  assert.is((refs as Float32Array[]).length, 1, 'bob\'s one usable reference, not a gallery image');
  assert.is(identity, 'bob');

  const loo = await galleryJob(explainer, join(root, 'queries'), { leaveOneOut: true });
  assert.equal(loo.items.map((f) => f.split('/').pop()), ['a_1.jpg', 'a_22.jpg'], 'bob and carol have no other image');
  assert.match(String((loo.mode as { references: string }).references), /leave-one-out/);
  await loo.explain(loo.items[0]!);
  assert.is((explainer.calls['zeroShot']![1]![1] as Float32Array[]).length, 1, 'a_1 against a_22 only, never itself');

  await galleryJob(explainer, join(root, 'queries'), {}).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /--references DIR.*--leave-one-out/));
});

test.run();
