/**
 * A tiny ONNX model whose every output is known by hand, shared by the Algorithm 1 test and the
 * engine conformance suite, with the hand-made correspondence and input image they use.
 */
import { encodeModel, parseSpec, type OnnxModel } from '../../src/index.js';
import type { Correspondence } from '../../src/face/types.js';
import { mulberry32 } from './random.js';

export const W = 8;
export const H = 8;
export const EMB = 4;
const rand = mulberry32(7);
/** Linear weights: pixel (x, y) weighs x + 10·y, so each patch's drop names which pixels it covered. */
export const LINEAR = Float32Array.from({ length: W * H }, (_, p) => (p % W) + 10 * Math.floor(p / W));
const PROJECTION = Float32Array.from({ length: W * H * EMB }, () => (rand() - 0.5) * 0.02);
const SIGMOID_W = Float32Array.from({ length: W * H }, () => (rand() - 0.5) * 0.004);

/**
 * One tiny model with every kind of output: `score` = Σ w·x (value), `logits` = x·P (4 classes, also
 * an embedding), `p` = softmax(logits), `sig` = sigmoid(x·s) ([batch, 1]), `nan` = √(−sig) (NaN).
 */
export function tinyModel(): OnnxModel {
  const f32 = (v: ArrayLike<number>): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
  const i64 = (v: number[]): Uint8Array => new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer);
  return {
    opset: 13, producer: 'test', producerVersion: '0', metadata: {},
    graph: {
      name: 'tiny',
      inputs: [{ name: 'x', elemType: 1, shape: ['batch', 1, H, W] }],
      outputs: ['score', 'logits', 'p', 'sig', 'nan'].map((name) => ({ name, elemType: 1, shape: name === 'score' ? ['batch'] : ['batch', name === 'sig' || name === 'nan' ? 1 : EMB] })),
      initializers: [
        { name: 'w', dataType: 1, dims: [1, 1, H, W], raw: f32(LINEAR) },
        { name: 'axes', dataType: 7, dims: [3], raw: i64([1, 2, 3]) },
        { name: 'P', dataType: 1, dims: [W * H, EMB], raw: f32(PROJECTION) },
        { name: 's', dataType: 1, dims: [W * H, 1], raw: f32(SIGMOID_W) },
      ],
      nodes: [
        { name: 'mul', opType: 'Mul', inputs: ['x', 'w'], outputs: ['xw'], attributes: [] },
        { name: 'sum', opType: 'ReduceSum', inputs: ['xw', 'axes'], outputs: ['score'], attributes: [{ name: 'keepdims', kind: 'int', value: 0 }] },
        { name: 'flat', opType: 'Flatten', inputs: ['x'], outputs: ['xf'], attributes: [{ name: 'axis', kind: 'int', value: 1 }] },
        { name: 'proj', opType: 'MatMul', inputs: ['xf', 'P'], outputs: ['logits'], attributes: [] },
        { name: 'soft', opType: 'Softmax', inputs: ['logits'], outputs: ['p'], attributes: [{ name: 'axis', kind: 'int', value: -1 }] },
        { name: 'lin', opType: 'MatMul', inputs: ['xf', 's'], outputs: ['z'], attributes: [] },
        { name: 'sigm', opType: 'Sigmoid', inputs: ['z'], outputs: ['sig'], attributes: [] },
        { name: 'neg', opType: 'Neg', inputs: ['sig'], outputs: ['negsig'], attributes: [] },
        { name: 'sqrt', opType: 'Sqrt', inputs: ['negsig'], outputs: ['nan'], attributes: [] },
      ],
    },
  };
}

export const TINY_SPEC = parseSpec({
  name: 'tiny', task: 'other',
  input: { name: 'x', width: W, height: H, layout: 'NCHW', color: 'gray', normalise: { scale: 1, offset: 0 } },
  heads: [
    { name: 'score', task: 'other', output: 'score', confidence: 'value' },
    { name: 'logits', task: 'other', output: 'logits', confidence: 'logit' },
    { name: 'p', task: 'other', output: 'p', confidence: 'softmax' },
    { name: 'sig', task: 'other', output: 'sig', confidence: 'sigmoid' },
    { name: 'nan', task: 'other', output: 'nan', confidence: 'value' },
  ],
}, 'test');

/** Five points, two with overlapping canonical squares, one outside I (dropped by the plan). */
export const CORR: Correspondence = {
  image: Float32Array.from([2, 2, 5, 5, 4.6, 5.2, 1, 7, 9, 3]),
  canonical: Float32Array.from([4, 4, 10, 10, 11, 10, 2, 14, 8, 8]),
  count: 5,
  canonicalSize: 16,
};
/** An input image I (gray, 8 × 8) and a second one for pairs. */
export const IMAGE = Float32Array.from({ length: W * H }, (_, p) => 100 + ((p * 37) % 50));
export const IMAGE2 = Float32Array.from({ length: W * H }, (_, p) => 90 + ((p * 11) % 60));

/** The tiny model as ONNX bytes. */
export function tinyModelBytes(): Uint8Array {
  return encodeModel(tinyModel());
}
