/**
 * Partial faces and profiles (issue 13): a face cut by the photo's edge or strongly turned gets a
 * warning, the canonical warp leaves the part outside the photo empty (masked) instead of smearing
 * edge pixels, and occlusion points outside the photo are counted for the sidecar.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { basename } from 'node:path';
import {
  canonicalFrame, cropAndResize, FaceAligner, loadCanonicalFaceModel, meshOutside, meshXYFromXYZ, meshYaw, NoFaceError, pointsOutsidePhoto, readImage,
  TURNED_DEGREES, warpToCanonicalMasked, type CisResult,
} from '../../src/index.js';
import { celebaImages, CELEBA_DIR, skip } from '../helpers/data.js';

test('yaw from the mesh: 0 for the canonical face, the rotation angle for a turned one', async () => {
  const model = await loadCanonicalFaceModel();
  for (const degrees of [0, 20, -35, 60]) {
    const t = (degrees * Math.PI) / 180;
    const points = new Float32Array(model.vertices.length);
    for (let k = 0; k < model.count; k++) {
      // Canonical model: y up, z towards the viewer. Mesh convention: y down, z away from the camera.
      const [x, y, z] = [model.vertices[3 * k]!, model.vertices[3 * k + 1]!, model.vertices[3 * k + 2]!];
      points[3 * k] = x * Math.cos(t) + z * Math.sin(t);
      points[3 * k + 1] = -y;
      points[3 * k + 2] = -(-x * Math.sin(t) + z * Math.cos(t));
    }
    const yaw = meshYaw(points);
    assert.ok(Math.abs(Math.abs(yaw) - Math.abs(degrees)) < 3, `rotated by ${degrees}°: yaw ${yaw.toFixed(1)}°`);
  }
  assert.ok(TURNED_DEGREES > 30 && TURNED_DEGREES < 60);
});

test('a face cut by the photo edge: warned, and its canonical warp is empty where the photo ends', async () => {
  const images = celebaImages();
  if (!images) return skip('partial faces', `csm-celeba100 is not at ${CELEBA_DIR}`);
  const aligner = await FaceAligner.create();
  const frame = canonicalFrame(await loadCanonicalFaceModel(), 128);
  let checked = 0;
  for (const file of images.slice(0, 6)) {
    const photo = await readImage(file);
    const [whole] = await aligner.align(photo, basename(file));
    const box = whole!.mesh.detection.box;
    // Keep the photo from the face's middle rightwards: the face's left part is cut off.
    const x0 = Math.round(box.x + box.width * 0.4);
    const cut = cropAndResize(photo, { x: x0, y: 0, width: photo.width - x0, height: photo.height }, photo.width - x0, photo.height);
    let faces;
    try {
      faces = await aligner.align(cut, 'cut.jpg');
    } catch (e) {
      if (e instanceof NoFaceError) continue; // Too little face left to find: nothing to warp.
      throw e;
    }
    const face = faces[0]!;
    const outside = meshOutside(face.mesh.points, cut.width, cut.height);
    if (outside <= 0.05) continue;
    assert.ok(face.warnings.some((w) => /% of its mesh lies outside the photo \(a partial face\)/.test(w)), face.warnings.join(' | '));
    const full = warpToCanonicalMasked(photo, meshXYFromXYZ(whole!.mesh.points), frame).mask.reduce((a, b) => a + b, 0);
    const { image, mask } = warpToCanonicalMasked(cut, meshXYFromXYZ(face.mesh.points), frame);
    const kept = mask.reduce((a, b) => a + b, 0);
    assert.ok(kept < full * 0.95, `the cut face's warp covers ${kept} canonical pixels, the whole face's ${full}`);
    for (let p = 0; p < mask.length; p++) if (!mask[p]) assert.is(image.data[p], 0, 'masked pixels are empty');
    checked++;
  }
  await aligner.dispose();
  assert.ok(checked >= 2, `only ${checked} cut faces were found and checked`);
});

test('occlusion points whose centre lies outside the photo are counted', () => {
  const result = {
    prepared: { photo: { width: 100, height: 80, data: new Float32Array(0) }, toInput: { a: 2, b: 0, c: -20, d: 0, e: 2, f: 0 } },
    // Input pixels → photo: x = (u + 20) / 2, y = v / 2.
    plan: { count: 4, centres: Float32Array.from([0, 0, -30, 10, 200, 170, 100, 100]) },
  } as unknown as CisResult;
  assert.is(pointsOutsidePhoto(result), 2, '(-5, 5) and (110, 85) are outside a 100 × 80 photo');
});

test.run();
