import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalFaceImage, canonicalFrame, loadCanonicalFaceModel, triangleRaster } from '../../src/face/index.js';
import type { CanonicalFrame } from '../../src/face/types.js';
import { encodePng } from '../../src/image/index.js';
import { allRegionsNegative, REGION_NAMES, regionMasks, regionsRgba, regionTable, regionTableMarkdown, topRegionsText, type RegionName } from '../../src/report/index.js';
import { REPO_ROOT } from '../helpers/data.js';

const SIZE = 256;
let frame: CanonicalFrame, raster: Int32Array, masks: Record<RegionName, Uint8Array>;

test.before(async () => {
  frame = canonicalFrame(await loadCanonicalFaceModel(), SIZE);
  raster = triangleRaster(frame);
  masks = regionMasks(frame, { raster });
});

/** The region of the pixel under landmark i, or `dy` pixels below it (landmarks on the face outline sit on its edge). */
function regionAt(i: number, dy = 0): RegionName | undefined {
  const p = Math.floor(frame.xy[2 * i + 1]! + dy) * SIZE + Math.floor(frame.xy[2 * i]!);
  return REGION_NAMES.find((n) => masks[n][p]);
}

test('every face pixel is in exactly one region, no off-face pixel in any', () => {
  let face = 0;
  for (let p = 0; p < SIZE * SIZE; p++) {
    const n = REGION_NAMES.reduce((s, r) => s + masks[r][p]!, 0);
    if (raster[p]! >= 0) { face++; assert.is(n, 1, `pixel ${p}`); } else assert.is(n, 0, `off-face pixel ${p}`);
  }
  assert.ok(face > 10000);
  for (const r of REGION_NAMES) assert.ok(masks[r].some((v) => v === 1), `${r} is not empty`);
});

test('landmarks fall in their regions', () => {
  for (const i of [33, 133, 263, 362, 159, 386, 145, 374]) assert.is(regionAt(i), 'eyes', `landmark ${i}`);
  for (const i of [61, 291, 0, 17]) assert.is(regionAt(i), 'mouth', `landmark ${i}`);
  assert.is(regionAt(1), 'nose');
  assert.is(regionAt(4), 'nose');
  for (const i of [105, 334, 66, 296]) assert.is(regionAt(i), 'brows', `landmark ${i}`);
  assert.is(regionAt(152, -2), 'chin_jaw', 'just above the chin tip');
  assert.is(regionAt(10, 2), 'forehead', 'just below the top of the face oval');
  assert.is(regionAt(151), 'forehead', 'mid forehead');
  for (const i of [50, 280, 205, 425]) assert.is(regionAt(i), 'cheeks', `landmark ${i}`);
});

test('forehead lies above the eyes, chin_jaw below the mouth', () => {
  const rows = (m: Uint8Array): [number, number] => {
    let lo = Infinity, hi = -Infinity;
    m.forEach((v, p) => { if (v) { const y = Math.floor(p / SIZE); lo = Math.min(lo, y); hi = Math.max(hi, y); } });
    return [lo, hi];
  };
  const [, foreBottom] = rows(masks.forehead);
  const [eyeTop] = rows(masks.eyes);
  const [, mouthBottom] = rows(masks.mouth);
  const [chinTop] = rows(masks.chin_jaw);
  assert.ok(foreBottom < eyeTop, `forehead ends at row ${foreBottom}, eyes start at ${eyeTop}`);
  assert.ok(chinTop > mouthBottom, `chin_jaw starts at row ${chinTop}, mouth ends at ${mouthBottom}`);
});

test('regionTable: a map of 1 on the eyes gives eyes mean 1 and share 1', () => {
  const map = Float32Array.from(masks.eyes);
  const rows = regionTable(map, masks);
  assert.equal(rows.map((r) => r.region), [...REGION_NAMES]);
  const eyes = rows.find((r) => r.region === 'eyes')!;
  assert.is(eyes.mean, 1);
  assert.is(eyes.meanAbs, 1);
  assert.is(eyes.share, 1);
  assert.is(eyes.pixels, masks.eyes.reduce((s, v) => s + v, 0));
  for (const r of rows) if (r.region !== 'eyes') { assert.is(r.mean, 0); assert.is(r.share, 0); }
  // Negative values lower the mean but not the share of positive mass.
  const signed = map.map((v, p) => (masks.nose[p] ? -2 : v));
  const nose = regionTable(signed, masks).find((r) => r.region === 'nose')!;
  assert.is(nose.mean, -2);
  assert.is(nose.meanAbs, 2);
  assert.is(nose.share, 0);
  const md = regionTableMarkdown(rows);
  assert.match(md, '| eyes |');
  assert.match(md, '100.0%');
  assert.is(md.split('\n').length, 2 + REGION_NAMES.length);
});

test('ranked by mean signed saliency; a map negative everywhere says so instead of naming a "most salient" region', () => {
  // Eyes 3, nose 1, every other face pixel −1: ranked eyes, nose, then the rest.
  const face = (p: number): boolean => REGION_NAMES.some((n) => masks[n][p]);
  const mixed = Float32Array.from({ length: SIZE * SIZE }, (_, p) => (masks.eyes[p] ? 3 : masks.nose[p] ? 1 : face(p) ? -1 : 0));
  const rows = regionTable(mixed, masks);
  assert.not.ok(allRegionsNegative(rows));
  assert.match(topRegionsText(rows, 2), /^most salient regions \(mean saliency per pixel\): eyes 3, nose 1$/);
  assert.not.match(regionTableMarkdown(rows), /negative/);
  // Every region negative (the mouth least): no region is called salient, in the sentence and the table.
  const negative = Float32Array.from({ length: SIZE * SIZE }, (_, p) => (masks.mouth[p] ? -0.1 : face(p) ? -0.5 : 0));
  const neg = regionTable(negative, masks);
  assert.ok(allRegionsNegative(neg));
  const text = topRegionsText(neg, 1);
  assert.not.match(text, /most salient/);
  assert.match(text, /every region's mean saliency is negative.*least negative: mouth -0\.1/);
  const md = regionTableMarkdown(neg);
  assert.match(md, /Every region's mean saliency is negative/);
  assert.is(md.split('\n').length, 2 + REGION_NAMES.length + 2);
  // One region at exactly 0 is not negative.
  assert.not.ok(allRegionsNegative(regionTable(negative.map((v, p) => (masks.chin_jaw[p] ? 0 : v)), masks)));
});

test('regions picture (test-output/report/regions.png)', async () => {
  const F = await canonicalFaceImage(SIZE);
  const img = regionsRgba(masks, SIZE, F);
  const dir = join(REPO_ROOT, 'test-output', 'report');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'regions.png'), encodePng(img.width, img.height, img.rgba));
  const counts = Object.fromEntries(REGION_NAMES.map((n) => [n, masks[n].reduce((s, v) => s + v, 0)]));
  console.log(`  region pixels at ${SIZE}: ${JSON.stringify(counts)}`);
});

test.run();
