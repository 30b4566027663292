/**
 * The analytic heads appended to zoo graphs (src/models/heads.ts):
 * - the pose head on synthetic meshes (MediaPipe's canonical face turned by known angles) reads
 *   those angles back, in the graph and in its plain-JS reference;
 * - `headpose` on csm-celeba100 (mostly frontal): most photos are the centre class, and on the
 *   mirrored photos yaw changes sign and the left and right classes swap;
 * - the decade head: its probabilities are sums of the 100-way softmax, softmax(its logits) equals
 *   them.
 * Parity of these outputs with TF.js is in zoo-parity.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import { cropAndResize, encodeModel, ensureZooModel, inputShape, loadCanonicalFaceModel, readImage, toModelInput, zooEntry, type OnnxModel, type RgbImage } from '../../src/index.js';
import { headPose, POSE, reference } from '../../src/models/heads.js';
import { OnnxDataType } from '../../src/models/onnx/schema.js';
import { celebaImages, skip } from '../helpers/data.js';

const images = celebaImages();
const FACE_BOX = { x: 14, y: 45, width: 150, height: 150 };

/** The canonical face turned by yaw θ (towards the image right) and pitch φ (up), as a face-mesh output row. */
function turnedCanonical(vertices: Float32Array, yawDeg: number, pitchDeg: number): Float32Array {
  const [t, f] = [yawDeg * Math.PI / 180, pitchDeg * Math.PI / 180];
  const out = new Float32Array(468 * 3);
  for (let k = 0; k < 468; k++) {
    // Canonical model: X right (image), Y up, Z towards the camera.
    let [x, y, z] = [vertices[3 * k]!, vertices[3 * k + 1]!, vertices[3 * k + 2]!];
    [y, z] = [y * Math.cos(f) + z * Math.sin(f), -y * Math.sin(f) + z * Math.cos(f)];
    [x, z] = [x * Math.cos(t) + z * Math.sin(t), -x * Math.sin(t) + z * Math.cos(t)];
    // Mesh output: x right, y down, z away from the camera; a scale and offset as in crop pixels.
    out.set([96 + 6 * x, 96 - 6 * y, -6 * z], 3 * k);
  }
  return out;
}

test('pose head: reads back the yaw and pitch of the canonical face turned by known angles (graph = JS reference)', async () => {
  const { vertices } = await loadCanonicalFaceModel();
  const model: OnnxModel = {
    opset: 13, producer: 'test', producerVersion: '0', metadata: {},
    graph: {
      name: 'mesh', initializers: [],
      nodes: [{ name: 'id', opType: 'Identity', inputs: ['mesh_in'], outputs: ['output_mesh'], attributes: [] }],
      inputs: [{ name: 'mesh_in', elemType: OnnxDataType.FLOAT, shape: ['batch', 1404] }],
      outputs: [{ name: 'output_mesh', elemType: OnnxDataType.FLOAT, shape: ['batch', 1404] }],
    },
  };
  headPose('output_mesh').apply(model);
  const session = await ort.InferenceSession.create(encodeModel(model));
  const angles: [number, number][] = [[0, 0], [25, 0], [-40, 0], [0, 20], [0, -35], [30, -25], [-10, 15]];
  const batch = new Float32Array(angles.length * 1404);
  angles.forEach(([y, p], b) => batch.set(turnedCanonical(vertices, y, p), b * 1404));
  const r = await session.run({ mesh_in: new ort.Tensor('float32', batch, [angles.length, 1404]) });
  const neutralPitch = reference.headPose(turnedCanonical(vertices, 0, 0)).pitch;
  assert.ok(Math.abs(neutralPitch) < 1, `canonical face pitch ${neutralPitch}° (documented: within 1°)`);
  angles.forEach(([yaw, pitch], b) => {
    const gotYaw = (r['pose_yaw']!.data as Float32Array)[b]!;
    const gotPitch = (r['pose_pitch']!.data as Float32Array)[b]!;
    assert.ok(Math.abs(gotYaw - yaw) < 1e-3, `yaw ${yaw}: read ${gotYaw}`);
    // Pitch is exact for a pure pitch; a yaw turned after it foreshortens the depth by cos(yaw).
    const want = Math.atan(Math.tan((pitch + neutralPitch) * Math.PI / 180) * Math.cos(yaw * Math.PI / 180)) * 180 / Math.PI;
    assert.ok(Math.abs(gotPitch - want) < 1e-3, `pitch ${pitch} (yaw ${yaw}): read ${gotPitch}, want ${want} (neutral ${neutralPitch})`);
    const ref = reference.headPose(batch.subarray(b * 1404, (b + 1) * 1404));
    const probs = (r['pose']!.data as Float32Array).subarray(b * 9, b * 9 + 9);
    ref.probs.forEach((p, k) => assert.ok(Math.abs(p - probs[k]!) < 1e-5, `class ${k}: ${probs[k]} vs JS ${p}`));
    const cls = probs.indexOf(Math.max(...probs));
    const row = Math.abs(pitch) <= POSE.pitchCentres[0] / 2 ? 1 : pitch > 0 ? 0 : 2;
    const col = Math.abs(yaw) <= POSE.yawCentres[2] / 2 ? 1 : yaw > 0 ? 2 : 0;
    assert.is(POSE.labels[cls], POSE.labels[3 * row + col], `yaw ${yaw}, pitch ${pitch}`);
  });
  await session.release();
});

function mirror(img: RgbImage): RgbImage {
  const out = { ...img, data: new Float32Array(img.data.length) } as RgbImage;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      for (let c = 0; c < 3; c++) out.data[(y * img.width + x) * 3 + c] = img.data[(y * img.width + img.width - 1 - x) * 3 + c]!;
    }
  }
  return out;
}

test('headpose on csm-celeba100: most faces are the centre class; mirrored, yaw changes sign and left and right swap', async () => {
  if (!images) return skip('headpose', 'csm-celeba100 is not at ../shared/data (set CSM_TEST_DATA)');
  const spec = zooEntry('headpose')!.spec;
  const session = await ort.InferenceSession.create((await ensureZooModel('headpose')).path);
  const crops = await Promise.all(images.map(async (f) => cropAndResize(await readImage(f), FACE_BOX, spec.input.width, spec.input.height)));
  const run = async (set: RgbImage[]): Promise<{ yaw: Float32Array; cls: number[] }> => {
    const r = await session.run({ [spec.input.name]: new ort.Tensor('float32', toModelInput(set, spec.input, 'NCHW'), inputShape(spec.input, set.length, 'NCHW')) });
    const probs = r['pose']!.data as Float32Array;
    const cls = set.map((_, b) => { const row = Array.from(probs.subarray(b * 9, b * 9 + 9)); return row.indexOf(Math.max(...row)); });
    return { yaw: r['pose_yaw']!.data as Float32Array, cls };
  };
  const orig = await run(crops);
  const flip = await run(crops.map(mirror));
  const n = crops.length;
  const centre = orig.cls.filter((c) => POSE.labels[c] === 'centre').length;
  const counts = POSE.labels.map((l, k) => `${l} ${orig.cls.filter((c) => c === k).length}`).join(', ');
  console.log(`    ${n} photos: ${counts}`);
  assert.ok(centre > n / 2, `centre class for ${centre} of ${n}`);
  // Yaw: clearly turned faces (|yaw| > 5°) turn the other way when mirrored.
  const turned = [...orig.yaw.keys()].filter((b) => Math.abs(orig.yaw[b]!) > 5);
  const flipped = turned.filter((b) => Math.sign(flip.yaw[b]!) === -Math.sign(orig.yaw[b]!)).length;
  const meanAbsSum = turned.reduce((a, b) => a + Math.abs(orig.yaw[b]! + flip.yaw[b]!), 0) / turned.length;
  console.log(`    yaw changes sign on ${flipped} of ${turned.length} photos with |yaw| > 5°; mean |yaw + yaw mirrored| ${meanAbsSum.toFixed(2)}°`);
  assert.ok(turned.length >= 10 && flipped >= 0.95 * turned.length, `yaw changed sign on ${flipped} of ${turned.length}`);
  // Classes: every left or right class becomes the other side's, or centre.
  const sides = [...orig.cls.keys()].filter((b) => orig.cls[b]! % 3 !== 1);
  const swapped = sides.filter((b) => flip.cls[b]! === orig.cls[b]! - (orig.cls[b]! % 3) + (2 - (orig.cls[b]! % 3))).length;
  const wrongSide = sides.filter((b) => flip.cls[b]! % 3 === orig.cls[b]! % 3).length;
  console.log(`    left/right classes: ${swapped} of ${sides.length} swap sides when mirrored, ${wrongSide} stay on their side`);
  assert.ok(sides.length >= 5 && swapped >= 0.8 * sides.length && wrongSide === 0, `${swapped} of ${sides.length} swapped, ${wrongSide} stayed`);
  await session.release();
});

test('age10 head (faceres, faceres-deep): sums of the 100-way softmax; softmax(logits) equals it', async () => {
  if (!images) return skip('age10', 'csm-celeba100 is not at ../shared/data (set CSM_TEST_DATA)');
  for (const name of ['faceres', 'faceres-deep']) {
    const spec = zooEntry(name)!.spec;
    const head = spec.heads.find((h) => h.name === 'age10')!;
    const session = await ort.InferenceSession.create((await ensureZooModel(name)).path);
    const crops = await Promise.all(images.slice(0, 6).map(async (f) => cropAndResize(await readImage(f), FACE_BOX, spec.input.width, spec.input.height)));
    const r = await session.run({ [spec.input.name]: new ort.Tensor('float32', toModelInput(crops, spec.input, 'NCHW'), inputShape(spec.input, crops.length, 'NCHW')) });
    const p100 = r['age_pred/Softmax']!.data as Float32Array;
    const p10 = r[head.output]!.data as Float32Array;
    const l10 = r[head.logits!]!.data as Float32Array;
    const l100 = r['age_pred/Softmax_logits']!.data as Float32Array;
    for (let b = 0; b < crops.length; b++) {
      const ref = reference.ageDecades(p100.subarray(b * 100, b * 100 + 100), l100.subarray(b * 100, b * 100 + 100));
      const logits = Array.from(l10.subarray(b * 10, b * 10 + 10));
      const m = Math.max(...logits);
      const z = logits.reduce((a, x) => a + Math.exp(x - m), 0);
      for (let d = 0; d < 10; d++) {
        assert.ok(Math.abs(p10[b * 10 + d]! - ref.probs[d]!) < 1e-6, `${name} image ${b} decade ${d}: ${p10[b * 10 + d]} vs ${ref.probs[d]}`);
        assert.ok(Math.abs(logits[d]! - ref.logits[d]!) < 1e-4, `${name} image ${b} decade ${d} logit: ${logits[d]} vs ${ref.logits[d]}`);
        assert.ok(Math.abs(Math.exp(logits[d]! - m) / z - p10[b * 10 + d]!) < 1e-5, `${name} image ${b} decade ${d}: softmax(logits) ≠ probabilities`);
      }
    }
    assert.equal(head.labels, ['0-9', '10-19', '20-29', '30-39', '40-49', '50-59', '60-69', '70-79', '80-89', '90-99']);
    await session.release();
  }
});

test.run();
