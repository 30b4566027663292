/**
 * The state of one conversion: the ONNX graph being built, and what is known about every TF
 * tensor produced so far (its ONNX name, logical shape, layout, and data when constant).
 *
 * Layout. TF.js models are NHWC; ONNX convolutions and pools are NCHW. Rather than wrapping every
 * convolution in a pair of transposes, a rank-4 activation is kept physically in NCHW and tagged
 * `nchw`, while its *logical* shape stays the TF (NHWC) one. Layout-agnostic ops (element-wise,
 * activations) keep the tag, constants they meet are permuted to match, and ops that depend on
 * axis order (reshape, slice, matmul, softmax, outputs) first transpose back to `plain`. The model's
 * input is NCHW, so a pure-CNN model contains no transposes at all.
 */
import { ModelError } from '../../errors.js';
import type { OnnxAttribute, OnnxInitializer, OnnxNode } from '../onnx/model.js';
import { OnnxDataType } from '../onnx/schema.js';
import { parseRef, type TfDType, type TfGraphModel, type TfNode } from './tfjs-model.js';

export type Layout = 'plain' | 'nchw';

export interface Value {
  /** Name of the tensor in the ONNX graph; empty for a constant not yet written as initializer. */
  onnx: string;
  dtype: TfDType;
  /** Logical (TF) shape; -1 where unknown (the batch dimension, usually). */
  shape: number[];
  layout: Layout;
  /** Present for compile-time constants (weights, folded values). */
  data?: Float32Array | Int32Array;
}

/** Physical NCHW position of each logical NHWC axis, and its inverse. */
export const NHWC_TO_NCHW = [0, 3, 1, 2] as const;
export const NCHW_TO_NHWC = [0, 2, 3, 1] as const;

export const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Transposes a dense row-major array of `shape` by `perm` (out axis i = in axis perm[i]). */
export function transposeData<T extends Float32Array | Int32Array>(data: T, shape: number[], perm: readonly number[]): T {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let k = rank - 1; k >= 0; k--) { inStrides[k] = s; s *= shape[k]!; }
  const out = new (data.constructor as { new (n: number): T })(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < data.length; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += idx[k]! * inStrides[perm[k]!]!;
    out[o] = data[src]!;
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < outShape[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** Numpy-style broadcast of two logical shapes (-1 stays unknown). */
export function broadcastShapes(a: number[], b: number[], where: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    const x = a[a.length - rank + k] ?? 1;
    const y = b[b.length - rank + k] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else if (x === -1 || y === -1) out.push(x === -1 ? y : x);
    else throw new ModelError(`${where}: shapes [${a}] and [${b}] do not broadcast`);
  }
  return out;
}

export class ConvertContext {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  private readonly values = new Map<string, Value>();
  private readonly used = new Set<string>();
  private readonly materialized = new WeakMap<Value, string>();

  constructor(readonly model: TfGraphModel) {}

  /** A fresh tensor / node name derived from `base`. */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  set(ref: string, v: Value): void {
    this.values.set(ref, v);
  }

  /** The value of input `k` of `node`. */
  input(node: TfNode, k: number): Value {
    const ref = node.inputs[k];
    if (ref === undefined) throw new ModelError(`node "${node.name}" (${node.op}) has no input ${k}`);
    const [name, idx] = parseRef(ref);
    const v = this.values.get(`${name}:${idx}`);
    if (!v) throw new ModelError(`node "${node.name}" (${node.op}) reads "${ref}", which is not computed before it`);
    return v;
  }

  /** Input `k` as compile-time constant data, or a clear error naming what needed it. */
  constInput(node: TfNode, k: number, what: string): Float32Array | Int32Array {
    const v = this.input(node, k);
    if (!v.data) throw new ModelError(`node "${node.name}" (${node.op}): ${what} must be a constant in the model file`);
    return v.data;
  }

  /** Reserves names (the graph's outputs) so that no internal tensor takes them. */
  reserve(names: string[]): void {
    for (const n of names) this.used.add(n);
  }

  /** Appends a single-output node whose output is a previously reserved name. */
  emitReserved(opType: string, inputs: string[], output: string): void {
    this.nodes.push({ name: output, opType, inputs, outputs: [output], attributes: [] });
  }

  /** Appends an ONNX node; returns its output names (one per requested output). */
  emit(opType: string, inputs: string[], attributes: OnnxAttribute[], base: string, outputs = 1): string[] {
    const name = this.unique(base);
    const outs = outputs === 1 ? [name] : Array.from({ length: outputs }, (_, k) => this.unique(`${name}:${k}`));
    this.nodes.push({ name, opType, inputs, outputs: outs, attributes });
    return outs;
  }

  /** Writes an initializer and returns its name. */
  initializer(base: string, dtype: 'float32' | 'int32' | 'int64', dims: number[], data: ArrayLike<number>): string {
    const name = this.unique(base);
    let raw: Uint8Array;
    let dataType: number;
    if (dtype === 'float32') { raw = new Uint8Array(Float32Array.from(data).buffer); dataType = OnnxDataType.FLOAT; }
    else if (dtype === 'int32') { raw = new Uint8Array(Int32Array.from(data).buffer); dataType = OnnxDataType.INT32; }
    else { raw = new Uint8Array(BigInt64Array.from(Array.from(data, (x) => BigInt(Math.trunc(x)))).buffer); dataType = OnnxDataType.INT64; }
    this.initializers.push({ name, dataType, dims, raw });
    return name;
  }

  /** An int64 1-D constant, as ONNX wants for shapes, axes, pads and slice bounds. */
  int64(base: string, values: number[]): string {
    return this.initializer(base, 'int64', [values.length], values);
  }

  /** The ONNX name of a value in its current layout, writing a constant's initializer on first use. */
  name(v: Value, base = 'const'): string {
    if (v.onnx) return v.onnx;
    const cached = this.materialized.get(v);
    if (cached) return cached;
    if (!v.data) throw new ModelError('internal: value without ONNX name or data');
    const physical = v.layout === 'nchw' ? NHWC_TO_NCHW.map((p) => v.shape[p]!) : v.shape;
    const n = this.initializer(base, v.dtype === 'float32' ? 'float32' : 'int32', physical, v.data);
    this.materialized.set(v, n);
    return n;
  }

  /** The value in plain (logical) layout. */
  plain(v: Value, base: string): Value {
    if (v.layout === 'plain') return v;
    if (v.data) return { ...v, onnx: '', layout: 'plain', data: transposeData(v.data, NHWC_TO_NCHW.map((p) => v.shape[p]!), NCHW_TO_NHWC) };
    const [out] = this.emit('Transpose', [v.onnx], [{ name: 'perm', kind: 'ints', value: [...NCHW_TO_NHWC] }], `${base}/to_nhwc`);
    return { ...v, onnx: out!, layout: 'plain' };
  }

  /** A rank-4 value in NCHW physical layout. */
  nchw(v: Value, base: string): Value {
    if (v.layout === 'nchw') return v;
    if (v.shape.length !== 4) throw new ModelError(`${base}: expected a rank-4 tensor, got shape [${v.shape}]`);
    if (v.data) return { ...v, onnx: '', layout: 'nchw', data: transposeData(v.data, v.shape, NHWC_TO_NCHW) };
    const [out] = this.emit('Transpose', [v.onnx], [{ name: 'perm', kind: 'ints', value: [...NHWC_TO_NCHW] }], `${base}/to_nchw`);
    return { ...v, onnx: out!, layout: 'nchw' };
  }

  /**
   * A constant reshaped so that it broadcasts against an NCHW-stored tensor the way it broadcast
   * against the NHWC one: left-pad its shape to rank 4, then permute to NCHW.
   */
  constForNchw(v: Value, base: string): Value {
    if (!v.data) throw new ModelError(`internal: constForNchw on a non-constant (${base})`);
    if (v.shape.length > 4) throw new ModelError(`${base}: a rank-${v.shape.length} constant cannot broadcast against a rank-4 tensor`);
    const padded = [...new Array<number>(4 - v.shape.length).fill(1), ...v.shape];
    return { ...v, onnx: '', shape: padded, layout: 'nchw', data: transposeData(v.data, padded, NHWC_TO_NCHW) };
  }

  /** A const Value (not yet an initializer) made from data. */
  static constant(dtype: TfDType, shape: number[], data: Float32Array | Int32Array): Value {
    return { onnx: '', dtype, shape, layout: 'plain', data };
  }
}
