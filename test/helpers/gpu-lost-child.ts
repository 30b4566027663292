/**
 * Run as a child process by test/engine/gpu-lost.test.ts: a CMS run on the WebGPU engine whose
 * device is destroyed after the first image. Prints one JSON line with what happened.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GpuRuntime } from '../../src/engine/webgpu/runtime.js';
import { DEFAULT_EXPLAIN, Explainer, FatalError, loadAccumulator, openEngine, resolveModel, runCms } from '../../src/index.js';

const photos = process.argv.slice(2);
const model = await resolveModel('emotion');
const session = await openEngine('webgpu', model, { batch: 16 });
const ex = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 16, canonicalSize: 96 });
const dir = join(mkdtempSync(join(tmpdir(), 'csm-lost-')), 'ckpt');
let error = '';
let fatal = false;
let errorClass = '';
try {
  await runCms(photos, (f) => ex.cis(f), ex.canonicalSize, {
    checkpointDir: dir, checkpointEvery: 0, resume: false, fingerprint: {},
    onImage: async (_, index) => { if (index === 0) { (await GpuRuntime.acquire(true)).device.destroy(); await new Promise((r) => setTimeout(r, 50)); } },
  });
} catch (e) {
  error = (e as Error).message;
  fatal = e instanceof FatalError;
  errorClass = (e as Error).name;
}
const { acc, extra } = await loadAccumulator(dir);
console.log(JSON.stringify({ error, fatal, errorClass, images: acc.images, next: (extra as { next: number }).next }));
process.exit(0);
