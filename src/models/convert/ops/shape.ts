/**
 * Ops that move data between axes: reshape, squeeze / expand, slice, concat / pack, pad, transpose,
 * shape, cast. All but pad and concat work in plain layout, since their constants name logical axes.
 */
import { ModelError, UnsupportedOpError } from '../../../errors.js';
import { NHWC_TO_NCHW, size, transposeData, type ConvertContext, type Value } from '../context.js';
import { attr, type TfNode } from '../tfjs-model.js';
import type { OpTable } from './types.js';

const BIG = 2 ** 31 - 1;

/** A constant with new metadata but the same row-major data (reshape-like folds). */
const refold = (v: Value, shape: number[]): Value => ({ onnx: '', dtype: v.dtype, shape, layout: 'plain', data: v.data! });

function reshape(node: TfNode, ctx: ConvertContext): Value {
  const x = ctx.plain(ctx.input(node, 0), node.name);
  const target = Array.from(ctx.constInput(node, 1, 'the target shape'));
  // A model exported for batch 1 writes its batch as a literal 1; with a free batch dimension that
  // must follow the input's batch instead: ONNX's 0 copies the input's dimension 0.
  if (x.shape[0] === -1 && target.length > 0 && target[0] === 1) target[0] = 0;
  const known = target.map((d, k) => (d === 0 ? x.shape[k]! : d));
  const total = size(x.shape);
  const rest = size(known.filter((d) => d !== -1));
  const shape = known.map((d) => (d === -1 ? (total > 0 && rest > 0 ? total / rest : -1) : d));
  if (x.data) return refold(x, shape);
  const [out] = ctx.emit('Reshape', [x.onnx, ctx.int64(`${node.name}/shape`, target)], [], node.name);
  return { onnx: out!, dtype: x.dtype, shape, layout: 'plain' };
}

function squeeze(node: TfNode, ctx: ConvertContext): Value {
  const x = ctx.plain(ctx.input(node, 0), node.name);
  const rank = x.shape.length;
  let axes = attr.ints(node, 'squeeze_dims', attr.ints(node, 'axis', [])).map((a) => (a < 0 ? a + rank : a));
  if (axes.length === 0) {
    if (x.shape.includes(-1)) throw new UnsupportedOpError('Squeeze', node.name, 'squeezing all unit axes of a tensor of unknown shape');
    axes = x.shape.flatMap((d, k) => (d === 1 ? [k] : []));
  }
  const shape = x.shape.filter((_, k) => !axes.includes(k));
  if (x.data) return refold(x, shape);
  const [out] = ctx.emit('Squeeze', [x.onnx, ctx.int64(`${node.name}/axes`, axes)], [], node.name);
  return { onnx: out!, dtype: x.dtype, shape, layout: 'plain' };
}

function unsqueeze(ctx: ConvertContext, x: Value, axis: number, base: string): Value {
  const shape = [...x.shape];
  shape.splice(axis, 0, 1);
  if (x.data) return refold(x, shape);
  const [out] = ctx.emit('Unsqueeze', [ctx.name(x), ctx.int64(`${base}/axes`, [axis])], [], base);
  return { onnx: out!, dtype: x.dtype, shape, layout: 'plain' };
}

function expandDims(node: TfNode, ctx: ConvertContext): Value {
  const x = ctx.plain(ctx.input(node, 0), node.name);
  const a = ctx.constInput(node, 1, 'the axis')[0]!;
  return unsqueeze(ctx, x, a < 0 ? a + x.shape.length + 1 : a, node.name);
}

function concat(ctx: ConvertContext, node: TfNode, values: Value[], axis: number): Value {
  const rank = values[0]!.shape.length;
  if (axis < 0) axis += rank;
  const dynamic = values.filter((v) => !v.data);
  const nchw = rank === 4 && dynamic.length > 0 && dynamic.every((v) => v.layout === 'nchw');
  const parts = values.map((v) => (nchw ? (v.data ? ctx.constForNchw(v, node.name) : v) : ctx.plain(v, node.name)));
  const shape = [...values[0]!.shape];
  shape[axis] = values.some((v) => v.shape[axis] === -1) ? -1 : values.reduce((s, v) => s + v.shape[axis]!, 0);
  const physical = nchw ? (NHWC_TO_NCHW as readonly number[]).indexOf(axis) : axis;
  const [out] = ctx.emit('Concat', parts.map((p, k) => ctx.name(p, `${node.name}/part${k}`)), [{ name: 'axis', kind: 'int', value: physical }], node.name);
  return { onnx: out!, dtype: values[0]!.dtype, shape, layout: nchw ? 'nchw' : 'plain' };
}

function pad(node: TfNode, ctx: ConvertContext, mode: 'constant' | 'reflect'): Value {
  const x = ctx.input(node, 0);
  const p = ctx.constInput(node, 1, 'the paddings');
  const rank = x.shape.length;
  if (p.length !== rank * 2) throw new ModelError(`node "${node.name}": paddings of size ${p.length} for a rank-${rank} tensor`);
  const rowOf = (phys: number): number => (x.layout === 'nchw' ? NHWC_TO_NCHW[phys]! : phys);
  const begins = Array.from({ length: rank }, (_, k) => p[rowOf(k) * 2]!);
  const ends = Array.from({ length: rank }, (_, k) => p[rowOf(k) * 2 + 1]!);
  const inputs = [ctx.name(x), ctx.int64(`${node.name}/pads`, [...begins, ...ends])];
  if (node.op === 'PadV2') inputs.push(ctx.name({ ...ctx.input(node, 2), shape: [] }, `${node.name}/value`));
  const [out] = ctx.emit('Pad', inputs, [{ name: 'mode', kind: 'string', value: mode }], node.name);
  const shape = x.shape.map((d, k) => (d < 0 ? -1 : d + p[k * 2]! + p[k * 2 + 1]!));
  return { onnx: out!, dtype: x.dtype, shape, layout: x.layout };
}

function stridedSlice(node: TfNode, ctx: ConvertContext): Value {
  const x = ctx.plain(ctx.input(node, 0), node.name);
  const begin = Array.from(ctx.constInput(node, 1, 'the slice begin'));
  const end = Array.from(ctx.constInput(node, 2, 'the slice end'));
  const strides = Array.from(ctx.constInput(node, 3, 'the slice strides'));
  for (const m of ['ellipsis_mask', 'new_axis_mask']) {
    if (attr.int(node, m, 0) !== 0) throw new UnsupportedOpError('StridedSlice', node.name, `${m} is not supported`);
  }
  const beginMask = attr.int(node, 'begin_mask', 0);
  const endMask = attr.int(node, 'end_mask', 0);
  const shrinkMask = attr.int(node, 'shrink_axis_mask', 0);
  const starts: number[] = [];
  const ends: number[] = [];
  const shape = [...x.shape];
  const shrink: number[] = [];
  for (let k = 0; k < begin.length; k++) {
    const step = strides[k]!;
    if (step === 0) throw new ModelError(`node "${node.name}": slice stride 0`);
    let s = beginMask & (1 << k) ? (step > 0 ? 0 : BIG) : begin[k]!;
    let e = endMask & (1 << k) ? (step > 0 ? BIG : -BIG) : end[k]!;
    if (shrinkMask & (1 << k)) {
      s = begin[k]!;
      e = s === -1 ? BIG : s + 1;
      shrink.push(k);
    }
    starts.push(s);
    ends.push(e);
    const d = x.shape[k]!;
    if (d >= 0) {
      const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
      const [lo, hi] = step > 0 ? [0, d] : [-1, d - 1];
      const a = clamp(s, lo, hi);
      const b = clamp(e, lo, hi);
      shape[k] = Math.max(0, Math.ceil((b - a) / step));
    }
  }
  const axes = starts.map((_, k) => k);
  const [sliced] = ctx.emit('Slice', [
    ctx.name(x), ctx.int64(`${node.name}/starts`, starts), ctx.int64(`${node.name}/ends`, ends),
    ctx.int64(`${node.name}/axes`, axes), ctx.int64(`${node.name}/steps`, strides),
  ], [], shrink.length ? `${node.name}/slice` : node.name);
  if (!shrink.length) return { onnx: sliced!, dtype: x.dtype, shape, layout: 'plain' };
  const [out] = ctx.emit('Squeeze', [sliced!, ctx.int64(`${node.name}/shrink`, shrink)], [], node.name);
  return { onnx: out!, dtype: x.dtype, shape: shape.filter((_, k) => !shrink.includes(k)), layout: 'plain' };
}

function transpose(node: TfNode, ctx: ConvertContext): Value {
  const x = ctx.plain(ctx.input(node, 0), node.name);
  const perm = Array.from(ctx.constInput(node, 1, 'the permutation'));
  const shape = perm.map((p) => x.shape[p]!);
  if (x.data) return { ...refold(x, shape), data: transposeData(x.data, x.shape, perm) };
  const [out] = ctx.emit('Transpose', [x.onnx], [{ name: 'perm', kind: 'ints', value: perm }], node.name);
  return { onnx: out!, dtype: x.dtype, shape, layout: 'plain' };
}

function shapeOp(node: TfNode, ctx: ConvertContext): Value {
  const x = ctx.input(node, 0);
  // Fully known shapes fold to a constant; that keeps later Reshape targets constant too.
  if (!x.shape.includes(-1)) return { onnx: '', dtype: 'int32', shape: [x.shape.length], layout: 'plain', data: Int32Array.from(x.shape) };
  const p = ctx.plain(x, node.name);
  const [s] = ctx.emit('Shape', [p.onnx], [], `${node.name}/int64`);
  const [out] = ctx.emit('Cast', [s!], [{ name: 'to', kind: 'int', value: 6 }], node.name);
  return { onnx: out!, dtype: 'int32', shape: [x.shape.length], layout: 'plain' };
}

function cast(node: TfNode, ctx: ConvertContext): Value {
  const x = ctx.input(node, 0);
  const to = node.attr['DstT']?.type ?? 'DT_FLOAT';
  const dtype = to === 'DT_INT32' ? 'int32' : to === 'DT_FLOAT' ? 'float32' : undefined;
  if (!dtype) throw new UnsupportedOpError('Cast', node.name, `target type ${to}`);
  if (x.data) return { ...x, dtype, data: dtype === 'int32' ? Int32Array.from(x.data, Math.trunc) : Float32Array.from(x.data) };
  const [out] = ctx.emit('Cast', [x.onnx], [{ name: 'to', kind: 'int', value: dtype === 'int32' ? 6 : 1 }], node.name);
  return { ...x, onnx: out!, dtype, data: undefined };
}

export const SHAPE_OPS: OpTable = {
  Reshape: reshape,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  ConcatV2: (node, ctx) => {
    const n = node.inputs.length - 1;
    const axis = ctx.constInput(node, n, 'the concat axis')[0]!;
    return concat(ctx, node, Array.from({ length: n }, (_, k) => ctx.input(node, k)), axis);
  },
  Pack: (node, ctx) => {
    const values = node.inputs.map((_, k) => ctx.plain(ctx.input(node, k), node.name));
    let axis = attr.int(node, 'axis', 0);
    if (axis < 0) axis += values[0]!.shape.length + 1;
    return concat(ctx, node, values.map((v, k) => unsqueeze(ctx, v, axis, `${node.name}/item${k}`)), axis);
  },
  Pad: (node, ctx) => pad(node, ctx, 'constant'),
  PadV2: (node, ctx) => pad(node, ctx, 'constant'),
  MirrorPad: (node, ctx) => {
    const mode = attr.string(node, 'mode', 'REFLECT');
    if (mode !== 'REFLECT') throw new UnsupportedOpError('MirrorPad', node.name, `mode ${mode} (only REFLECT maps to ONNX)`);
    return pad(node, ctx, 'reflect');
  },
  StridedSlice: stridedSlice,
  Transpose: transpose,
  Shape: shapeOp,
  Cast: cast,
};
