/** Reductions over constant axes, and softmax. Reductions work in either layout. */
import { NHWC_TO_NCHW, type ConvertContext, type Value } from '../context.js';
import { attr, type TfNode } from '../tfjs-model.js';
import type { OpTable } from './types.js';
import { ModelError } from '../../../errors.js';

/** Opset 13: ReduceSum takes its axes as an input, the others as an attribute. */
const REDUCE: Record<string, { onnx: string; axesAsInput: boolean }> = {
  Mean: { onnx: 'ReduceMean', axesAsInput: false },
  Sum: { onnx: 'ReduceSum', axesAsInput: true },
  Max: { onnx: 'ReduceMax', axesAsInput: false },
  Min: { onnx: 'ReduceMin', axesAsInput: false },
  Prod: { onnx: 'ReduceProd', axesAsInput: false },
};

function reduce(node: TfNode, ctx: ConvertContext, spec: { onnx: string; axesAsInput: boolean }): Value {
  const x = ctx.input(node, 0);
  const rank = x.shape.length;
  const axes = [...new Set(Array.from(ctx.constInput(node, 1, 'the reduction axes'), (a) => (a < 0 ? a + rank : a)))].sort();
  if (axes.some((a) => a < 0 || a >= rank)) throw new ModelError(`node "${node.name}": reduction axes out of range for rank ${rank}`);
  const keep = attr.bool(node, 'keep_dims', false);
  // Physical axes to reduce: for NCHW storage, logical NHWC axis a sits at NCHW position NHWC_TO_NCHW.indexOf(a).
  const physical = x.layout === 'nchw' ? axes.map((a) => (NHWC_TO_NCHW as readonly number[]).indexOf(a)).sort() : axes;
  const attrs = [{ name: 'keepdims', kind: 'int' as const, value: keep ? 1 : 0 }];
  const inputs = [ctx.name(x)];
  if (spec.axesAsInput) inputs.push(ctx.int64(`${node.name}/axes`, physical));
  else attrs.push({ name: 'axes', kind: 'ints', value: physical } as never);
  const [out] = ctx.emit(spec.onnx, inputs, attrs, node.name);
  const shape = keep ? x.shape.map((d, k) => (axes.includes(k) ? 1 : d)) : x.shape.filter((_, k) => !axes.includes(k));
  if (keep || x.layout === 'plain') return { onnx: out!, dtype: x.dtype, shape, layout: x.layout };
  // Without keepdims an NCHW tensor loses its tag: the remaining axes come in physical order,
  // which is the logical order unless the channel axis survived alongside a spatial one.
  const order = (NHWC_TO_NCHW as readonly number[]).filter((_, p) => !physical.includes(p));
  const sorted = [...order].sort();
  if (order.every((a, k) => a === sorted[k])) return { onnx: out!, dtype: x.dtype, shape, layout: 'plain' };
  const perm = sorted.map((a) => order.indexOf(a));
  const [t] = ctx.emit('Transpose', [out!], [{ name: 'perm', kind: 'ints', value: perm }], `${node.name}/to_plain`);
  return { onnx: t!, dtype: x.dtype, shape, layout: 'plain' };
}

function softmax(onnx: 'Softmax' | 'LogSoftmax') {
  return (node: TfNode, ctx: ConvertContext): Value => {
    const x = ctx.plain(ctx.input(node, 0), node.name);
    const [out] = ctx.emit(onnx, [ctx.name(x)], [{ name: 'axis', kind: 'int', value: -1 }], node.name);
    return { ...x, onnx: out!, data: undefined };
  };
}

export const REDUCE_OPS: OpTable = {
  ...Object.fromEntries(Object.entries(REDUCE).map(([op, spec]) => [op, (node: TfNode, ctx: ConvertContext) => reduce(node, ctx, spec)])),
  Softmax: softmax('Softmax'),
  LogSoftmax: softmax('LogSoftmax'),
};
