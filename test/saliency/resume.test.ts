/**
 * --resume trusts a checkpoint only when it is intact and agrees with itself and with the run asked
 * for: an edited `next` (the campaign's attack: images dropped, exit 0) is refused whether or not
 * the editor recomputed the integrity hash; an option change names the option. The maps come
 * from a stand-in explainer (no model), so these run in milliseconds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CheckpointError, checkpointStateSha256, CsmError, fingerprintDiff, ResumeError, runCms, type CisResult, type CmsRunOptions, type CmsRunResult,
} from '../../src/index.js';
import { mulberry32 } from '../helpers/random.js';

const SIZE = 16;
const FILES = ['a.jpg', 'b.jpg', 'bad-1.jpg', 'c.jpg', 'd.jpg', 'bad-2.jpg', 'e.jpg', 'f.jpg'];
const FINGERPRINT = { model: { name: 'emotion', sha256: 'a'.repeat(64) }, stride: 4, fill: 'black', canonicalSize: SIZE, mode: 'class' };

/** A CIS per file, the same for the same name; "bad-*" files fail as unreadable photos do. */
async function explain(file: string): Promise<CisResult> {
  if (file.startsWith('bad')) throw new CsmError(`"${file}" is not a PNG or JPEG`);
  const rand = mulberry32([...file].reduce((h, c) => h * 31 + c.charCodeAt(0), 7));
  const map = Float32Array.from({ length: SIZE * SIZE }, () => rand() * 2 - 1);
  return { cis: { map, count: new Uint32Array(SIZE * SIZE).fill(1) }, prepared: { warnings: [] } } as unknown as CisResult;
}

const run = (dir: string, extra: Partial<CmsRunOptions> = {}, files = FILES): Promise<CmsRunResult> =>
  runCms(files, explain, SIZE, { checkpointDir: join(dir, 'checkpoint'), checkpointEvery: 1, resume: false, fingerprint: FINGERPRINT, ...extra });

/** A run killed while writing the outputs of item `n` (a good photo): its checkpoint holds next = n. */
async function killedRun(dir: string, n: number): Promise<void> {
  await run(dir, { checkpointEvery: 1, onImage: (_, index) => { if (index >= n) throw new Error('killed'); } }).then(() => assert.unreachable(), () => undefined);
  const state = await readState(dir);
  assert.is((state['extra'] as { next: number }).next, n, 'checkpoint position');
}

const statePath = (dir: string): string => join(dir, 'checkpoint', 'cms-state.json');
const readState = async (dir: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(statePath(dir), 'utf8'));
/** Writes the state back, with its integrity hash recomputed (a forger's edit) or not (a plain edit). */
async function writeState(dir: string, state: Record<string, unknown>, reseal: boolean): Promise<void> {
  const { stateSha256: old, ...rest } = state;
  await writeFile(statePath(dir), JSON.stringify({ ...rest, stateSha256: reseal ? checkpointStateSha256(rest) : old }, null, 1));
}

async function refused(p: Promise<unknown>, type: new (...a: never[]) => Error, patterns: RegExp[], what: string): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, type, `${what}: ${String(e)}`);
    for (const re of patterns) assert.match((e as Error).message, re, what);
    return (e as Error).message;
  }
  assert.unreachable(`${what}: expected a refusal`);
  return '';
}

let whole: CmsRunResult;
test.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-resume-'));
  whole = await run(dir);
  await rm(dir, { recursive: true, force: true });
});

test('a killed run resumes to the same bytes (skips included)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-resume-'));
  try {
    await killedRun(dir, 4);
    const r = await run(dir, { resume: true });
    assert.is(r.resumedAt, 4);
    assert.ok(Buffer.from(r.acc.sum.buffer).equals(Buffer.from(whole.acc.sum.buffer)));
    assert.equal(r.skipped.map((s) => s.file), ['bad-1.jpg', 'bad-2.jpg']);
    assert.equal([...r.acc.ids], [...whole.acc.ids]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an edited `next` is refused: by the integrity hash, and by the consistency checks when the hash is recomputed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-resume-'));
  try {
    await killedRun(dir, 4);
    const state = await readState(dir);
    const extra = state['extra'] as { next: number };
    // the campaign's edit: next moved forward, so that images are never explained
    await writeState(dir, { ...state, extra: { ...extra, next: 6 } }, false);
    await refused(run(dir, { resume: true }), CheckpointError, [/cms-state\.json/, /do not match its integrity hash/, /edited or corrupted/], 'plain edit');
    await writeState(dir, { ...state, extra: { ...extra, next: 6 } }, true);
    const msg = await refused(run(dir, { resume: true }), CheckpointError, [/cms-state\.json/, /"next" is 6, but it holds 3 added images and 1 skipped file, so "next" should be 4/], 'resealed edit');
    assert.not.match(msg, /\n/);
    // next moved back: the images after it would be added twice
    await writeState(dir, { ...state, extra: { ...extra, next: 2 } }, true);
    await refused(run(dir, { resume: true }), CheckpointError, [/"next" is 2.*should be 4/], 'next moved back');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('next, ids and skipped must be the first items of the list, in order', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-resume-'));
  try {
    await killedRun(dir, 4);
    const state = await readState(dir);
    const extra = state['extra'] as { next: number; skipped: { file: string; cause: string }[] };
    // a skipped entry renamed: next still adds up, but the list's third item is no longer accounted for
    await writeState(dir, { ...state, extra: { ...extra, skipped: [{ file: 'e.jpg', cause: 'x' }] } }, true);
    await refused(run(dir, { resume: true }), CheckpointError, [/cms-state\.json/, /item 3 \("bad-1\.jpg"\) is neither the next added image \("c\.jpg"\) nor the next skipped file \("e\.jpg"\)/], 'skipped renamed');
    // ids reordered
    const ids = state['ids'] as string[];
    await writeState(dir, { ...state, ids: [ids[1], ids[0], ...ids.slice(2)] }, true);
    await refused(run(dir, { resume: true }), CheckpointError, [/item 1 \("a\.jpg"\) is neither/], 'ids reordered');
    // malformed run state
    await writeState(dir, { ...state, extra: { ...extra, next: 'five' } }, true);
    await refused(run(dir, { resume: true }), CheckpointError, [/no valid "next"/], 'next not a number');
    await writeState(dir, { ...state, extra: { ...extra, skipped: 'none' } }, true);
    await refused(run(dir, { resume: true }), CheckpointError, [/no valid "skipped"/], 'skipped not a list');
    await writeState(dir, { ...state, extra: { ...extra, fingerprint: JSON.stringify(FINGERPRINT) } }, true);
    await refused(run(dir, { resume: true }), CheckpointError, [/no fingerprint object/], 'fingerprint as a string (version 1 style)');
    // restored: resumes
    await writeState(dir, state, false);
    assert.is((await run(dir, { resume: true })).acc.images, whole.acc.images);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an option change names the option(s): "--stride: checkpoint 4, now 6"', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-resume-'));
  try {
    await killedRun(dir, 3);
    const msg = await refused(run(dir, { resume: true, fingerprint: { ...FINGERPRINT, stride: 6 } }), ResumeError, [/--stride: checkpoint 4, now 6/], 'stride');
    assert.match(msg, /^--resume: the model or options differ from those of the run checkpointed in ".*checkpoint": --stride: checkpoint 4, now 6\. Resume with the same options/);
    const two = await refused(run(dir, { resume: true, fingerprint: { ...FINGERPRINT, stride: 6, fill: 'gray', canonicalSize: SIZE } }), ResumeError, [/--fill: checkpoint black, now gray; --stride: checkpoint 4, now 6/], 'two options');
    assert.not.match(two, /canonical-size/);
    await refused(run(dir, { resume: true, fingerprint: { ...FINGERPRINT, model: { name: 'emotion', sha256: 'b'.repeat(64) } } }), ResumeError, [/--model \(model\.sha256\): checkpoint a{57}…, now b{57}…/], 'model file changed');
    await refused(run(dir, { resume: true, fingerprint: { ...FINGERPRINT, crop: 'full' } }), ResumeError, [/--crop: checkpoint \(not set\), now full/], 'new key');
    await refused(run(dir, { resume: true, fingerprint: { ...FINGERPRINT, mode: 'verification' } }), ResumeError, [/the kind of job \(--images, --gallery or --pairs\): checkpoint class, now verification/], 'mode');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a changed image list says where it differs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-resume-'));
  try {
    await killedRun(dir, 4);
    await refused(run(dir, { resume: true }, FILES.filter((f) => f !== 'b.jpg')), ResumeError, [/image list differs.*item 3 is now "c\.jpg", which the checkpointed run did not have there/], 'item removed');
    await refused(run(dir, { resume: true }, FILES.slice(0, 3)), ResumeError, [/the list now has 3 items, fewer than the 4 the checkpointed run had done/], 'list cut');
    await refused(run(dir, { resume: true }, [...FILES, 'g.jpg']), ResumeError, [/its first 4 items agree, but items were added, removed or reordered after them/], 'item appended');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fingerprintDiff: one line per option, nested differences counted', () => {
  assert.equal(fingerprintDiff({ a: 1 }, { a: 1 }), []);
  assert.equal(fingerprintDiff({ stride: 4, patch: 15 }, { stride: 6, patch: 15 }), ['--stride: checkpoint 4, now 6']);
  assert.equal(
    fingerprintDiff({ model: { name: 'x', sha256: '1', spec: { a: 1 } } }, { model: { name: 'y', sha256: '2', spec: { a: 1 } } }),
    ['--model (model.name): checkpoint x, now y (and 1 more difference)'],
  );
  assert.equal(fingerprintDiff({ custom: [1, 2] }, { custom: [1, 3] }, { names: ['"a"', '"b"'] }), ['custom: "a" [1,2], "b" [1,3]']);
  // undefined members are as the checkpoint stored them: absent
  assert.equal(fingerprintDiff({ cropScale: undefined }, {}), []);
});

test.run();
