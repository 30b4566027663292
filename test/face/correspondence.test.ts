import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CsmError } from '../../src/errors.js';
import { canonicalFrame, loadCanonicalFaceModel } from '../../src/face/canonical.js';
import { correspondence, densePoints, mapPoints, meshXYFromXYZ, triangleRaster } from '../../src/face/correspondence.js';
import type { CanonicalFrame } from '../../src/face/types.js';

const SIZE = 224;
let frame: CanonicalFrame | undefined;
async function getFrame(): Promise<CanonicalFrame> {
  frame ??= canonicalFrame(await loadCanonicalFaceModel(), SIZE);
  return frame;
}

test('triangle raster covers the face, not the corners, and every triangle index is valid', async () => {
  const f = await getFrame();
  const raster = triangleRaster(f);
  assert.is(raster.length, SIZE * SIZE);
  assert.is(raster[0], -1);
  assert.is(raster[SIZE * SIZE - 1], -1);
  assert.ok(raster[(SIZE / 2) * SIZE + SIZE / 2] >= 0, 'centre is on the face');
  const covered = raster.filter((t) => t >= 0).length;
  // Measured: 25,814 of 50,176 pixels at size 224.
  assert.ok(covered > 0.4 * SIZE * SIZE && covered < 0.7 * SIZE * SIZE, `${covered} covered`);
  assert.ok(raster.every((t) => t >= -1 && t < 898));
});

test('dense point counts decrease with stride (table in correspondence.ts)', async () => {
  const f = await getFrame();
  const raster = triangleRaster(f);
  const counts = [1, 2, 3, 4, 5, 6, 8, 10].map((s) => densePoints(f, s, raster).count);
  console.log(`  dense points at size ${SIZE}, strides 1,2,3,4,5,6,8,10: ${counts.join(', ')}`);
  for (let k = 1; k < counts.length; k++) assert.ok(counts[k] < counts[k - 1], `stride counts ${counts.join(',')}`);
  assert.is(counts[0], raster.filter((t) => t >= 0).length, 'stride 1 = every covered pixel');
});

test('every dense point lies in its triangle; barycentrics reproduce its canonical position', async () => {
  const f = await getFrame();
  const pts = densePoints(f, 3);
  assert.is(pts.triangle.length, pts.count);
  assert.is(pts.bary.length, 3 * pts.count);
  assert.is(pts.canonical.length, 2 * pts.count);
  for (let n = 0; n < pts.count; n++) {
    const b = pts.bary.subarray(3 * n, 3 * n + 3);
    assert.ok(b[0] >= -1e-6 && b[1] >= -1e-6 && b[2] >= -1e-6, `point ${n} bary ${b}`);
    assert.ok(Math.abs(b[0] + b[1] + b[2] - 1) < 1e-6);
    for (let k = 0; k < 3; k++) assert.is(pts.vertices[3 * n + k], f.triangles[3 * pts.triangle[n] + k]);
    // Grid: pixel centres at floor(3/2) + 3k + 0.5.
    assert.is((pts.canonical[2 * n] - 1.5) % 3, 0);
  }
});

test('mapPoints with the canonical mesh itself is the identity', async () => {
  const f = await getFrame();
  const pts = densePoints(f, 2);
  const mapped = mapPoints(f.xy, pts);
  let worst = 0;
  for (let k = 0; k < mapped.length; k++) worst = Math.max(worst, Math.abs(mapped[k] - pts.canonical[k]));
  assert.ok(worst < 1e-4, `max deviation ${worst}`);
  const corr = correspondence(f.xy, pts, f);
  assert.is(corr.count, pts.count);
  assert.is(corr.canonicalSize, SIZE);
  assert.is(corr.canonical, pts.canonical);
  assert.equal(Array.from(corr.image), Array.from(mapped));
});

test('mapPoints applies an affine map exactly (piecewise affine of an affine map)', async () => {
  const f = await getFrame();
  const pts = densePoints(f, 5);
  const A = (x: number, y: number): [number, number] => [0.9 * x - 0.2 * y + 13, 0.25 * x + 1.1 * y - 7];
  const mesh = new Float32Array(f.xy.length);
  for (let i = 0; i < f.count; i++) [mesh[2 * i], mesh[2 * i + 1]] = A(f.xy[2 * i], f.xy[2 * i + 1]);
  const mapped = mapPoints(mesh, pts);
  for (let n = 0; n < pts.count; n++) {
    const [ex, ey] = A(pts.canonical[2 * n], pts.canonical[2 * n + 1]);
    assert.ok(Math.abs(mapped[2 * n] - ex) < 1e-3 && Math.abs(mapped[2 * n + 1] - ey) < 1e-3);
  }
});

test('meshXYFromXYZ drops z; bad inputs raise errors', async () => {
  assert.equal(Array.from(meshXYFromXYZ(Float32Array.from([1, 2, 3, 4, 5, 6]))), [1, 2, 4, 5]);
  assert.throws(() => meshXYFromXYZ(new Float32Array(4)), (e: unknown) => e instanceof CsmError);
  const f = await getFrame();
  const pts = densePoints(f, 8);
  assert.throws(() => mapPoints(new Float32Array(10), pts), (e: unknown) => e instanceof CsmError);
  assert.throws(() => densePoints(f, 0), (e: unknown) => e instanceof RangeError);
});

test.run();
