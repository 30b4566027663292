/**
 * Warps checked against analytic answers: a synthetic photo mesh is the canonical frame under a
 * known map, photo and canonical images are smooth functions, so the only error left is bilinear
 * interpolation (≈ h²·|f''|/8, a few hundredths of a grey level here).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalFrame, loadCanonicalFaceModel } from '../../src/face/canonical.js';
import { triangleRaster } from '../../src/face/correspondence.js';
import { rasteriseTriangles } from '../../src/face/raster.js';
import type { CanonicalFrame } from '../../src/face/types.js';
import { sampleBilinear, warpToCanonical, warpToCanonicalMasked, warpToPhoto } from '../../src/face/warp.js';
import type { RgbImage } from '../../src/image/index.js';

const SIZE = 224, W = 300, H = 280;
const SCALE = 1.3, ANGLE = (10 * Math.PI) / 180;
const COS = SCALE * Math.cos(ANGLE), SIN = SCALE * Math.sin(ANGLE);
const CX = SIZE / 2, CY = SIZE / 2, TX = W / 2, TY = H / 2 - 2;

/** Canonical → photo: rotate 10°, scale 1.3 about the canonical centre, move to the photo centre. */
function A(x: number, y: number): [number, number] {
  const dx = x - CX, dy = y - CY;
  return [COS * dx - SIN * dy + TX, SIN * dx + COS * dy + TY];
}
function Ainv(x: number, y: number): [number, number] {
  const dx = x - TX, dy = y - TY, det = COS * COS + SIN * SIN;
  return [(COS * dx + SIN * dy) / det + CX, (-SIN * dx + COS * dy) / det + CY];
}

/** A smooth photo, one function per channel (0..255). */
function f(c: number, x: number, y: number): number {
  if (c === 0) return 128 + 60 * Math.sin(x / 23) + 50 * Math.cos(y / 17);
  if (c === 1) return 128 + 80 * Math.sin((x + y) / 31);
  return 40 + 0.5 * x + 0.3 * y;
}
/** A smooth canonical map. */
function g(x: number, y: number): number {
  return 100 + 50 * Math.sin(x / 13) * Math.cos(y / 19);
}

function smoothPhoto(): RgbImage {
  const data = new Float32Array(3 * W * H);
  for (let c = 0; c < 3; c++) {
    for (let j = 0; j < H; j++) for (let i = 0; i < W; i++) data[c * W * H + j * W + i] = f(c, i + 0.5, j + 0.5);
  }
  return { width: W, height: H, data };
}

/** Photo mesh: the canonical frame under A, optionally displaced by a smooth non-affine field.
 *  z = −scale·(canonical z): MediaPipe's convention, smaller z nearer the camera. */
function photoMesh(frame: CanonicalFrame, displace: boolean): { xy: Float32Array; xyz: Float32Array } {
  const xy = new Float32Array(2 * frame.count), xyz = new Float32Array(3 * frame.count);
  for (let i = 0; i < frame.count; i++) {
    let [x, y] = A(frame.xy[2 * i], frame.xy[2 * i + 1]);
    if (displace) [x, y] = [x + 4 * Math.sin(y / 40), y + 4 * Math.cos(x / 35)];
    xy[2 * i] = x; xy[2 * i + 1] = y;
    xyz[3 * i] = x; xyz[3 * i + 1] = y; xyz[3 * i + 2] = -SCALE * frame.z[i];
  }
  return { xy, xyz };
}

/** mask pixels whose (2r+1)² neighbourhood is all inside the mask: away from the face boundary by r px. */
function erode(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let j = r; j < height - r; j++) {
    for (let i = r; i < width - r; i++) {
      let all = 1;
      for (let dj = -r; dj <= r && all; dj++) for (let di = -r; di <= r; di++) if (!mask[(j + dj) * width + i + di]) { all = 0; break; }
      out[j * width + i] = all;
    }
  }
  return out;
}

let frame: CanonicalFrame | undefined;
async function getFrame(): Promise<CanonicalFrame> {
  frame ??= canonicalFrame(await loadCanonicalFaceModel(), SIZE);
  return frame;
}

test('synthetic photo mesh fits the 300×280 photo', async () => {
  const { xy } = photoMesh(await getFrame(), true);
  for (let i = 0; i < xy.length; i += 2) assert.ok(xy[i] > 0 && xy[i] < W && xy[i + 1] > 0 && xy[i + 1] < H, `vertex ${i / 2}: ${xy[i]},${xy[i + 1]}`);
});

test('sampleBilinear: exact at pixel centres, linear between, clamped outside', () => {
  const d = Float32Array.from([0, 10, 20, 30]); // 2×2
  assert.is(sampleBilinear(d, 0, 2, 2, 0.5, 0.5), 0);
  assert.is(sampleBilinear(d, 0, 2, 2, 1.5, 1.5), 30);
  assert.is(sampleBilinear(d, 0, 2, 2, 1, 1), 15);
  assert.is(sampleBilinear(d, 0, 2, 2, -5, 0.5), 0);
  assert.is(sampleBilinear(d, 0, 2, 2, 9, 9), 30);
});

test('warpToCanonical of an affinely placed smooth photo matches f(A(p))', async () => {
  const fr = await getFrame();
  const { xy } = photoMesh(fr, false);
  const raster = triangleRaster(fr);
  const { image, mask } = warpToCanonicalMasked(smoothPhoto(), xy, fr, raster);
  assert.is(image.width, SIZE);
  assert.equal(Array.from(mask), Array.from(raster, (t) => (t >= 0 ? 1 : 0)));
  assert.equal(Array.from(warpToCanonical(smoothPhoto(), xy, fr).data), Array.from(image.data), 'raster argument optional');
  const plane = SIZE * SIZE;
  let worst = 0;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = image.data[c * plane + p];
      if (!mask[p]) { assert.is(v, 0); continue; }
      const [x, y] = A((p % SIZE) + 0.5, Math.floor(p / SIZE) + 0.5);
      worst = Math.max(worst, Math.abs(v - f(c, x, y)));
    }
  }
  console.log(`  photo→canonical (affine): max |error| ${worst.toFixed(4)} over ${mask.reduce((s, m) => s + m, 0)} px`);
  // Measured 0.035 (bilinear interpolation of f; float32 storage).
  assert.ok(worst < 0.5, `max error ${worst}`);
});

test('warpToPhoto of a smooth canonical map matches g(A⁻¹(p)) inside the face', async () => {
  const fr = await getFrame();
  const { xyz } = photoMesh(fr, false);
  const map = new Float32Array(SIZE * SIZE);
  for (let j = 0; j < SIZE; j++) for (let i = 0; i < SIZE; i++) map[j * SIZE + i] = g(i + 0.5, j + 0.5);
  const { values, mask } = warpToPhoto(map, fr, xyz, W, H);
  const interior = erode(mask, W, H, 2);
  let worst = 0, n = 0, covered = 0;
  for (let p = 0; p < W * H; p++) {
    if (!mask[p]) { assert.is(values[p], 0); continue; }
    covered++;
    if (!interior[p]) continue;
    const [x, y] = Ainv((p % W) + 0.5, Math.floor(p / W) + 0.5);
    worst = Math.max(worst, Math.abs(values[p] - g(x, y)));
    n++;
  }
  console.log(`  canonical→photo (affine): max |error| ${worst.toFixed(4)} over ${n} interior px (${covered} covered)`);
  // Face area scales by 1.3² = 1.69: 25,814 canonical px → ≈ 43,600 photo px.
  assert.ok(Math.abs(covered / 25814 - SCALE * SCALE) < 0.02, `${covered} covered`);
  // Measured 0.054.
  assert.ok(worst < 0.5, `max error ${worst}`);
});

test('depth convention: (−z, smaller-z) and (+z, larger-z) agree; the wrong one differs at folds', async () => {
  const fr = await getFrame();
  const { xy } = photoMesh(fr, false);
  const z = fr.z;
  const negZ = z.map((v) => -v);
  const right = rasteriseTriangles(xy, fr.triangles, W, H, negZ, 'smaller-z');
  const same = rasteriseTriangles(xy, fr.triangles, W, H, z, 'larger-z');
  const wrong = rasteriseTriangles(xy, fr.triangles, W, H, negZ, 'larger-z');
  assert.equal(Array.from(right), Array.from(same));
  let differ = 0;
  for (let p = 0; p < right.length; p++) if (right[p] !== wrong[p]) differ++;
  console.log(`  pixels where the frontal mesh folds (ordering matters): ${differ}`);
  assert.ok(differ > 0, 'the canonical mesh folds somewhere in frontal view');
});

/**
 * photo → canonical → photo on a smooth photo. Interior = inside the photo mask and 2 px from its
 * edge, so that the canonical bilinear footprint never reaches the zeros outside the face.
 */
function roundTrip(fr: CanonicalFrame, displace: boolean): { worst: number; mean: number; n: number } {
  const { xy, xyz } = photoMesh(fr, displace);
  const photo = smoothPhoto();
  const canon = warpToCanonical(photo, xy, fr);
  const plane = SIZE * SIZE;
  let worst = 0, sum = 0, n = 0;
  for (let c = 0; c < 3; c++) {
    const { values, mask } = warpToPhoto(canon.data.subarray(c * plane, (c + 1) * plane), fr, xyz, W, H);
    const interior = erode(mask, W, H, 2);
    for (let p = 0; p < W * H; p++) {
      if (!interior[p]) continue;
      const e = Math.abs(values[p] - photo.data[c * W * H + p]);
      worst = Math.max(worst, e);
      sum += e;
      n++;
    }
  }
  return { worst, mean: sum / n, n };
}

test('round trip photo → canonical → photo, affine mesh', async () => {
  const r = roundTrip(await getFrame(), false);
  console.log(`  round trip (affine): max ${r.worst.toFixed(4)}, mean ${r.mean.toFixed(4)} over ${r.n} px·channels`);
  // Measured max 0.091, mean 0.017: two bilinear interpolations, the canonical grid 1.3× coarser.
  assert.ok(r.worst < 0.5, `max error ${r.worst}`);
});

test('round trip photo → canonical → photo, smoothly displaced (non-affine) mesh', async () => {
  const r = roundTrip(await getFrame(), true);
  console.log(`  round trip (non-affine): max ${r.worst.toFixed(4)}, mean ${r.mean.toFixed(4)} over ${r.n} px·channels`);
  // Measured max 0.109, mean 0.018: the displacement (gradient ≤ 0.11) keeps the map smooth per triangle.
  assert.ok(r.worst < 0.5, `max error ${r.worst}`);
});

test('round trip canonical → photo → canonical, smoothly displaced mesh', async () => {
  const fr = await getFrame();
  const { xy, xyz } = photoMesh(fr, true);
  const map = new Float32Array(SIZE * SIZE);
  for (let j = 0; j < SIZE; j++) for (let i = 0; i < SIZE; i++) map[j * SIZE + i] = g(i + 0.5, j + 0.5);
  const { values } = warpToPhoto(map, fr, xyz, W, H);
  // A grey photo carrying the pulled-back map, warped back to the canonical frame.
  const grey: RgbImage = { width: W, height: H, data: new Float32Array(3 * W * H) };
  for (let c = 0; c < 3; c++) grey.data.set(values, c * W * H);
  const { image, mask } = warpToCanonicalMasked(grey, xy, fr);
  const interior = erode(mask, SIZE, SIZE, 2);
  let worst = 0, n = 0;
  for (let p = 0; p < SIZE * SIZE; p++) {
    if (!interior[p]) continue;
    worst = Math.max(worst, Math.abs(image.data[p] - map[p]));
    n++;
  }
  console.log(`  round trip canonical→photo→canonical (non-affine): max ${worst.toFixed(4)} over ${n} px`);
  // Measured max 0.083 (photo pixels are 1.3× finer, so going out and back loses little).
  assert.ok(worst < 0.5, `max error ${worst}`);
});

test.run();
