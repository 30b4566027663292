import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CsmError } from '../../src/errors.js';
import { canonicalFrame, decodeCanonicalFaceModel, loadCanonicalFaceModel } from '../../src/face/canonical.js';
import { encodePng, rgbToRgba8 } from '../../src/image/index.js';
import { REPO_ROOT } from '../helpers/data.js';

// MediaPipe landmark ids.
const NOSE_TIP = 1, RIGHT_EYE_OUTER = 33, LEFT_EYE_OUTER = 263;

test('canonical model: 468 vertices, 898 triangles, valid indices and UVs, cached', async () => {
  const model = await loadCanonicalFaceModel();
  assert.is(model.count, 468);
  assert.is(model.vertices.length, 3 * 468);
  assert.is(model.uv.length, 2 * 468);
  assert.is(model.triangles.length, 3 * 898);
  assert.ok(model.triangles.every((i) => i < 468));
  assert.ok(model.uv.every((u) => u >= 0 && u <= 1));
  assert.ok(model.vertices.every(Number.isFinite));
  assert.is(await loadCanonicalFaceModel(), model, 'second load returns the cached model');
});

test('canonical model: bad bytes raise a CsmError naming the source', () => {
  try {
    decodeCanonicalFaceModel(new Uint8Array([0x0a, 0x02, 0x08, 0x00]), 'fake.binarypb');
    assert.unreachable('should throw');
  } catch (err) {
    assert.instance(err, CsmError);
    assert.match((err as Error).message, 'fake.binarypb');
  }
});

test('canonical frame fits the image with the margin on the tighter side, centred', async () => {
  const model = await loadCanonicalFaceModel();
  const size = 224, margin = 0.08;
  const frame = canonicalFrame(model, size, margin);
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < frame.count; i++) {
    minX = Math.min(minX, frame.xy[2 * i]); maxX = Math.max(maxX, frame.xy[2 * i]);
    minY = Math.min(minY, frame.xy[2 * i + 1]); maxY = Math.max(maxY, frame.xy[2 * i + 1]);
  }
  const m = margin * size;
  assert.ok(minX >= m - 1e-3 && maxX <= size - m + 1e-3 && minY >= m - 1e-3 && maxY <= size - m + 1e-3);
  // The face is taller than wide, so the vertical extent is the tight one.
  assert.ok(Math.abs(minY - m) < 1e-3 && Math.abs(maxY - (size - m)) < 1e-3, `y range ${minY}..${maxY}`);
  assert.ok(Math.abs((minX + maxX) / 2 - size / 2) < 1e-3, 'centred horizontally');
  // Uniform scale: z uses the same factor as x.
  const s = (frame.xy[2 * LEFT_EYE_OUTER] - frame.xy[2 * RIGHT_EYE_OUTER])
    / (model.vertices[3 * LEFT_EYE_OUTER] - model.vertices[3 * RIGHT_EYE_OUTER]);
  assert.ok(Math.abs(frame.z[NOSE_TIP] / model.vertices[3 * NOSE_TIP + 2] - s) < 1e-4);
});

test('canonical frame looks like an unmirrored frontal photo, nose nearest', async () => {
  const frame = canonicalFrame(await loadCanonicalFaceModel(), 224);
  // Subject's right eye on the image's left, left eye on the right, both above the nose tip.
  assert.ok(frame.xy[2 * RIGHT_EYE_OUTER] < 112, 'landmark 33 on the left half');
  assert.ok(frame.xy[2 * LEFT_EYE_OUTER] > 112, 'landmark 263 on the right half');
  assert.ok(frame.xy[2 * RIGHT_EYE_OUTER + 1] < frame.xy[2 * NOSE_TIP + 1], 'eyes above the nose (y down)');
  assert.ok(frame.xy[2 * 10 + 1] < frame.xy[2 * 152 + 1], 'forehead (10) above chin (152)');
  // Nose tip nearest the viewer among central points. Landmark 4, just above it on the nasal
  // ridge, is the model's most forward vertex (z 7.59 vs 7.48 cm), so it is not in this list.
  const central = [0, 2, 5, 6, 9, 10, 13, 14, 17, 152, 164, 168];
  for (const i of central) assert.ok(frame.z[NOSE_TIP] > frame.z[i], `z[1] > z[${i}]`);
});

/**
 * Draw the frame's triangle edges in white on black and write them as a PNG for a human to look
 * at; the subject's right-eye outer corner (landmark 33) is marked with a red square, which must
 * appear on the image's left.
 */
test('canonical mesh PNG (test-output/face/canonical-mesh.png)', async () => {
  const size = 512;
  const frame = canonicalFrame(await loadCanonicalFaceModel(), size);
  const plane = size * size;
  const data = new Float32Array(3 * plane);
  const plot = (x: number, y: number): void => {
    const i = Math.floor(x), j = Math.floor(y);
    if (i < 0 || j < 0 || i >= size || j >= size) return;
    for (let c = 0; c < 3; c++) data[c * plane + j * size + i] = 255;
  };
  const t = frame.triangles;
  for (let k = 0; k < t.length; k += 3) {
    for (const [a, b] of [[t[k], t[k + 1]], [t[k + 1], t[k + 2]], [t[k + 2], t[k]]]) {
      const x0 = frame.xy[2 * a], y0 = frame.xy[2 * a + 1], x1 = frame.xy[2 * b], y1 = frame.xy[2 * b + 1];
      const steps = Math.ceil(2 * Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))) + 1;
      for (let s = 0; s <= steps; s++) plot(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps);
    }
  }
  const rx = Math.round(frame.xy[2 * RIGHT_EYE_OUTER]), ry = Math.round(frame.xy[2 * RIGHT_EYE_OUTER + 1]);
  for (let j = ry - 4; j <= ry + 4; j++) {
    for (let i = rx - 4; i <= rx + 4; i++) {
      data[j * size + i] = 255;
      data[plane + j * size + i] = 0;
      data[2 * plane + j * size + i] = 0;
    }
  }
  const dir = join(REPO_ROOT, 'test-output', 'face');
  mkdirSync(dir, { recursive: true });
  const png = encodePng(size, size, rgbToRgba8({ width: size, height: size, data }));
  writeFileSync(join(dir, 'canonical-mesh.png'), png);
  assert.ok(png.length > 1000);
});

test.run();
