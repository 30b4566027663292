/** The region table and the figure of a comparison on the real canonical face with synthetic maps: a shift in the eyes only. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalFaceImage, canonicalFrame, compareFigures, compareMapSets, compareRegionMarkdown, loadCanonicalFaceModel, regionMasks, type CanonicalMapSet } from '../../src/index.js';
import { mulberry32 } from '../helpers/random.js';

test('a +δ shift in the eyes of side A: only the eyes region differs, its interval covers δ; the figure has three panels', async () => {
  const size = 48, delta = 0.8;
  const frame = canonicalFrame(await loadCanonicalFaceModel(), size);
  const masks = regionMasks(frame);
  const face = Uint8Array.from({ length: size * size }, (_, p) => (Object.values(masks).some((m) => m[p]) ? 1 : 0));
  const r = mulberry32(7);
  const g = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const side = (n: number, shift: number, tag: string): CanonicalMapSet => ({
    size,
    maps: Array.from({ length: n }, () => Float32Array.from({ length: size * size }, (_, p) => (face[p] ? 0.3 + 0.5 * g() + (masks.eyes[p] ? shift : 0) : 0))),
    covered: Array.from({ length: n }, () => face.slice()),
    ids: Array.from({ length: n }, (_, i) => `${tag}${i}`),
  });
  const c = compareMapSets('groups', side(20, delta, 'a'), side(20, 0, 'b'), { permutations: 300, bootstrap: 300, seed: 3 }, masks);
  const rows = Object.fromEntries(c.regions!.map((x) => [x.region, x]));
  assert.ok(rows.eyes!.low <= delta && delta <= rows.eyes!.high, `eyes interval [${rows.eyes!.low}, ${rows.eyes!.high}]`);
  assert.ok(rows.eyes!.pFwer <= 0.01, `eyes p ${rows.eyes!.pFwer}`);
  assert.ok(rows.eyes!.significantPixels >= 0.5 * rows.eyes!.testedPixels, `eyes significant ${rows.eyes!.significantPixels}/${rows.eyes!.testedPixels}`);
  for (const x of c.regions!) if (x.region !== 'eyes') assert.ok(x.pFwer > 0.05 && x.low <= 0 && 0 <= x.high, `${x.region}: p ${x.pFwer} [${x.low}, ${x.high}]`);
  assert.match(compareRegionMarkdown(c.regions!, ['A', 'B']), /\| eyes \|/);
  const figs = compareFigures(c, { size, face: await canonicalFaceImage(size), frame }, ['A', 'B']);
  assert.ok(figs.figure.width > 3 * size && figs.figure.height > size);
  assert.is(figs.figure.rgba.length, 4 * figs.figure.width * figs.figure.height);
});

test.run();
