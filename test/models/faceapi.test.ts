/**
 * faceapi-expression and faceapi-agegender (src/models/faceapi.ts: face-api's FaceExpressionNet
 * and AgeGenderNet rebuilt as ONNX graphs) against TF.js running the same networks the way
 * face-api's own code does (tf.conv2d, tf.separableConv2d and tf.maxPool with "same" padding,
 * tf.avgPool, tf.matMul, tf.softmax; face-api's mean-colour normalisation on raw pixels), with the
 * weights decoded by TF.js's own tf.io.decodeWeights, on real face crops from csm-celeba100. (face-api's
 * own bundle cannot run in Node here: its node builds need @tensorflow/tfjs, which is not installed.)
 * Bound as in zoo-parity.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import { cropAndResize, ensureZooModel, inputShape, readImage, toModelInput, zooEntry, zooPackageDir } from '../../src/index.js';
import { FACE_API_MEAN_RGB, FACE_API_PACKAGE } from '../../src/models/faceapi.js';
import { celebaImages, skip } from '../helpers/data.js';
import { tfReady } from '../helpers/tfjs-reference.js';

const BATCH = 8;
const images = celebaImages();
const FACE_BOX = { x: 14, y: 45, width: 150, height: 150 };

/** face-api's FaceExpressionNet forward pass, in TF.js ops, on raw 0..255 NHWC pixels. */
function faceApiExpressions(w: tf.NamedTensorMap, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const sep = (t: tf.Tensor4D, p: string, stride: 1 | 2): tf.Tensor4D =>
      tf.add(tf.separableConv2d(t, w[`${p}/depthwise_filter`] as tf.Tensor4D, w[`${p}/pointwise_filter`] as tf.Tensor4D, stride, 'same'), w[`${p}/bias`]!);
    const block = (t: tf.Tensor4D, p: string, first: boolean): tf.Tensor4D => {
      const out1 = tf.relu(first ? tf.add(tf.conv2d(t, w[`${p}/conv0/filters`] as tf.Tensor4D, 2, 'same'), w[`${p}/conv0/bias`]!) : sep(t, `${p}/conv0`, 2)) as tf.Tensor4D;
      const out2 = sep(out1, `${p}/conv1`, 1);
      const out3 = sep(tf.relu(tf.add(out1, out2)), `${p}/conv2`, 1);
      const out4 = sep(tf.relu(tf.add(out1, tf.add(out2, out3))), `${p}/conv3`, 1);
      return tf.relu(tf.add(out1, tf.add(out2, tf.add(out3, out4))));
    };
    let t = tf.div(tf.sub(x, tf.tensor1d(FACE_API_MEAN_RGB)), 255) as tf.Tensor4D;
    for (let k = 0; k < 4; k++) t = block(t, `dense${k}`, k === 0);
    const pooled = tf.avgPool(t, [7, 7], [2, 2], 'valid');
    return tf.softmax(tf.add(tf.matMul(tf.reshape(pooled, [x.shape[0], -1]), w['fc/weights'] as tf.Tensor2D), w['fc/bias']!));
  });
}

/** face-api's AgeGenderNet forward pass (TinyXception, 2 main blocks), in TF.js ops, on raw 0..255 NHWC pixels: [age, gender probabilities]. */
function faceApiAgeGender(w: tf.NamedTensorMap, x: tf.Tensor4D): tf.Tensor2D[] {
  return tf.tidy(() => {
    const conv = (t: tf.Tensor4D, p: string, stride: 1 | 2): tf.Tensor4D => tf.add(tf.conv2d(t, w[`${p}/filters`] as tf.Tensor4D, stride, 'same'), w[`${p}/bias`]!);
    const sep = (t: tf.Tensor4D, p: string): tf.Tensor4D =>
      tf.add(tf.separableConv2d(t, w[`${p}/depthwise_filter`] as tf.Tensor4D, w[`${p}/pointwise_filter`] as tf.Tensor4D, 1, 'same'), w[`${p}/bias`]!);
    const reduction = (t: tf.Tensor4D, p: string, activate: boolean): tf.Tensor4D => {
      let out = sep(activate ? tf.relu(t) : t, `${p}/separable_conv0`);
      out = tf.maxPool(sep(tf.relu(out), `${p}/separable_conv1`), [3, 3], [2, 2], 'same');
      return tf.add(out, conv(t, `${p}/expansion_conv`, 2));
    };
    let t = tf.div(tf.sub(x, tf.tensor1d(FACE_API_MEAN_RGB)), 255) as tf.Tensor4D;
    t = tf.relu(conv(t, 'entry_flow/conv_in', 2));
    t = reduction(t, 'entry_flow/reduction_block_0', false);
    t = reduction(t, 'entry_flow/reduction_block_1', true);
    for (let k = 0; k < 2; k++) {
      let out = t;
      for (let c = 0; c < 3; c++) out = sep(tf.relu(out), `middle_flow/main_block_${k}/separable_conv${c}`);
      t = tf.add(out, t);
    }
    t = reduction(t, 'exit_flow/reduction_block', true);
    t = tf.relu(sep(t, 'exit_flow/separable_conv'));
    const pooled = tf.reshape(tf.avgPool(t, [7, 7], [2, 2], 'valid'), [x.shape[0], -1]) as tf.Tensor2D;
    const fc = (p: string): tf.Tensor2D => tf.add(tf.matMul(pooled, w[`${p}/weights`] as tf.Tensor2D), w[`${p}/bias`]!);
    return [fc('fc/age'), tf.softmax(fc('fc/gender'))];
  });
}

async function faceApiWeights(file: string): Promise<tf.NamedTensorMap> {
  await tfReady();
  const manifestPath = join(zooPackageDir(FACE_API_PACKAGE), file);
  const groups = JSON.parse(await readFile(manifestPath, 'utf8')) as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  const shards = await Promise.all(groups.flatMap((g) => g.paths).map((p) => readFile(join(dirname(manifestPath), p))));
  const all = Buffer.concat(shards);
  return tf.io.decodeWeights(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength), groups.flatMap((g) => g.weights));
}

test('faceapi-agegender: ONNX (onnxruntime-node) equals face-api\'s network in TF.js on real faces', async () => {
  if (!images) return skip('faceapi-agegender', 'csm-celeba100 is not at ../shared/data (set CSM_TEST_DATA)');
  const entry = zooEntry('faceapi-agegender')!;
  const { spec } = entry;
  const photos = await Promise.all(images.slice(0, BATCH).map((f) => readImage(f)));
  const crops = photos.map((p) => cropAndResize(p, FACE_BOX, spec.input.width, spec.input.height));
  const session = await ort.InferenceSession.create((await ensureZooModel(spec.name)).path);
  const r = await session.run({ [spec.input.name]: new ort.Tensor('float32', toModelInput(crops, spec.input, 'NCHW'), inputShape(spec.input, BATCH, 'NCHW')) });
  const weights = await faceApiWeights(entry.file);
  const x = tf.tensor4d(toModelInput(crops, { ...spec.input, normalise: { scale: 1, offset: 0 } }, 'NHWC'), [BATCH, spec.input.height, spec.input.width, 3]);
  const outs = faceApiAgeGender(weights, x);
  const refs = await Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose([x, ...outs, ...Object.values(weights)]);
  ['age', 'gender'].forEach((name, k) => {
    const mine = r[name]!.data as Float32Array;
    const ref = refs[k]!;
    let d = 0;
    let m = 0;
    for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(ref[i]! - mine[i]!)); m = Math.max(m, Math.abs(ref[i]!)); }
    const bound = Math.max(1e-4, 1e-5 * m);
    console.log(`    faceapi-agegender/${name}: max |diff| ${d.toExponential(2)} (bound ${bound.toExponential(2)}, max |ref| ${m.toPrecision(4)})`);
    assert.ok(d <= bound, `${name}: max |diff| ${d}`);
  });
  const ages = Array.from(r['age']!.data as Float32Array).map((a) => a.toFixed(0));
  const g = r['gender']!.data as Float32Array;
  console.log(`    predictions: ${ages.map((a, b) => `${a} ${g[2 * b]! > g[2 * b + 1]! ? 'm' : 'f'}`).join(', ')}`);
  await session.release();
});

/** face-api's FaceRecognitionNet forward pass, in TF.js ops, on raw 0..255 NHWC pixels at 150×150: the 128-D descriptor. */
function faceApiDescriptor(w: tf.NamedTensorMap, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const layer = (t: tf.Tensor4D, p: string, stride: 1 | 2, relu: boolean, padding: 'same' | 'valid'): tf.Tensor4D => {
      let out = tf.add(tf.conv2d(t, w[`${p}/conv/filters`] as tf.Tensor4D, stride, padding), w[`${p}/conv/bias`]!);
      out = tf.add(tf.mul(out, w[`${p}/scale/weights`]!), w[`${p}/scale/biases`]!);
      return (relu ? tf.relu(out) : out) as tf.Tensor4D;
    };
    const residual = (t: tf.Tensor4D, p: string): tf.Tensor4D => tf.relu(tf.add(layer(layer(t, `${p}/conv1`, 1, true, 'same'), `${p}/conv2`, 1, false, 'same'), t));
    const down = (t: tf.Tensor4D, p: string): tf.Tensor4D => {
      let out = layer(layer(t, `${p}/conv1`, 2, true, 'valid'), `${p}/conv2`, 1, false, 'same');
      let pooled = tf.avgPool(t, 2, 2, 'valid') as tf.Tensor4D;
      if (pooled.shape[1] !== out.shape[1]) {
        out = tf.concat([out, tf.zeros([out.shape[0], 1, out.shape[2], out.shape[3]])], 1);
        out = tf.concat([out, tf.zeros([out.shape[0], out.shape[1], 1, out.shape[3]])], 2);
      }
      if (pooled.shape[3] !== out.shape[3]) pooled = tf.concat([pooled, tf.zeros(pooled.shape)], 3);
      return tf.relu(tf.add(pooled, out));
    };
    let t = tf.div(tf.sub(x, tf.tensor1d(FACE_API_MEAN_RGB)), 255) as tf.Tensor4D;
    t = tf.maxPool(layer(t, 'conv32_down', 2, true, 'valid'), 3, 2, 'valid');
    for (const k of [1, 2, 3]) t = residual(t, `conv32_${k}`);
    t = down(t, 'conv64_down');
    for (const k of [1, 2, 3]) t = residual(t, `conv64_${k}`);
    t = down(t, 'conv128_down');
    for (const k of [1, 2]) t = residual(t, `conv128_${k}`);
    t = down(t, 'conv256_down');
    for (const k of [1, 2]) t = residual(t, `conv256_${k}`);
    t = down(t, 'conv256_down_out');
    return tf.matMul(tf.mean(t, [1, 2]) as tf.Tensor2D, w['fc'] as tf.Tensor2D);
  });
}

test('faceapi-recognition: ONNX (onnxruntime-node) equals face-api\'s network in TF.js on real faces', async () => {
  if (!images) return skip('faceapi-recognition', 'csm-celeba100 is not at ../shared/data (set CSM_TEST_DATA)');
  const entry = zooEntry('faceapi-recognition')!;
  const { spec } = entry;
  const photos = await Promise.all(images.slice(0, BATCH).map((f) => readImage(f)));
  const crops = photos.map((p) => cropAndResize(p, FACE_BOX, spec.input.width, spec.input.height));
  const session = await ort.InferenceSession.create((await ensureZooModel(spec.name)).path);
  const mine = (await session.run({ [spec.input.name]: new ort.Tensor('float32', toModelInput(crops, spec.input, 'NCHW'), inputShape(spec.input, BATCH, 'NCHW')) }))['descriptor']!.data as Float32Array;
  const weights = await faceApiWeights(entry.file);
  const x = tf.tensor4d(toModelInput(crops, { ...spec.input, normalise: { scale: 1, offset: 0 } }, 'NHWC'), [BATCH, spec.input.height, spec.input.width, 3]);
  const out = faceApiDescriptor(weights, x);
  const ref = Float32Array.from(await out.data());
  tf.dispose([x, out, ...Object.values(weights)]);
  assert.is(mine.length, ref.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(ref[i]! - mine[i]!)); m = Math.max(m, Math.abs(ref[i]!)); }
  const bound = Math.max(1e-4, 1e-5 * m);
  console.log(`    faceapi-recognition/descriptor: max |diff| ${d.toExponential(2)} (bound ${bound.toExponential(2)}, max |ref| ${m.toPrecision(4)})`);
  assert.ok(d <= bound, `max |diff| ${d}`);
  await session.release();
});

test('faceapi-expression: ONNX (onnxruntime-node) equals face-api\'s network in TF.js on real faces', async () => {
  if (!images) return skip('faceapi-expression', 'csm-celeba100 is not at ../shared/data (set CSM_TEST_DATA)');
  const entry = zooEntry('faceapi-expression')!;
  const { spec } = entry;
  const photos = await Promise.all(images.slice(0, BATCH).map((f) => readImage(f)));
  const crops = photos.map((p) => cropAndResize(p, FACE_BOX, spec.input.width, spec.input.height));
  const session = await ort.InferenceSession.create((await ensureZooModel(spec.name)).path);
  const head = spec.heads[0]!;
  const onnx = (await session.run({ [spec.input.name]: new ort.Tensor('float32', toModelInput(crops, spec.input, 'NCHW'), inputShape(spec.input, BATCH, 'NCHW')) }))[head.output]!.data as Float32Array;

  const weights = await faceApiWeights(entry.file);
  // Raw pixels, NHWC: what face-api is given.
  const raw = toModelInput(crops, { ...spec.input, normalise: { scale: 1, offset: 0 } }, 'NHWC');
  const x = tf.tensor4d(raw, [BATCH, spec.input.height, spec.input.width, 3]);
  const out = faceApiExpressions(weights, x);
  const ref = Float32Array.from(await out.data());
  tf.dispose([x, out, ...Object.values(weights)]);

  let d = 0;
  for (let k = 0; k < ref.length; k++) d = Math.max(d, Math.abs(ref[k]! - onnx[k]!));
  console.log(`    faceapi-expression/${head.output}: max |diff| ${d.toExponential(2)} (bound 1.00e-4)`);
  assert.ok(d <= 1e-4, `max |diff| ${d}`);
  const top = Array.from({ length: BATCH }, (_, b) => { const row = Array.from(onnx.subarray(b * 7, b * 7 + 7)); return head.labels![row.indexOf(Math.max(...row))]; });
  console.log(`    predictions: ${top.join(', ')}`);
  await session.release();
});

test.run();
