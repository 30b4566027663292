/** Convolutions (plain, depthwise, fused with bias / batch-norm / activation) and pooling. */
import { UnsupportedOpError } from '../../../errors.js';
import { ConvertContext, transposeData, type Value } from '../context.js';
import { attr, type TfNode } from '../tfjs-model.js';
import { applyActivation } from './activation.js';
import type { OpTable } from './types.js';

interface Window2d {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
}

interface Padding {
  /** ONNX pads [top, left, bottom, right], or undefined to use auto_pad SAME_UPPER. */
  pads?: number[];
  out: [number, number];
}

/**
 * TF padding → explicit ONNX pads. SAME puts the odd pixel at the end (bottom/right), which is
 * ONNX's SAME_UPPER; explicit pads are preferred because every runtime implements them alike.
 */
export function tfPadding(node: TfNode, inH: number, inW: number, w: Window2d): Padding {
  const mode = attr.string(node, 'padding', 'VALID');
  const eff = (k: number, d: number): number => (k - 1) * d + 1;
  const dims: [number, number][] = [[inH, 0], [inW, 1]];
  if (mode === 'VALID') {
    const out = dims.map(([n, a]) => (n < 0 ? -1 : Math.floor((n - eff(w.kernel[a]!, w.dilations[a]!)) / w.strides[a]!) + 1)) as [number, number];
    return { pads: [0, 0, 0, 0], out };
  }
  if (mode === 'SAME') {
    if (inH < 0 || inW < 0) return { out: [-1, -1] };
    const before: number[] = [];
    const after: number[] = [];
    const out: number[] = [];
    for (const [n, a] of dims) {
      const o = Math.ceil(n / w.strides[a]!);
      const total = Math.max((o - 1) * w.strides[a]! + eff(w.kernel[a]!, w.dilations[a]!) - n, 0);
      before.push(Math.floor(total / 2));
      after.push(total - Math.floor(total / 2));
      out.push(o);
    }
    return { pads: [before[0]!, before[1]!, after[0]!, after[1]!], out: out as [number, number] };
  }
  if (mode === 'EXPLICIT') {
    const p = attr.ints(node, 'explicit_paddings');
    if (p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[6] !== 0 || p[7] !== 0) {
      throw new UnsupportedOpError(node.op, node.name, `explicit paddings [${p}] pad the batch or channel axis`);
    }
    const pads = [p[2]!, p[4]!, p[3]!, p[5]!];
    const out = dims.map(([n, a]) => (n < 0 ? -1 : Math.floor((n + pads[a]! + pads[a + 2]! - eff(w.kernel[a]!, w.dilations[a]!)) / w.strides[a]!) + 1)) as [number, number];
    return { pads, out };
  }
  throw new UnsupportedOpError(node.op, node.name, `padding mode "${mode}"`);
}

function checkNhwc(node: TfNode): void {
  const format = attr.string(node, 'data_format', 'NHWC');
  if (format !== 'NHWC') throw new UnsupportedOpError(node.op, node.name, `data_format ${format} (only NHWC models are supported)`);
}

function hw(values: number[], node: TfNode, key: string): [number, number] {
  if (values.length !== 4 || values[0] !== 1 || values[3] !== 1) throw new UnsupportedOpError(node.op, node.name, `${key} [${values}] act on the batch or channel axis`);
  return [values[1]!, values[2]!];
}

function paddingAttributes(p: Padding): { name: string; kind: 'ints' | 'string'; value: number[] | string }[] {
  return p.pads ? [{ name: 'pads', kind: 'ints', value: p.pads }] : [{ name: 'auto_pad', kind: 'string', value: 'SAME_UPPER' }];
}

/**
 * Convolution of any flavour. TF filters are [kh, kw, in, out] (depthwise: [kh, kw, in, mult]);
 * ONNX wants [out, in/group, kh, kw]. For depthwise, group = in and output channel c*mult+m comes
 * from input channel c in both frameworks, so the permutation is the same with in/group = 1.
 */
function convolution(node: TfNode, ctx: ConvertContext, depthwise: boolean): Value {
  checkNhwc(node);
  const x = ctx.nchw(ctx.input(node, 0), node.name);
  const filter = ctx.input(node, 1);
  if (!filter.data || filter.shape.length !== 4) throw new UnsupportedOpError(node.op, node.name, 'the filter must be a constant rank-4 tensor');
  const [kh, kw, cin, cout0] = filter.shape as [number, number, number, number];
  const cout = depthwise ? cin * cout0 : cout0;
  const window: Window2d = {
    kernel: [kh, kw],
    strides: hw(attr.ints(node, 'strides', [1, 1, 1, 1]), node, 'strides'),
    dilations: hw(attr.ints(node, 'dilations', [1, 1, 1, 1]), node, 'dilations'),
  };
  const padding = tfPadding(node, x.shape[1]!, x.shape[2]!, window);
  // [kh, kw, in, out] → [out, in, kh, kw]; depthwise [kh, kw, in, mult] is read as [kh, kw, in*mult] → [in*mult, kh, kw].
  const wData = depthwise
    ? transposeData(Float32Array.from(filter.data), [kh, kw, cout], [2, 0, 1])
    : transposeData(Float32Array.from(filter.data), [kh, kw, cin, cout], [3, 2, 0, 1]);
  let bias: Float32Array | undefined;

  // Fused extras: BiasAdd, FusedBatchNorm, then at most one activation.
  const fused = attr.strings(node, 'fused_ops');
  let extra = 2;
  let activation: string | undefined;
  let alpha: Value | undefined;
  for (const op of fused) {
    if (op === 'BiasAdd') {
      bias = Float32Array.from(ctx.constInput(node, extra++, 'the bias'));
    } else if (op === 'FusedBatchNorm') {
      const [scale, offset, mean, variance] = [0, 1, 2, 3].map((k) => ctx.constInput(node, extra + k, 'batch-norm parameters'));
      extra += 4;
      const eps = attr.float(node, 'epsilon', 1e-3);
      bias = new Float32Array(cout);
      for (let o = 0; o < cout; o++) {
        const f = scale![o]! / Math.sqrt(variance![o]! + eps);
        const per = wData.length / cout;
        for (let k = 0; k < per; k++) wData[o * per + k]! *= f;
        bias[o] = offset![o]! - mean![o]! * f;
      }
    } else if (!activation) {
      activation = op;
      if (op === 'Prelu') alpha = ctx.input(node, extra++);
    } else {
      throw new UnsupportedOpError(node.op, node.name, `fused ops [${fused}]`);
    }
  }
  const inputs = [x.onnx, ctx.initializer(`${node.name}/weights`, 'float32', [cout, depthwise ? 1 : cin, kh, kw], wData)];
  if (bias) inputs.push(ctx.initializer(`${node.name}/bias`, 'float32', [cout], bias));
  const [out] = ctx.emit('Conv', inputs, [
    { name: 'kernel_shape', kind: 'ints', value: [kh, kw] },
    { name: 'strides', kind: 'ints', value: window.strides },
    { name: 'dilations', kind: 'ints', value: window.dilations },
    { name: 'group', kind: 'int', value: depthwise ? cin : 1 },
    ...(paddingAttributes(padding) as { name: string; kind: 'ints'; value: number[] }[]),
  ], node.name);
  const y: Value = { onnx: out!, dtype: 'float32', shape: [x.shape[0]!, padding.out[0], padding.out[1], cout], layout: 'nchw' };
  return activation ? applyActivation(ctx, node, activation, y, alpha) : y;
}

function pool(node: TfNode, ctx: ConvertContext, onnxOp: 'MaxPool' | 'AveragePool'): Value {
  checkNhwc(node);
  const x = ctx.nchw(ctx.input(node, 0), node.name);
  const window: Window2d = {
    kernel: hw(attr.ints(node, 'ksize'), node, 'ksize'),
    strides: hw(attr.ints(node, 'strides'), node, 'strides'),
    dilations: [1, 1],
  };
  const padding = tfPadding(node, x.shape[1]!, x.shape[2]!, window);
  // TF's AvgPool averages over the valid (unpadded) pixels: ONNX count_include_pad = 0, its default.
  const [out] = ctx.emit(onnxOp, [x.onnx], [
    { name: 'kernel_shape', kind: 'ints', value: window.kernel },
    { name: 'strides', kind: 'ints', value: window.strides },
    ...(paddingAttributes(padding) as { name: string; kind: 'ints'; value: number[] }[]),
  ], node.name);
  return { onnx: out!, dtype: 'float32', shape: [x.shape[0]!, padding.out[0], padding.out[1], x.shape[3]!], layout: 'nchw' };
}

/** Inference-mode batch norm as one multiply-add with folded constants. */
function batchNorm(node: TfNode, ctx: ConvertContext): Value[] {
  checkNhwc(node);
  const x = ctx.input(node, 0);
  const [scale, offset, mean, variance] = [1, 2, 3, 4].map((k) => ctx.constInput(node, k, 'batch-norm parameters'));
  const eps = attr.float(node, 'epsilon', 1e-3);
  const c = scale!.length;
  const mul = new Float32Array(c);
  const add = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    mul[k] = scale![k]! / Math.sqrt(variance![k]! + eps);
    add[k] = offset![k]! - mean![k]! * mul[k]!;
  }
  const y = ctx.nchw(x, node.name);
  const m = ctx.constForNchw(ConvertContext.constant('float32', [c], mul), `${node.name}/scale`);
  const a = ctx.constForNchw(ConvertContext.constant('float32', [c], add), `${node.name}/offset`);
  const [t] = ctx.emit('Mul', [y.onnx, ctx.name(m, `${node.name}/scale`)], [], `${node.name}/mul`);
  const [out] = ctx.emit('Add', [t!, ctx.name(a, `${node.name}/offset`)], [], node.name);
  return [{ ...y, onnx: out!, data: undefined }];
}

export const CONV_OPS: OpTable = {
  Conv2D: (node, ctx) => convolution(node, ctx, false),
  _FusedConv2D: (node, ctx) => convolution(node, ctx, false),
  DepthwiseConv2dNative: (node, ctx) => convolution(node, ctx, true),
  FusedDepthwiseConv2dNative: (node, ctx) => convolution(node, ctx, true),
  MaxPool: (node, ctx) => pool(node, ctx, 'MaxPool'),
  AvgPool: (node, ctx) => pool(node, ctx, 'AveragePool'),
  FusedBatchNorm: batchNorm,
  FusedBatchNormV3: batchNorm,
};
