/**
 * The gradients behind Grad-CAM against finite differences, on small hand-built models whose CAM
 * layer is an Identity of the input (so ∂φ/∂A = ∂φ/∂X and the input can be perturbed). Bound:
 * |analytic − central difference| ≤ 2e-3 · max(1, |analytic|), with ε = 1e-2 in float32 inference.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { encodeModel, GradCam, openEngine, parseSpec, resolveModel, type OnnxModel, type ScoreSpec } from '../../src/index.js';
import { mulberry32 } from '../helpers/random.js';

type Node = OnnxModel['graph']['nodes'][number];
const f32 = (v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
const i64 = (v: number[]): Uint8Array => new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer);
const node = (opType: string, inputs: string[], output: string, attributes: Node['attributes'] = []): Node => ({ name: output, opType, inputs, outputs: [output], attributes });

function model(nodes: Node[], initializers: OnnxModel['graph']['initializers'], outputs: string[]): OnnxModel {
  return {
    opset: 13, producer: 'test', producerVersion: '0', metadata: {},
    graph: { name: 'g', nodes, initializers, inputs: [{ name: 'x', elemType: 1, shape: [1, 3, 4, 4] }], outputs: outputs.map((name) => ({ name, elemType: 1, shape: [], unknownRank: true })) },
  };
}

const r = mulberry32(11);
const rand = (n: number, lo = -1, hi = 1): number[] => Array.from({ length: n }, () => lo + (hi - lo) * r());

/** GAP → MatMul → Add → Softmax, with a ReLU first. */
const classifier = model([
  node('Identity', ['x'], 'A'),
  node('Relu', ['A'], 'r'),
  node('ReduceMean', ['r'], 'gap', [{ name: 'axes', kind: 'ints', value: [2, 3] }, { name: 'keepdims', kind: 'int', value: 0 }]),
  node('MatMul', ['gap', 'W'], 'mm'),
  node('Add', ['mm', 'b'], 'logits'),
  node('Softmax', ['logits'], 'probs', [{ name: 'axis', kind: 'int', value: -1 }]),
], [
  { name: 'W', dataType: 1, dims: [3, 4], raw: f32(rand(12, -2, 2)) },
  { name: 'b', dataType: 1, dims: [4], raw: f32(rand(4)) },
], ['logits', 'probs']);

/** Clip → Max → Mul → Div → Tanh → ReduceSum → Reshape → Transpose → Gemm(transB) → Sub → Sigmoid. */
const mixed = model([
  node('Identity', ['x'], 'A'),
  node('Clip', ['A', 'lo', 'hi'], 'c'),
  node('Max', ['c', 'floor'], 'm'),
  node('Mul', ['m', 'scale'], 's'),
  node('Div', ['s', 'two'], 'd'),
  node('Tanh', ['d'], 't'),
  node('ReduceSum', ['t', 'axes'], 'sum', [{ name: 'keepdims', kind: 'int', value: 0 }]),
  node('Reshape', ['sum', 'shape'], 'flat'),
  node('Transpose', ['flat'], 'tr', [{ name: 'perm', kind: 'ints', value: [1, 0] }]),
  node('Transpose', ['tr'], 'back', [{ name: 'perm', kind: 'ints', value: [1, 0] }]),
  node('Gemm', ['back', 'G', 'gb'], 'gemm', [{ name: 'transB', kind: 'int', value: 1 }, { name: 'alpha', kind: 'float', value: 0.7 }]),
  node('Sub', ['gemm', 'shift'], 'z'),
  node('Sigmoid', ['z'], 'p'),
], [
  { name: 'lo', dataType: 1, dims: [], raw: f32([-0.8]) },
  { name: 'hi', dataType: 1, dims: [], raw: f32([0.8]) },
  { name: 'floor', dataType: 1, dims: [], raw: f32([-0.5]) },
  { name: 'scale', dataType: 1, dims: [1, 3, 1, 1], raw: f32([1.5, -2, 0.5]) },
  { name: 'two', dataType: 1, dims: [], raw: f32([2]) },
  { name: 'axes', dataType: 7, dims: [2], raw: i64([2, 3]) },
  { name: 'shape', dataType: 7, dims: [2], raw: i64([1, 3]) },
  { name: 'G', dataType: 1, dims: [1, 3], raw: f32(rand(3, -1, 1)) },
  { name: 'gb', dataType: 1, dims: [1], raw: f32([0.1]) },
  { name: 'shift', dataType: 1, dims: [1], raw: f32([0.2]) },
], ['p']);

/**
 * The ops after the CAM layer of the age-in-decades, GEAR and head-pose heads: a strided, padded
 * Conv, ReduceMax (global max pooling and the log-sum-exp of the decade logits), Exp, Log, Slice,
 * Neg and Atan.
 */
const headOps = model([
  node('Identity', ['x'], 'A'),
  node('Conv', ['A', 'K', 'kb'], 'conv', [
    { name: 'kernel_shape', kind: 'ints', value: [3, 3] }, { name: 'strides', kind: 'ints', value: [2, 1] },
    { name: 'pads', kind: 'ints', value: [1, 0, 1, 1] }, { name: 'dilations', kind: 'ints', value: [1, 1] }, { name: 'group', kind: 'int', value: 1 },
  ]),
  node('ReduceMax', ['conv'], 'pool', [{ name: 'axes', kind: 'ints', value: [2, 3] }, { name: 'keepdims', kind: 'int', value: 0 }]),
  node('Slice', ['pool', 'starts', 'ends', 'sliceAxes', 'steps'], 'sl'),
  node('Max', ['sl', 'zero'], 'relu'),
  node('Exp', ['sl'], 'e'),
  node('Log', ['e'], 'le'),
  node('Neg', ['le'], 'n'),
  node('Atan', ['n'], 'at'),
  node('Add', ['at', 'relu'], 'out'),
], [
  { name: 'K', dataType: 1, dims: [4, 3, 3, 3], raw: f32(rand(108, -1, 1)) },
  { name: 'kb', dataType: 1, dims: [4], raw: f32(rand(4)) },
  { name: 'starts', dataType: 7, dims: [1], raw: i64([3]) },
  { name: 'ends', dataType: 7, dims: [1], raw: i64([-100]) },
  { name: 'sliceAxes', dataType: 7, dims: [1], raw: i64([1]) },
  { name: 'steps', dataType: 7, dims: [1], raw: i64([-2]) },
  { name: 'zero', dataType: 1, dims: [], raw: f32([0]) },
], ['out']);

/** A descriptor: GAP → MatMul, read through the cosine to a reference (verification, Eq. 8). */
const descriptor = model([
  node('Identity', ['x'], 'A'),
  node('ReduceMean', ['A'], 'gap', [{ name: 'axes', kind: 'ints', value: [2, 3] }, { name: 'keepdims', kind: 'int', value: 0 }]),
  node('MatMul', ['gap', 'D'], 'emb'),
], [{ name: 'D', dataType: 1, dims: [3, 5], raw: f32(rand(15, -1, 1)) }], ['emb']);

async function check(m: OnnxModel, outputs: string[], score: ScoreSpec, phi: (row: Float32Array) => number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'csm-grad-'));
  writeFileSync(join(dir, 'm.onnx'), encodeModel(m));
  const spec = parseSpec({
    name: 'grad', task: 'other', input: { name: 'x', width: 4, height: 4, layout: 'NCHW', color: 'rgb', normalise: { scale: 1, offset: 0 } },
    heads: outputs.map((o) => ({ name: o, task: 'other', output: o, confidence: 'value' })),
  }, 'test');
  const resolved = await resolveModel(join(dir, 'm.onnx'), spec);
  const cam = await GradCam.create(resolved, 'A', false, (m, o) => openEngine('cpu', m, o));
  // Inputs kept away from the kinks of ReLU, Clip and Max, where finite differences disagree.
  const x = Float32Array.from(rand(48, -1.5, 1.5).map((v) => (Math.abs(v) < 0.15 ? v + 0.3 : Math.abs(Math.abs(v) - 0.8) < 0.05 ? v * 1.2 : v)));
  const { gradient } = await cam.gradient({ tensor: x, explainScore: score });
  const session = await ort.InferenceSession.create(join(dir, 'm.onnx'));
  const eps = 1e-2;
  for (let k = 0; k < 48; k++) {
    const plus = Float32Array.from(x); plus[k]! += eps;
    const minus = Float32Array.from(x); minus[k]! -= eps;
    const f = async (v: Float32Array): Promise<number> => phi((await session.run({ x: new ort.Tensor('float32', v, [1, 3, 4, 4]) }))[score.output]!.data as Float32Array);
    const numeric = ((await f(plus)) - (await f(minus))) / (2 * eps);
    assert.ok(Math.abs(gradient[k]! - numeric) <= 2e-3 * Math.max(1, Math.abs(gradient[k]!)), `${score.kind} on ${score.output}, x[${k}]: analytic ${gradient[k]} vs numeric ${numeric}`);
  }
  await session.release();
  await cam.dispose();
}

test('through GAP, MatMul, Add, ReLU and Softmax: logit, probability and softmax-of-logits scores', async () => {
  await check(classifier, ['logits', 'probs'], { output: 'logits', kind: 'index', index: 2 }, (row) => row[2]!);
  await check(classifier, ['logits', 'probs'], { output: 'probs', kind: 'index', index: 1 }, (row) => row[1]!);
  await check(classifier, ['logits', 'probs'], { output: 'logits', kind: 'softmax', index: 3 }, (row) => { const e = Array.from(row, Math.exp); return e[3]! / e.reduce((a, b) => a + b, 0); });
  await check(classifier, ['logits', 'probs'], { output: 'probs', kind: 'log', index: 0 }, (row) => Math.log(row[0]!));
});

test('through Clip, Max, Mul, Div, Tanh, ReduceSum, Reshape, Transpose, Gemm, Sub and Sigmoid', async () => {
  await check(mixed, ['p'], { output: 'p', kind: 'index', index: 0 }, (row) => row[0]!);
  await check(mixed, ['p'], { output: 'p', kind: 'sigmoid-logit', index: 0, sign: -1 }, (row) => -Math.log(row[0]! / (1 - row[0]!)));
  await check(mixed, ['p'], { output: 'p', kind: 'one-minus', index: 0 }, (row) => 1 - row[0]!);
});

test('through Conv (strided, padded), ReduceMax, Slice (negative step), Exp, Log, Neg and Atan', async () => {
  for (const index of [0, 1]) await check(headOps, ['out'], { output: 'out', kind: 'index', index }, (row) => row[index]!);
});

test('the verification score c · (cos(e, r) − τ) against a fixed reference, for both signs', async () => {
  const reference = Float32Array.from(rand(5, -1, 1));
  const cos = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
    let d = 0, na = 0, nb = 0;
    for (let k = 0; k < a.length; k++) { d += a[k]! * b[k]!; na += a[k]! ** 2; nb += b[k]! ** 2; }
    return d / Math.sqrt(na * nb);
  };
  for (const c of [1, -1] as const) {
    const tau = 0.3;
    await check(descriptor, ['emb'], { output: 'emb', kind: 'cosine-max', index: 0, references: [reference], pair: { c, tau } }, (row) => c * (cos(row, reference) - tau));
  }
  // Without a pair: the plain cosine to the most similar of several references.
  const other = Float32Array.from(rand(5, -1, 1));
  await check(descriptor, ['emb'], { output: 'emb', kind: 'cosine-max', index: 0, references: [reference, other] }, (row) => Math.max(cos(row, reference), cos(row, other)));
});

test('an op without a backward rule is a clear error naming it', async () => {
  const bad = model([node('Identity', ['x'], 'A'), node('Sin', ['A'], 'e'), node('ReduceMean', ['e'], 'out', [{ name: 'keepdims', kind: 'int', value: 0 }])], [], ['out']);
  await check(bad, ['out'], { output: 'out', kind: 'index', index: 0 }, (row) => row[0]!).then(
    () => assert.unreachable('Sin has no backward rule'),
    (e: Error) => assert.match(e.message, /cannot differentiate op Sin \(node "e"\)/),
  );
});

test.run();
