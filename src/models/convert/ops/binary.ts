/** Element-wise binary ops with numpy broadcasting, layout-aware and folded when both are constant. */
import { broadcastShapes, size, type ConvertContext, type Value } from '../context.js';
import type { TfNode } from '../tfjs-model.js';
import type { OpTable } from './types.js';

interface BinarySpec { onnx: string; fold: (a: number, b: number) => number }

const BINARY: Record<string, BinarySpec> = {
  Add: { onnx: 'Add', fold: (a, b) => a + b },
  AddV2: { onnx: 'Add', fold: (a, b) => a + b },
  BiasAdd: { onnx: 'Add', fold: (a, b) => a + b },
  Sub: { onnx: 'Sub', fold: (a, b) => a - b },
  Mul: { onnx: 'Mul', fold: (a, b) => Math.fround(a * b) },
  RealDiv: { onnx: 'Div', fold: (a, b) => a / b },
  Div: { onnx: 'Div', fold: (a, b) => a / b },
  Maximum: { onnx: 'Max', fold: (a, b) => Math.max(a, b) },
  Minimum: { onnx: 'Min', fold: (a, b) => Math.min(a, b) },
  Pow: { onnx: 'Pow', fold: (a, b) => a ** b },
};

/** Evaluates a broadcasting binary op on constant data. */
function foldBinary(a: Value, b: Value, outShape: number[], f: (x: number, y: number) => number): Float32Array | Int32Array {
  const n = size(outShape);
  const out = a.dtype === 'int32' && b.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  const rank = outShape.length;
  const strides = (s: number[]): number[] => {
    const padded = [...new Array<number>(rank - s.length).fill(1), ...s];
    const st = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let k = rank - 1; k >= 0; k--) { st[k] = padded[k] === 1 ? 0 : acc; acc *= padded[k]!; }
    return st;
  };
  const sa = strides(a.shape);
  const sb = strides(b.shape);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < rank; k++) { ia += idx[k]! * sa[k]!; ib += idx[k]! * sb[k]!; }
    out[o] = f(a.data![ia]!, b.data![ib]!);
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < outShape[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

/**
 * Emits `onnxOp(a, b)`. If either side is stored NCHW, the result is too: a constant partner is
 * permuted to broadcast the same way, a rank-4 activation partner is transposed to NCHW, and any
 * other partner pulls the NCHW side back to plain.
 */
export function emitBinary(ctx: ConvertContext, node: TfNode, onnxOp: string, a: Value, b: Value, base = node.name): Value {
  const shape = broadcastShapes(a.shape, b.shape, `node "${node.name}" (${node.op})`);
  let layout: 'plain' | 'nchw' = 'plain';
  if ((a.layout === 'nchw' || b.layout === 'nchw') && shape.length === 4) {
    const fit = (v: Value): Value | undefined => {
      if (v.layout === 'nchw') return v;
      if (v.data) return ctx.constForNchw(v, `${base}/const`);
      if (v.shape.length === 4) return ctx.nchw(v, base);
      return undefined;
    };
    const fa = fit(a);
    const fb = fit(b);
    if (fa && fb) { a = fa; b = fb; layout = 'nchw'; }
  }
  if (layout === 'plain') { a = ctx.plain(a, base); b = ctx.plain(b, base); }
  const [out] = ctx.emit(onnxOp, [ctx.name(a, `${base}/a`), ctx.name(b, `${base}/b`)], [], base);
  const dtype = a.dtype === 'int32' && b.dtype === 'int32' ? 'int32' : 'float32';
  return { onnx: out!, dtype, shape, layout };
}

export const BINARY_OPS: OpTable = Object.fromEntries(Object.entries(BINARY).map(([op, spec]) => [op, (node: TfNode, ctx: ConvertContext): Value => {
  const a = ctx.input(node, 0);
  const b = ctx.input(node, 1);
  if (a.data && b.data && a.layout === 'plain' && b.layout === 'plain') {
    const shape = broadcastShapes(a.shape, b.shape, `node "${node.name}" (${node.op})`);
    const dtype = a.dtype === 'int32' && b.dtype === 'int32' ? 'int32' : 'float32';
    return { onnx: '', dtype, shape, layout: 'plain', data: foldBinary(a, b, shape, spec.fold) };
  }
  return emitBinary(ctx, node, spec.onnx, a, b);
}]));

BINARY_OPS['SquaredDifference'] = (node, ctx) => {
  const d = emitBinary(ctx, node, 'Sub', ctx.input(node, 0), ctx.input(node, 1), `${node.name}/diff`);
  const [out] = ctx.emit('Mul', [d.onnx, d.onnx], [], node.name);
  return { ...d, onnx: out! };
};
