/**
 * ONNX graphs for face-api's weights-only models (`@vladmandic/face-api` model/*.bin with a
 * weights manifest; the architecture is in face-api's code and is rebuilt here from its
 * description, with face-api's weights).
 *
 * Face expression net (face-api FaceExpressionNet): 112×112 RGB, minus the mean colour
 * (122.782, 117.001, 104.298), divided by 255 (the spec's normalisation does this, so the graph
 * starts at the first convolution); four dense blocks (32, 64, 128, 256 channels, each halving the
 * size: 112 → 7); a 7×7 average pool; a fully connected layer to 7 expression scores; softmax.
 * A dense block: out1 = relu(conv0(x), stride 2), where conv0 is a plain 3×3 convolution in the
 * first block and a depthwise-separable one after; then out_k = sepconv_k(relu(out1 + … +
 * out_{k−1})) for k = 2..4 and the block's output relu(out1 + out2 + out3 + out4). Convolutions use
 * TF's "same" padding (for stride 2 on an even size: nothing before, one row/column after).
 */
import { ModelError } from '../errors.js';
import type { TfWeight } from './convert/tfjs-model.js';
import type { OnnxModel, OnnxNode } from './onnx/model.js';
import { OnnxDataType } from './onnx/schema.js';

export const FACE_API_PACKAGE = '@vladmandic/face-api';
export const FACE_API_EXPRESSIONS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];
/** face-api's mean colour, subtracted before dividing by 255. */
export const FACE_API_MEAN_RGB = [122.782, 117.001, 104.298];

/**
 * TF "same" padding (begin h, begin w, end h, end w) for a square kernel on an even input size (every
 * strided layer of these nets sees one): stride 1 pads (k − 1) / 2 on each side; stride 2 pads
 * k − 2 in total, the extra one after.
 */
function samePads(kernel: number, stride: number): number[] {
  if (stride === 1) { const p = (kernel - 1) / 2; return [p, p, p, p]; }
  const total = Math.max(kernel - 2, 0);
  const before = Math.floor(total / 2);
  return [before, before, total - before, total - before];
}

class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxModel['graph']['initializers'] = [];
  private count = 0;

  constructor(private readonly weights: Map<string, TfWeight>) {}

  weight(name: string): TfWeight {
    const w = this.weights.get(name);
    if (!w) throw new ModelError(`face-api weights lack "${name}"`);
    return w;
  }

  tensor(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dataType: OnnxDataType.FLOAT, dims, raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  op(opType: string, inputs: string[], attributes: OnnxNode['attributes'] = [], out?: string): string {
    const output = out ?? `${opType}_${this.count}`;
    this.nodes.push({ name: `${opType}_${this.count++}`, opType, inputs, outputs: [output], attributes });
    return output;
  }

  /** TF [kh, kw, in, out] (or [kh, kw, C, 1] depthwise) → ONNX [out, in, kh, kw] (or [C, 1, kh, kw]). */
  filter(name: string, depthwise: boolean): { name: string; channels: number; kernel: number } {
    const w = this.weight(name);
    const [kh, kw, cin, mult] = w.shape as [number, number, number, number];
    const cout = depthwise ? cin : mult;
    const inner = depthwise ? 1 : cin;
    const out = new Float32Array(kh * kw * cin * mult);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let i = 0; i < cin; i++) {
          for (let o = 0; o < mult; o++) {
            const src = w.data[((y * kw + x) * cin + i) * mult + o]!;
            const [oc, ic] = depthwise ? [i, 0] : [o, i];
            out[((oc * inner + ic) * kh + y) * kw + x] = src;
          }
        }
      }
    }
    return { name: this.tensor(name, [cout, inner, kh, kw], out), channels: cout, kernel: kh };
  }

  conv(x: string, filter: { name: string; channels: number; kernel: number }, stride: number, group: number, bias?: string, pads = samePads(filter.kernel, stride)): string {
    return this.op('Conv', bias ? [x, filter.name, bias] : [x, filter.name], [
      { name: 'kernel_shape', kind: 'ints', value: [filter.kernel, filter.kernel] },
      { name: 'strides', kind: 'ints', value: [stride, stride] },
      { name: 'pads', kind: 'ints', value: pads },
      { name: 'group', kind: 'int', value: group },
    ]);
  }

  maxPoolSame(x: string): string {
    return this.op('MaxPool', [x], [
      { name: 'kernel_shape', kind: 'ints', value: [3, 3] },
      { name: 'strides', kind: 'ints', value: [2, 2] },
      { name: 'pads', kind: 'ints', value: samePads(3, 2) },
    ]);
  }

  int64s(values: number[]): string {
    const name = `const_${this.count++}`;
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: OnnxDataType.INT64, dims: [values.length], raw: new Uint8Array(data.buffer) });
    return name;
  }

  /** A per-channel vector as [C, 1, 1], to broadcast over NCHW. */
  channelVector(name: string): string {
    const w = this.weight(name);
    return this.tensor(name, [w.shape[0]!, 1, 1], Float32Array.from(w.data));
  }

  bias(name: string): string {
    const w = this.weight(name);
    return this.tensor(name, [w.shape[0]!], Float32Array.from(w.data));
  }

  /** Depthwise 3×3 then pointwise 1×1, then the bias (on the pointwise convolution). */
  separable(x: string, prefix: string, stride: number): string {
    const dw = this.filter(`${prefix}/depthwise_filter`, true);
    const y = this.conv(x, dw, stride, dw.channels);
    const pw = this.filter(`${prefix}/pointwise_filter`, false);
    return this.op('Conv', [y, pw.name, this.bias(`${prefix}/bias`)], [{ name: 'kernel_shape', kind: 'ints', value: [1, 1] }]);
  }

  denseBlock4(x: string, prefix: string, first: boolean): string {
    const out1 = this.op('Relu', [first
      ? this.conv(x, this.filter(`${prefix}/conv0/filters`, false), 2, 1, this.bias(`${prefix}/conv0/bias`))
      : this.separable(x, `${prefix}/conv0`, 2)]);
    const outs = [out1];
    for (let k = 1; k <= 3; k++) {
      let sum = outs[0]!;
      for (const o of outs.slice(1)) sum = this.op('Add', [sum, o]);
      const input = k === 1 ? out1 : this.op('Relu', [sum]);
      outs.push(this.separable(input, `${prefix}/conv${k}`, 1));
    }
    let total = outs[0]!;
    for (const o of outs.slice(1)) total = this.op('Add', [total, o]);
    return this.op('Relu', [total]);
  }
}

/** Graph inputs and outputs shared by the builders. */
function model(b: GraphBuilder, name: string, doc: string, outputs: [string, number][], metadata: Record<string, string>): OnnxModel {
  return {
    opset: 13, producer: 'csm', producerVersion: '1',
    docString: `${doc} rebuilt from its architecture with its weights. Input NCHW, already normalised ((pixel − mean RGB) / 255).`,
    metadata: { source_format: 'face-api weights + architecture', input_layout: 'NCHW', ...metadata },
    graph: {
      name, nodes: b.nodes, initializers: b.initializers,
      inputs: [{ name: 'input', elemType: OnnxDataType.FLOAT, shape: ['batch', 3, 112, 112] }],
      outputs: outputs.map(([n, width]) => ({ name: n, elemType: OnnxDataType.FLOAT, shape: ['batch', width] })),
    },
  };
}

/**
 * face-api's age and gender net (AgeGenderNet on TinyXception with 2 main blocks): entry flow
 * (3×3 convolution stride 2, two reduction blocks), two residual main blocks, an exit reduction
 * block and a separable convolution to 512 channels (112 → 7), a 7×7 average pool, then two fully
 * connected layers: age in years (one value) and gender scores (male, female) with softmax.
 * Reduction block: [relu] → sepconv → relu → sepconv → 3×3 max pool stride 2 ("same"), plus a 1×1
 * convolution stride 2 of the block's input; main block: 3 × (relu → sepconv), plus its input.
 * Outputs "age", "gender", "gender_logits".
 */
export function buildAgeGenderNet(weights: Map<string, TfWeight>, metadata: Record<string, string> = {}): OnnxModel {
  const b = new GraphBuilder(weights);
  const reduction = (x: string, p: string, activate: boolean): string => {
    let out = b.separable(activate ? b.op('Relu', [x]) : x, `${p}/separable_conv0`, 1);
    out = b.maxPoolSame(b.separable(b.op('Relu', [out]), `${p}/separable_conv1`, 1));
    return b.op('Add', [out, b.conv(x, b.filter(`${p}/expansion_conv/filters`, false), 2, 1, b.bias(`${p}/expansion_conv/bias`))]);
  };
  let x = b.op('Relu', [b.conv('input', b.filter('entry_flow/conv_in/filters', false), 2, 1, b.bias('entry_flow/conv_in/bias'))]);
  x = reduction(x, 'entry_flow/reduction_block_0', false);
  x = reduction(x, 'entry_flow/reduction_block_1', true);
  for (let k = 0; k < 2; k++) {
    const p = `middle_flow/main_block_${k}`;
    let out = x;
    for (let c = 0; c < 3; c++) out = b.separable(b.op('Relu', [out]), `${p}/separable_conv${c}`, 1);
    x = b.op('Add', [out, x]);
  }
  x = reduction(x, 'exit_flow/reduction_block', true);
  x = b.op('Relu', [b.separable(x, 'exit_flow/separable_conv', 1)]);
  const pooled = b.op('AveragePool', [x], [{ name: 'kernel_shape', kind: 'ints', value: [7, 7] }, { name: 'strides', kind: 'ints', value: [2, 2] }]);
  const flat = b.op('Flatten', [pooled], [{ name: 'axis', kind: 'int', value: 1 }]);
  const fc = (p: string, out: string): string => {
    const w = b.weight(`${p}/weights`);
    return b.op('Add', [b.op('MatMul', [flat, b.tensor(`${p}/weights`, w.shape, Float32Array.from(w.data))]), b.bias(`${p}/bias`)], [], out);
  };
  fc('fc/age', 'age');
  b.op('Softmax', [fc('fc/gender', 'gender_logits')], [{ name: 'axis', kind: 'int', value: 1 }], 'gender');
  return model(b, 'age_gender', 'face-api AgeGenderNet', [['age', 1], ['gender', 2], ['gender_logits', 2]], metadata);
}

/**
 * face-api's face recognition net (FaceRecognitionNet, a ResNet-34 from dlib): 150×150 RGB minus the
 * mean colour, / 255; conv 7×7 stride 2 ("valid") and a 3×3 max pool stride 2 (150 → 72 → 35);
 * residual stages of 32, 64, 128, 256 channels (35 → 17 → 8 → 4 → 2 with each down block); a
 * global average and a 256 × 128 matrix: the 128-D descriptor. Each convolution is followed by its
 * bias, a per-channel scale and offset, and (except the second of a residual pair) relu. A down
 * block adds a 2×2 average pool of its input, zero-padded in channels to the new width; where the
 * 3×3 stride-2 "valid" convolution comes out one smaller than the pool, it is zero-padded at the
 * bottom and right first.
 */
export function buildRecognitionNet(weights: Map<string, TfWeight>, metadata: Record<string, string> = {}): OnnxModel {
  const b = new GraphBuilder(weights);
  const convLayer = (x: string, p: string, stride: number, relu: boolean, valid: boolean): string => {
    const f = b.filter(`${p}/conv/filters`, false);
    const pads = valid ? [0, 0, 0, 0] : samePads(f.kernel, 1);
    let out = b.conv(x, f, stride, 1, b.bias(`${p}/conv/bias`), pads);
    out = b.op('Add', [b.op('Mul', [out, b.channelVector(`${p}/scale/weights`)]), b.channelVector(`${p}/scale/biases`)]);
    return relu ? b.op('Relu', [out]) : out;
  };
  const residual = (x: string, p: string): string =>
    b.op('Relu', [b.op('Add', [convLayer(convLayer(x, `${p}/conv1`, 1, true, false), `${p}/conv2`, 1, false, false), x])]);
  let size = 150;
  let channels = 3;
  const residualDown = (x: string, p: string): string => {
    const cout = b.weight(`${p}/conv1/conv/filters`).shape[3]!;
    let out = convLayer(convLayer(x, `${p}/conv1`, 2, true, true), `${p}/conv2`, 1, false, false);
    const convSize = Math.floor((size - 3) / 2) + 1;
    const poolSize = Math.floor(size / 2);
    if (convSize !== poolSize) out = b.op('Pad', [out, b.int64s([0, 0, 0, 0, 0, 0, poolSize - convSize, poolSize - convSize])]);
    let pooled = b.op('AveragePool', [x], [{ name: 'kernel_shape', kind: 'ints', value: [2, 2] }, { name: 'strides', kind: 'ints', value: [2, 2] }]);
    if (cout !== channels) pooled = b.op('Pad', [pooled, b.int64s([0, 0, 0, 0, 0, cout - channels, 0, 0])]);
    size = poolSize;
    channels = cout;
    return b.op('Relu', [b.op('Add', [pooled, out])]);
  };
  let x = convLayer('input', 'conv32_down', 2, true, true);
  size = Math.floor((size - 7) / 2) + 1;
  x = b.op('MaxPool', [x], [{ name: 'kernel_shape', kind: 'ints', value: [3, 3] }, { name: 'strides', kind: 'ints', value: [2, 2] }]);
  size = Math.floor((size - 3) / 2) + 1;
  channels = 32;
  for (const k of [1, 2, 3]) x = residual(x, `conv32_${k}`);
  x = residualDown(x, 'conv64_down');
  for (const k of [1, 2, 3]) x = residual(x, `conv64_${k}`);
  x = residualDown(x, 'conv128_down');
  for (const k of [1, 2]) x = residual(x, `conv128_${k}`);
  x = residualDown(x, 'conv256_down');
  for (const k of [1, 2]) x = residual(x, `conv256_${k}`);
  x = residualDown(x, 'conv256_down_out');
  const mean = b.op('ReduceMean', [x], [{ name: 'axes', kind: 'ints', value: [2, 3] }, { name: 'keepdims', kind: 'int', value: 0 }]);
  const fc = b.weight('fc');
  b.op('MatMul', [mean, b.tensor('fc', fc.shape, Float32Array.from(fc.data))], [], 'descriptor');
  const m = model(b, 'face_recognition', 'face-api FaceRecognitionNet (ResNet-34)', [['descriptor', fc.shape[1]!]], metadata);
  m.graph.inputs[0]!.shape = ['batch', 3, 150, 150];
  return m;
}

/** The face expression net as an ONNX model: input "input" [batch, 3, 112, 112] (normalised), outputs "expressions" and "expressions_logits". */
export function buildFaceExpressionNet(weights: Map<string, TfWeight>, metadata: Record<string, string> = {}): OnnxModel {
  const b = new GraphBuilder(weights);
  let x = 'input';
  for (let k = 0; k < 4; k++) x = b.denseBlock4(x, `dense${k}`, k === 0);
  const pooled = b.op('AveragePool', [x], [{ name: 'kernel_shape', kind: 'ints', value: [7, 7] }, { name: 'strides', kind: 'ints', value: [2, 2] }]);
  const flat = b.op('Flatten', [pooled], [{ name: 'axis', kind: 'int', value: 1 }]);
  const fc = b.weight('fc/weights');
  const logits = b.op('Add', [b.op('MatMul', [flat, b.tensor('fc/weights', fc.shape, Float32Array.from(fc.data))]), b.bias('fc/bias')], [], 'expressions_logits');
  b.op('Softmax', [logits], [{ name: 'axis', kind: 'int', value: 1 }], 'expressions');
  return model(b, 'face_expression', 'face-api FaceExpressionNet', [['expressions', fc.shape[1]!], ['expressions_logits', fc.shape[1]!]], metadata);
}
