/** Queue chunks are data: each field checked, anything else refused; Redis URLs and passwords. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprintDiff } from '../../src/index.js';
import { chunkImages, chunkPayloads, comparableFingerprint, parseRedisUrl, PayloadError, redactedUrl, validateChunkPayload, type ChunkPayload } from '../../src/queue/index.js';

const good = (): ChunkPayload => ({
  format: 'csm-queue-chunk', version: 1, run: 'celeba-1', chunk: 1, chunks: 3, source: 'photos',
  images: ['/data/a.jpg', '/data/b.jpg'], model: { name: 'gender', sha256: 'a'.repeat(64) }, flags: { stride: '16' },
});

test('a chunk made by submit passes; every malformed field is refused, naming it', () => {
  assert.equal(validateChunkPayload(good(), { run: 'celeba-1', job: 'chunk-00001' }), good());
  const refused = (change: (p: Record<string, unknown>) => void, pattern: RegExp, run = 'celeba-1'): void => {
    const p = good() as unknown as Record<string, unknown>;
    change(p);
    try {
      validateChunkPayload(p, { run, job: 'x' });
      assert.unreachable(`accepted ${JSON.stringify(p).slice(0, 200)}`);
    } catch (e) {
      assert.instance(e, PayloadError);
      assert.match((e as Error).message, /^malformed job payload \(job x of run "celeba-1"\): /);
      assert.match((e as Error).message, pattern);
    }
  };
  refused((p) => { p['code'] = 'process.exit()'; }, /unknown field "code"/);
  refused((p) => { p['format'] = 'other'; }, /"format" must be "csm-queue-chunk"/);
  refused((p) => { p['version'] = 2; }, /"version" must be 1/);
  refused((p) => { p['run'] = 'other'; }, /"run" is "other" but the job is in the queue of run "celeba-1"/);
  refused((p) => { p['chunk'] = 3; }, /"chunk" must be a whole number from 0 to chunks − 1 = 2/);
  refused((p) => { p['images'] = []; }, /"images" must be a list of 1 to/);
  refused((p) => { p['images'] = ['relative.jpg']; }, /images\[0\] "relative.jpg" is not an absolute path/);
  refused((p) => { p['images'] = ['/a.jpg', 7]; }, /images\[1\] must be a path/);
  refused((p) => { p['images'] = ['/a\nb.jpg']; }, /images\[0\] must be a path \(a non-empty string of one line/);
  refused((p) => { p['images'] = ['/a.jpg', '/a.jpg']; }, /lists a path twice/);
  refused((p) => { p['model'] = { name: 'gender', sha256: 'xyz' }; }, /"model.sha256" must be 64/);
  refused((p) => { p['model'] = { name: '../m.onnx', sha256: 'a'.repeat(64) }; }, /"model.name" "..\/m.onnx" is a relative path/);
  refused((p) => { p['flags'] = { out: '/etc' }; }, /"flags" holds --out, which a chunk may not carry/);
  refused((p) => { p['flags'] = { stride: 16 }; }, /flag --stride must be a non-empty string/);
  refused((p) => { p['spec'] = 'evil'; }, /"spec" must be a JSON object/);
  assert.throws(() => validateChunkPayload('{"format":"csm-queue-chunk"}'), /expected a JSON object, got string/);
});

test('submit cuts the images into chunks of consecutive images, each a valid payload', () => {
  const images = Array.from({ length: 7 }, (_, i) => `/d/${i}.jpg`);
  assert.equal(chunkImages(images, 3), [images.slice(0, 3), images.slice(3, 6), images.slice(6)]);
  const payloads = chunkPayloads({ run: 'r', images, source: '/d', model: { name: 'gender', sha256: 'b'.repeat(64) }, flags: {}, chunkSize: 3, attempts: 1, backoffMs: 0 });
  assert.equal(payloads.map((p) => [p.chunk, p.chunks, p.images.length]), [[0, 3, 3], [1, 3, 3], [2, 3, 1]]);
  assert.throws(() => chunkImages(images, 0), /chunk size must be a whole number ≥ 1/);
});

test('Redis URLs: redis:// and rediss://, the password from the URL, a file or the environment, never shown', async () => {
  const plain = await parseRedisUrl('redis://127.0.0.1:6380/2', { env: {} });
  assert.equal([plain.host, plain.port, plain.db, plain.tls, plain.password], ['127.0.0.1', 6380, 2, false, undefined]);
  const tls = await parseRedisUrl('rediss://user:s%40cret@redis.example:6390', { env: {} });
  assert.equal([tls.tls, tls.username, tls.password, tls.port], [true, 'user', 's@cret', 6390]);
  assert.not.match(tls.shown, /cret/);
  assert.is(redactedUrl('rediss://user:s3cret@h:1'), 'rediss://user:***@h:1');
  assert.is(redactedUrl('redis://:s3cret@h'), 'redis://:***@h');
  assert.is((await parseRedisUrl('redis://h', { env: { CSM_REDIS_PASSWORD: 'fromenv' } })).password, 'fromenv');
  const file = join(mkdtempSync(join(tmpdir(), 'csm-pw-')), 'pw');
  writeFileSync(file, 'fromfile\n');
  assert.is((await parseRedisUrl('redis://:inurl@h', { passwordFile: file, env: { CSM_REDIS_PASSWORD: 'x' } })).password, 'fromfile');
  await parseRedisUrl('http://h').then(() => assert.unreachable(), (e) => assert.match(e.message, /redis:\/\/ or rediss:\/\/ \(TLS\) URL, got a http:\/\/ URL/));
  await parseRedisUrl('redis://:pw@h:1/x').then(() => assert.unreachable(), (e) => { assert.match(e.message, /database/); assert.not.match(e.message, /pw@/); });
});

test('chunks from machines whose model file lies elsewhere (another cache folder) compare equal; another hash or option does not', () => {
  const fp = (file: string, sha256: string, stride = 8) => ({ model: { name: 'gender', file, sha256 }, stride, mode: 'classification' });
  const same = (a: Record<string, unknown>, b: Record<string, unknown>) => fingerprintDiff(comparableFingerprint(a), comparableFingerprint(b));
  assert.equal(same(fp('/home/a/.cache/csm/models/g.onnx', 'a'.repeat(64)), fp('/scratch/b/csm/models/g.onnx', 'a'.repeat(64))), []);
  assert.match(same(fp('/x', 'a'.repeat(64)), fp('/x', 'b'.repeat(64))).join(), /--model \(model.sha256\)/);
  assert.match(same(fp('/x', 'a'.repeat(64)), fp('/x', 'a'.repeat(64), 16)).join(), /--stride: checkpoint 8, now 16/);
});

test.run();
