/**
 * Every default zoo model, converted to ONNX and run by onnxruntime-node, against the original
 * TF.js graph model run by TF.js, on real face crops from csm-celeba100.
 *
 * Bound: max |ONNX − TF.js| ≤ max(1e-4, 1e-5 · max |TF.js output|) per output tensor. For outputs
 * up to 10 in size (probabilities, embeddings, sigmoid) that is the 1e-4 absolute bound; the
 * detector's raw anchor logits (up to ~2000), the mesh's pixel coordinates (~180) and the age in
 * years are larger numbers, where float32 summation-order differences between two runtimes are
 * ~1e-6 relative (measured: at most 2e-6), so the bound there is 1e-5 relative.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import { cropAndResize, ensureZooModel, inputShape, readImage, toModelInput, ZOO, type RgbImage } from '../../src/index.js';
import { celebaImages, skip } from '../helpers/data.js';
import { loadTfjsReference, runTfjs } from '../helpers/tfjs-reference.js';
import { join } from 'node:path';
import { loadTfjsGraphModel, zooPackageDir } from '../../src/index.js';
import { reference } from '../../src/models/heads.js';

const BATCH = 8;
const images = celebaImages();
/** `CSM_ZOO=gear,headpose` runs only those models (while developing one). */
const only = process.env['CSM_ZOO']?.split(',');

/**
 * Outputs that csm appends to a converted graph (src/models/heads.ts) have no TF.js node: their
 * reference is the same definition in plain JavaScript applied to TF.js's own outputs, per image.
 */
const DERIVED: Record<string, { from: string; compute(row: Float32Array): number[] }> = {
  age_decade: { from: 'age_pred/Softmax', compute: (p) => Array.from({ length: 10 }, (_, d) => p.subarray(10 * d, 10 * d + 10).reduce((a, x) => a + x, 0)) },
  pose: { from: 'output_mesh', compute: (m) => reference.headPose(m).probs },
  pose_logits: { from: 'output_mesh', compute: (m) => reference.headPose(m).logits },
  pose_yaw: { from: 'output_mesh', compute: (m) => [reference.headPose(m).yaw] },
  pose_pitch: { from: 'output_mesh', compute: (m) => [reference.headPose(m).pitch] },
};

/** A square crop around the face of a 178×218 aligned CelebA photo. */
const FACE_BOX = { x: 14, y: 45, width: 150, height: 150 };

let photos: RgbImage[] = [];

test.before(async () => {
  if (images) photos = await Promise.all(images.slice(0, BATCH).map((f) => readImage(f)));
});

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]!));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'output sizes differ');
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]! - b[k]!));
  return m;
}

// Models built in code from weights-only packages have their own reference: test/models/faceapi.test.ts.
for (const { spec, file } of ZOO.filter((e) => !e.build && (!only || only.includes(e.spec.name)))) {
  test(`${spec.name}: ONNX (onnxruntime-node) equals TF.js on real faces; batch 1 rows equal batch ${BATCH} rows`, async () => {
    if (!images) return skip(spec.name, 'csm-celeba100 is not at ../shared/data (set CSM_TEST_DATA)');
    const { path } = await ensureZooModel(spec.name);
    const session = await ort.InferenceSession.create(path);
    const crops = photos.map((p) => cropAndResize(p, FACE_BOX, spec.input.width, spec.input.height));
    const nchw = toModelInput(crops, spec.input, 'NCHW');
    const nhwc = toModelInput(crops, spec.input, 'NHWC');
    const outputs = spec.heads.map((h) => h.output);
    if (spec.name === 'headpose') outputs.push('pose_logits');
    const onnx = await session.run({ [spec.input.name]: new ort.Tensor('float32', nchw, inputShape(spec.input, BATCH, 'NCHW')) });

    // TF.js reference, asked for the same tensors the converter exported under each output name.
    // The detector was exported for batch 1 only, so it runs one image at a time.
    const jsonPath = join(zooPackageDir(), file);
    const refs = (await loadTfjsGraphModel(jsonPath)).outputs;
    const sourceOf = (name: string): string => DERIVED[name]?.from ?? name;
    const refNodes = outputs.map((name) => refs.find((o) => o.name === sourceOf(name))!.ref);
    const ref = await loadTfjsReference(jsonPath);
    const perImage = ref.inputs[0]!.shape?.[0] === 1;
    const per = nhwc.length / BATCH;
    const runs = perImage ? crops.map((_, b) => [b, 1] as const) : [[0, BATCH] as const];
    const parts: Float32Array[][] = [];
    for (const [start, count] of runs) {
      parts.push(await runTfjs(ref, nhwc.subarray(start * per, (start + count) * per), inputShape(spec.input, count, 'NHWC'), refNodes));
    }
    outputs.forEach((name, k) => {
      const mine = onnx[name]!.data as Float32Array;
      let theirs = Float32Array.from(parts.flatMap((p) => Array.from(p[k]!)));
      const derived = DERIVED[name];
      if (derived) {
        const width = theirs.length / BATCH;
        theirs = Float32Array.from(Array.from({ length: BATCH }, (_, b) => derived.compute(theirs.subarray(b * width, (b + 1) * width))).flat());
      }
      const bound = Math.max(1e-4, 1e-5 * maxAbs(theirs));
      const d = maxDiff(mine, theirs);
      console.log(`    ${spec.name}/${name}: max |diff| ${d.toExponential(2)} (bound ${bound.toExponential(2)}, max |ref| ${maxAbs(theirs).toPrecision(4)})`);
      assert.ok(d <= bound, `${spec.name}/${name}: max |diff| ${d} > ${bound}`);
    });

    // Batch invariance: each image alone gives the same row as inside the batch of 8.
    for (let b = 0; b < BATCH; b++) {
      const single = await session.run({ [spec.input.name]: new ort.Tensor('float32', nchw.slice(b * per, (b + 1) * per), inputShape(spec.input, 1, 'NCHW')) });
      for (const name of outputs) {
        const row = single[name]!.data as Float32Array;
        const all = onnx[name]!.data as Float32Array;
        const d = maxDiff(row, all.subarray(b * row.length, (b + 1) * row.length));
        assert.ok(d <= 1e-5 * Math.max(1, maxAbs(row)), `${spec.name}/${name}: image ${b} alone differs from its batch row by ${d}`);
      }
    }
    await session.release();
  });
}

test.run();
