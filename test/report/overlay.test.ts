import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalFaceImage, canonicalFrame, loadCanonicalFaceModel, triangleRaster, warpToPhoto } from '../../src/face/index.js';
import { toGray } from '../../src/image/index.js';
import { canonicalOverlay, colormap, photoOverlay, regionMasks, regionTable, regionTableMarkdown, rgbaPng, withColorbar, writeHtmlIndex } from '../../src/report/index.js';
import { REPO_ROOT } from '../helpers/data.js';

const SIZE = 256;
const OUT = join(REPO_ROOT, 'test-output', 'report');

/** A signed synthetic saliency map: positive blobs on the eyes, a negative one on the mouth. */
function syntheticMap(xy: Float32Array): Float32Array {
  const blobs: [number, number, number, number][] = [
    [33, 133, 1.0, 18], [263, 362, 0.8, 18], [61, 291, -0.6, 22],
  ];
  const map = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let v = 0;
      for (const [a, b, amp, s] of blobs) {
        const cx = (xy[2 * a]! + xy[2 * b]!) / 2, cy = (xy[2 * a + 1]! + xy[2 * b + 1]!) / 2;
        v += amp * Math.exp(-((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2) / (2 * s * s));
      }
      map[y * SIZE + x] = v;
    }
  }
  return map;
}

test('canonical overlay: grayscale F outside the face, heatmap blended inside', async () => {
  const frame = canonicalFrame(await loadCanonicalFaceModel(), SIZE);
  const raster = triangleRaster(frame);
  const F = await canonicalFaceImage(SIZE);
  const map = syntheticMap(frame.xy);
  const ov = canonicalOverlay(map, frame, F, { colormap: 'jet', alpha: 0.5, raster });
  assert.is(ov.width, SIZE);
  assert.is(ov.rgba.length, 4 * SIZE * SIZE);
  assert.ok(ov.range.symmetric && ov.range.hi > 0.9 && ov.range.lo === -ov.range.hi, `range ${JSON.stringify(ov.range)}`);
  const gray = toGray(F);
  let off = 0, on = 0;
  for (let p = 0; p < SIZE * SIZE; p++) {
    const [r, g, b, a] = ov.rgba.subarray(4 * p, 4 * p + 4);
    assert.is(a, 255);
    if (raster[p]! < 0) {
      off++;
      assert.ok(r === g && g === b && Math.abs(r! - gray[p]!) <= 0.5, `off-face pixel ${p} is grey F`);
    } else if (r !== g || g !== b) on++;
  }
  assert.ok(off > 1000 && on > 10000, `off ${off}, tinted ${on}`);
  // An eye blob peak reads as the hot end of jet: more red than blue.
  const e = Math.floor((frame.xy[2 * 33 + 1]! + frame.xy[2 * 133 + 1]!) / 2) * SIZE + Math.floor((frame.xy[2 * 33]! + frame.xy[2 * 133]!) / 2);
  assert.ok(ov.rgba[4 * e]! > ov.rgba[4 * e + 2]! + 40, 'eye is red-ish');
  // F given at another size is resampled to the frame.
  const small = canonicalOverlay(map, frame, await canonicalFaceImage(512), { colormap: 'jet', raster });
  assert.is(small.width, SIZE);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'canonical-overlay.png'), rgbaPng(withColorbar(ov, { colormap: 'jet', range: ov.range })));
  const turbo = canonicalOverlay(map, frame, F, { colormap: 'turbo', alpha: 0.6, raster });
  writeFileSync(join(OUT, 'canonical-overlay-turbo.png'), rgbaPng(withColorbar(turbo, { colormap: 'turbo', range: turbo.range })));
});

test('photo overlay: tints only mask pixels, keeps the photo elsewhere', async () => {
  const frame = canonicalFrame(await loadCanonicalFaceModel(), SIZE);
  const map = syntheticMap(frame.xy);
  // A "photo": F itself, with the canonical mesh shrunk and shifted onto it (z towards the viewer).
  const F = await canonicalFaceImage(SIZE);
  const xyz = new Float32Array(3 * frame.count);
  for (let i = 0; i < frame.count; i++) {
    xyz[3 * i] = 0.8 * frame.xy[2 * i]! + 30;
    xyz[3 * i + 1] = 0.8 * frame.xy[2 * i + 1]! + 20;
    xyz[3 * i + 2] = frame.z[i]!;
  }
  const { values, mask } = warpToPhoto(map, frame, xyz, SIZE, SIZE, 'larger-z');
  const ov = photoOverlay(F, values, mask, { colormap: 'jet', gray: false, alpha: 0.7 });
  let tinted = 0;
  for (let p = 0; p < SIZE * SIZE; p++) {
    const o = 4 * p;
    if (!mask[p]) {
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(ov.rgba[o + c]! - F.data[c * SIZE * SIZE + p]!) <= 0.5, `pixel ${p} keeps the photo`);
    } else tinted++;
  }
  assert.ok(tinted > 5000);
  assert.throws(() => photoOverlay(F, values.subarray(1), mask, { colormap: 'jet' }), /pixels/);
  // Full opacity shows the colour map exactly.
  const solid = photoOverlay(F, values, mask, { colormap: 'jet', alpha: 1 });
  const p = mask.indexOf(1);
  const t = (values[p]! - solid.range.lo) / (solid.range.hi - solid.range.lo);
  const want = colormap('jet', Math.round(256 * t) / 256);
  assert.equal([...solid.rgba.subarray(4 * p, 4 * p + 3)], want);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'photo-overlay.png'), rgbaPng(withColorbar(ov, { colormap: 'jet', range: ov.range })));
});

test('sample report (test-output/report/index.html) with the overlays and a region table', async () => {
  const frame = canonicalFrame(await loadCanonicalFaceModel(), SIZE);
  const rows = regionTable(syntheticMap(frame.xy), regionMasks(frame));
  const eyes = rows.find((r) => r.region === 'eyes')!, mouth = rows.find((r) => r.region === 'mouth')!;
  assert.ok(eyes.mean > 0.3 && mouth.mean < -0.2, `eyes ${eyes.mean}, mouth ${mouth.mean}`);
  assert.ok(eyes.share > 0.15, `eyes share ${eyes.share}`);
  await writeHtmlIndex(OUT, {
    title: 'csm report sample (synthetic map)',
    sections: [
      { heading: 'Canonical overlays', text: 'Positive blobs on the eyes, a negative blob on the mouth.',
        images: [{ file: 'canonical-overlay.png', caption: 'jet' }, { file: 'canonical-overlay-turbo.png', caption: 'turbo' }],
        tables: regionTableMarkdown(rows) },
      { heading: 'Photo overlay and regions', images: [{ file: 'photo-overlay.png', caption: 'warped onto a photo' }, { file: 'regions.png', caption: 'regions' }] },
    ],
    params: { size: SIZE, map: 'synthetic' },
  });
});

test.run();
