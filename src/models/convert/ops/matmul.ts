/** Matrix products: MatMul, BatchMatMul and the fused MatMul + bias + activation. */
import { UnsupportedOpError } from '../../../errors.js';
import type { ConvertContext, Value } from '../context.js';
import { attr, type TfNode } from '../tfjs-model.js';
import { applyActivation } from './activation.js';
import { emitBinary } from './binary.js';
import type { OpTable } from './types.js';

function transposeLast2(ctx: ConvertContext, v: Value, base: string): Value {
  const rank = v.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  const shape = perm.map((p) => v.shape[p]!);
  const [out] = ctx.emit('Transpose', [ctx.name(v, `${base}/const`)], [{ name: 'perm', kind: 'ints', value: perm }], base);
  return { onnx: out!, dtype: v.dtype, shape, layout: 'plain' };
}

function matmul(node: TfNode, ctx: ConvertContext): Value {
  let a = ctx.plain(ctx.input(node, 0), node.name);
  let b = ctx.plain(ctx.input(node, 1), node.name);
  if (attr.bool(node, 'transpose_a', false) || attr.bool(node, 'adj_x', false)) a = transposeLast2(ctx, a, `${node.name}/ta`);
  if (attr.bool(node, 'transpose_b', false) || attr.bool(node, 'adj_y', false)) b = transposeLast2(ctx, b, `${node.name}/tb`);
  const fused = attr.strings(node, 'fused_ops');
  const [out] = ctx.emit('MatMul', [ctx.name(a, `${node.name}/a`), ctx.name(b, `${node.name}/b`)], [], fused.length ? `${node.name}/matmul` : node.name);
  const shape = [...a.shape.slice(0, -1), b.shape[b.shape.length - 1]!];
  let y: Value = { onnx: out!, dtype: 'float32', shape, layout: 'plain' };
  let extra = 2;
  for (const op of fused) {
    if (op === 'BiasAdd') y = emitBinary(ctx, node, 'Add', y, ctx.input(node, extra++), `${node.name}/bias`);
    else if (op === 'Prelu') y = applyActivation(ctx, node, op, y, ctx.input(node, extra++));
    else if (fused.indexOf(op) === fused.length - 1) y = applyActivation(ctx, node, op, y);
    else throw new UnsupportedOpError(node.op, node.name, `fused ops [${fused}]`);
  }
  return y;
}

export const MATMUL_OPS: OpTable = {
  MatMul: matmul,
  _FusedMatMul: matmul,
  BatchMatMul: matmul,
  BatchMatMulV2: matmul,
};
