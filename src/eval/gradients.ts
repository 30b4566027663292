/**
 * Exact gradients of a score with respect to an intermediate feature map, for Grad-CAM and
 * Grad-CAM++, with no autodiff runtime: the ONNX nodes between the feature map and the output (the
 * "suffix") are run by onnxruntime with every intermediate tensor exposed, and their backward rules
 * are applied here in reverse order, in float64. Only the op types that follow the CAM layer in
 * the zoo's face models are differentiated: pooling and dense heads, the age-in-decades
 * log-sum-exp (ReduceMax, Exp, Log), GEAR's global max pooling, and the face mesh's last Conv with
 * csm's analytic head-pose head (Slice, Atan, Neg); any other op in the suffix is a clear error
 * that names it (choose a later layer).
 */
import { CsmError } from '../errors.js';
import type { OnnxAttribute, OnnxModel, OnnxNode } from '../models/onnx/model.js';
import { OnnxDataType } from '../models/onnx/schema.js';

export interface Tensor { dims: number[]; data: Float64Array }

const attrOf = (n: OnnxNode, name: string): OnnxAttribute | undefined => n.attributes.find((a) => a.name === name);
const intAttr = (n: OnnxNode, name: string, fallback: number): number => { const a = attrOf(n, name); return a && a.kind === 'int' ? a.value : fallback; };
const intsAttr = (n: OnnxNode, name: string): number[] | undefined => { const a = attrOf(n, name); return a && a.kind === 'ints' ? a.value : undefined; };
const floatAttr = (n: OnnxNode, name: string, fallback: number): number => { const a = attrOf(n, name); return a && a.kind === 'float' ? a.value : fallback; };
const size = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

/** The nodes on a path from `from` to `to`, in graph order. */
export function suffixNodes(model: OnnxModel, from: string, to: string): OnnxNode[] {
  const nodes = model.graph.nodes;
  const dependsOnFrom = new Set<string>([from]);
  for (const n of nodes) if (n.inputs.some((i) => dependsOnFrom.has(i))) n.outputs.forEach((o) => dependsOnFrom.add(o));
  if (!dependsOnFrom.has(to)) throw new CsmError(`output "${to}" does not depend on layer "${from}"`);
  const needed = new Set<string>([to]);
  const path: OnnxNode[] = [];
  for (const n of [...nodes].reverse()) {
    if (!n.outputs.some((o) => needed.has(o))) continue;
    if (!n.inputs.some((i) => dependsOnFrom.has(i))) continue;
    path.unshift(n);
    n.inputs.filter((i) => dependsOnFrom.has(i)).forEach((i) => needed.add(i));
  }
  return path;
}

/** Sums `g` (shape `gDims`) down to `dims` along broadcast axes (numpy rules). */
function unbroadcast(g: Float64Array, gDims: number[], dims: number[]): Float64Array {
  if (size(dims) === g.length) return g;
  const out = new Float64Array(size(dims));
  const rank = gDims.length;
  const padded = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < g.length; k++) {
    let o = 0;
    for (let a = 0; a < rank; a++) o = o * padded[a]! + (padded[a] === 1 ? 0 : idx[a]!);
    out[o]! += g[k]!;
    for (let a = rank - 1; a >= 0; a--) { if (++idx[a]! < gDims[a]!) break; idx[a] = 0; }
  }
  return out;
}

/** Reads `t` (shape `dims`) at the broadcast position of flat output index k of `outDims`. */
function broadcastReader(t: Tensor, outDims: number[]): (k: number) => number {
  if (t.data.length === size(outDims)) return (k) => t.data[k]!;
  if (t.data.length === 1) return () => t.data[0]!;
  const rank = outDims.length;
  const padded = [...new Array<number>(rank - t.dims.length).fill(1), ...t.dims];
  return (k) => {
    let rem = k;
    let o = 0;
    let stride = 1;
    const coords: number[] = new Array(rank);
    for (let a = rank - 1; a >= 0; a--) { coords[a] = rem % outDims[a]!; rem = Math.floor(rem / outDims[a]!); }
    for (let a = rank - 1; a >= 0; a--) { o += (padded[a] === 1 ? 0 : coords[a]!) * stride; stride *= padded[a]!; }
    return t.data[o]!;
  };
}

/** ∂/∂data of Slice (opset ≥ 10: starts, ends, axes, steps as inputs): g scattered back to where each value came from. */
function sliceBackward(n: OnnxNode, xDims: number[], yDims: number[], g: Float64Array, value: (name: string) => Tensor): Float64Array {
  const list = (k: number): number[] | undefined => (n.inputs[k] ? Array.from(value(n.inputs[k]!).data) : undefined);
  const starts = list(1) ?? intsAttr(n, 'starts');
  const ends = list(2) ?? intsAttr(n, 'ends');
  if (!starts || !ends) throw new CsmError(`Slice "${n.name}" has no starts or ends`);
  const axes = (list(3) ?? intsAttr(n, 'axes') ?? starts.map((_, k) => k)).map((a) => (a < 0 ? a + xDims.length : a));
  const steps = list(4) ?? starts.map(() => 1);
  const rank = xDims.length;
  const first = new Array<number>(rank).fill(0);
  const step = new Array<number>(rank).fill(1);
  axes.forEach((a, k) => {
    const dim = xDims[a]!;
    const s = steps[k]!;
    let start = starts[k]!;
    if (start < 0) start += dim;
    first[a] = s > 0 ? Math.min(Math.max(start, 0), dim) : Math.min(Math.max(start, 0), dim - 1);
    step[a] = s;
  });
  const strides = xDims.map((_, a) => size(xDims.slice(a + 1)));
  const out = new Float64Array(size(xDims));
  const idx = new Array<number>(rank).fill(0);
  for (let k = 0; k < g.length; k++) {
    let src = 0;
    for (let a = 0; a < rank; a++) src += (first[a]! + idx[a]! * step[a]!) * strides[a]!;
    out[src]! += g[k]!;
    for (let a = rank - 1; a >= 0; a--) { if (++idx[a]! < yDims[a]!) break; idx[a] = 0; }
  }
  return out;
}

/**
 * ∂/∂X of a 2-D Conv (NCHW, any strides, explicit pads, dilations and groups): each output
 * gradient spreads back through the kernel onto the inputs it read (a transposed convolution).
 */
function convBackward(n: OnnxNode, xDims: number[], w: Tensor, yDims: number[], g: Float64Array): Float64Array {
  const autoPad = attrOf(n, 'auto_pad');
  if (autoPad && autoPad.kind === 'string' && !['NOTSET', 'VALID'].includes(String(autoPad.value))) throw new CsmError(`gradient of Conv "${n.name}" with auto_pad ${String(autoPad.value)} is not implemented`);
  if (xDims.length !== 4) throw new CsmError(`gradient of Conv "${n.name}" is implemented for 2-D images only`);
  const [N, C, H, W] = xDims as [number, number, number, number];
  const [M, Cg, KH, KW] = w.dims as [number, number, number, number];
  const [, , OH, OW] = yDims as [number, number, number, number];
  const [sh, sw] = intsAttr(n, 'strides') ?? [1, 1];
  const [dh, dw] = intsAttr(n, 'dilations') ?? [1, 1];
  const [pt, pl] = intsAttr(n, 'pads') ?? [0, 0, 0, 0];
  const group = intAttr(n, 'group', 1);
  const Mg = M / group;
  const out = new Float64Array(N * C * H * W);
  for (let b = 0; b < N; b++) for (let m = 0; m < M; m++) {
    const c0 = Math.floor(m / Mg) * Cg;
    for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
      const gv = g[((b * M + m) * OH + oy) * OW + ox]!;
      if (gv === 0) continue;
      for (let c = 0; c < Cg; c++) for (let ky = 0; ky < KH; ky++) {
        const iy = oy * sh! - pt! + ky * dh!;
        if (iy < 0 || iy >= H) continue;
        for (let kx = 0; kx < KW; kx++) {
          const ix = ox * sw! - pl! + kx * dw!;
          if (ix < 0 || ix >= W) continue;
          out[((b * C + c0 + c) * H + iy) * W + ix]! += gv * w.data[((m * Cg + c) * KH + ky) * KW + kx]!;
        }
      }
    }
  }
  return out;
}

/**
 * Backpropagates `seed` (∂φ/∂output) through the suffix. `value(name)` gives every tensor's value
 * (exposed intermediates and initializers). Returns ∂φ/∂layer.
 */
export function backward(suffix: OnnxNode[], layer: string, output: string, seed: Float64Array, value: (name: string) => Tensor): Float64Array {
  const grads = new Map<string, Float64Array>([[output, seed]]);
  const onPath = new Set<string>([layer, ...suffix.flatMap((n) => n.outputs)]);
  const add = (name: string, g: Float64Array): void => {
    if (!onPath.has(name)) return;
    const prev = grads.get(name);
    if (!prev) grads.set(name, g);
    else for (let k = 0; k < g.length; k++) prev[k]! += g[k]!;
  };
  for (const n of [...suffix].reverse()) {
    const g = grads.get(n.outputs[0]!);
    if (!g) continue;
    const x = value(n.inputs[0]!);
    const y = value(n.outputs[0]!);
    switch (n.opType) {
      case 'Identity': case 'Reshape': case 'Flatten': case 'Squeeze': case 'Unsqueeze':
        add(n.inputs[0]!, g);
        break;
      case 'Relu': add(n.inputs[0]!, g.map((v, k) => (x.data[k]! > 0 ? v : 0))); break;
      case 'LeakyRelu': { const a = floatAttr(n, 'alpha', 0.01); add(n.inputs[0]!, g.map((v, k) => (x.data[k]! > 0 ? v : a * v))); break; }
      case 'Sigmoid': add(n.inputs[0]!, g.map((v, k) => v * y.data[k]! * (1 - y.data[k]!))); break;
      case 'Tanh': add(n.inputs[0]!, g.map((v, k) => v * (1 - y.data[k]! ** 2))); break;
      case 'Clip': {
        const lo = n.inputs[1] ? value(n.inputs[1]).data[0]! : -Infinity;
        const hi = n.inputs[2] ? value(n.inputs[2]).data[0]! : Infinity;
        add(n.inputs[0]!, g.map((v, k) => (x.data[k]! > lo && x.data[k]! < hi ? v : 0)));
        break;
      }
      case 'Max': case 'Min': {
        // Gradient goes to the input that was selected (ties: the first).
        const [a, b] = [value(n.inputs[0]!), value(n.inputs[1]!)];
        const ra = broadcastReader(a, y.dims);
        const ga = new Float64Array(g.length);
        const gb = new Float64Array(g.length);
        for (let k = 0; k < g.length; k++) { if (ra(k) === y.data[k]) ga[k] = g[k]!; else gb[k] = g[k]!; }
        add(n.inputs[0]!, unbroadcast(ga, y.dims, a.dims));
        add(n.inputs[1]!, unbroadcast(gb, y.dims, b.dims));
        break;
      }
      case 'Add': case 'Sub': {
        const [a, b] = [value(n.inputs[0]!), value(n.inputs[1]!)];
        add(n.inputs[0]!, unbroadcast(Float64Array.from(g), y.dims, a.dims));
        add(n.inputs[1]!, unbroadcast(n.opType === 'Add' ? Float64Array.from(g) : g.map((v) => -v), y.dims, b.dims));
        break;
      }
      case 'Mul': case 'Div': {
        const [a, b] = [value(n.inputs[0]!), value(n.inputs[1]!)];
        const ra = broadcastReader(a, y.dims);
        const rb = broadcastReader(b, y.dims);
        if (n.opType === 'Mul') {
          add(n.inputs[0]!, unbroadcast(g.map((v, k) => v * rb(k)), y.dims, a.dims));
          add(n.inputs[1]!, unbroadcast(g.map((v, k) => v * ra(k)), y.dims, b.dims));
        } else {
          add(n.inputs[0]!, unbroadcast(g.map((v, k) => v / rb(k)), y.dims, a.dims));
          add(n.inputs[1]!, unbroadcast(g.map((v, k) => (-v * ra(k)) / rb(k) ** 2), y.dims, b.dims));
        }
        break;
      }
      case 'ReduceMean': case 'ReduceSum': {
        const axesInput = n.inputs[1] ? Array.from(value(n.inputs[1]).data) : undefined;
        const axes = (intsAttr(n, 'axes') ?? axesInput ?? x.dims.map((_, k) => k)).map((a) => (a < 0 ? a + x.dims.length : a));
        const count = axes.reduce((c, a) => c * x.dims[a]!, 1);
        const keptDims = x.dims.map((d, a) => (axes.includes(a) ? 1 : d));
        const spread = broadcastReader({ dims: keptDims, data: g }, x.dims);
        add(n.inputs[0]!, Float64Array.from({ length: x.data.length }, (_, k) => spread(k) / (n.opType === 'ReduceMean' ? count : 1)));
        break;
      }
      case 'Neg': add(n.inputs[0]!, g.map((v) => -v)); break;
      case 'Exp': add(n.inputs[0]!, g.map((v, k) => v * y.data[k]!)); break;
      case 'Log': add(n.inputs[0]!, g.map((v, k) => v / x.data[k]!)); break;
      case 'Atan': add(n.inputs[0]!, g.map((v, k) => v / (1 + x.data[k]! ** 2))); break;
      case 'ReduceMax': {
        // The gradient goes to the first largest element of each reduced group (as for Max).
        const axesInput = n.inputs[1] ? Array.from(value(n.inputs[1]).data) : undefined;
        const axes = (intsAttr(n, 'axes') ?? axesInput ?? x.dims.map((_, k) => k)).map((a) => (a < 0 ? a + x.dims.length : a));
        const keptDims = x.dims.map((d, a) => (axes.includes(a) ? 1 : d));
        const groups = size(keptDims);
        const groupOf = broadcastReader({ dims: keptDims, data: Float64Array.from({ length: groups }, (_, k) => k) }, x.dims);
        const out = new Float64Array(x.data.length);
        const taken = new Uint8Array(groups);
        for (let k = 0; k < x.data.length; k++) {
          const q = groupOf(k);
          if (!taken[q] && x.data[k] === y.data[q]) { out[k] = g[q]!; taken[q] = 1; }
        }
        add(n.inputs[0]!, out);
        break;
      }
      case 'Slice': add(n.inputs[0]!, sliceBackward(n, x.dims, y.dims, g, value)); break;
      case 'Conv': add(n.inputs[0]!, convBackward(n, x.dims, value(n.inputs[1]!), y.dims, g)); break;
      case 'Softmax': {
        const width = x.dims[x.dims.length - 1]!;
        const out = new Float64Array(g.length);
        for (let r = 0; r < g.length / width; r++) {
          let dot = 0;
          for (let j = 0; j < width; j++) dot += g[r * width + j]! * y.data[r * width + j]!;
          for (let j = 0; j < width; j++) out[r * width + j] = y.data[r * width + j]! * (g[r * width + j]! - dot);
        }
        add(n.inputs[0]!, out);
        break;
      }
      case 'MatMul': case 'Gemm': {
        const a = value(n.inputs[0]!);
        const b = value(n.inputs[1]!);
        if (a.dims.length !== 2 || b.dims.length !== 2) throw new CsmError(`gradient of ${n.opType} "${n.name}" is implemented for 2-D operands only`);
        const transA = n.opType === 'Gemm' && intAttr(n, 'transA', 0) === 1;
        const transB = n.opType === 'Gemm' && intAttr(n, 'transB', 0) === 1;
        const alpha = n.opType === 'Gemm' ? floatAttr(n, 'alpha', 1) : 1;
        const [M, K] = transA ? [a.dims[1]!, a.dims[0]!] : [a.dims[0]!, a.dims[1]!];
        const N = y.dims[1]!;
        const A = (i: number, k: number): number => (transA ? a.data[k * M + i]! : a.data[i * K + k]!);
        const B = (k: number, j: number): number => (transB ? b.data[j * K + k]! : b.data[k * N + j]!);
        const gA = new Float64Array(a.data.length);
        const gB = new Float64Array(b.data.length);
        for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) {
          let s = 0;
          for (let j = 0; j < N; j++) s += g[i * N + j]! * B(k, j);
          gA[transA ? k * M + i : i * K + k] = alpha * s;
        }
        for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) {
          let s = 0;
          for (let i = 0; i < M; i++) s += A(i, k) * g[i * N + j]!;
          gB[transB ? j * K + k : k * N + j] = alpha * s;
        }
        add(n.inputs[0]!, gA);
        add(n.inputs[1]!, gB);
        if (n.opType === 'Gemm' && n.inputs[2]) add(n.inputs[2], unbroadcast(g.map((v) => v * floatAttr(n, 'beta', 1)), y.dims, value(n.inputs[2]).dims));
        break;
      }
      case 'Transpose': {
        const perm = intsAttr(n, 'perm') ?? x.dims.map((_, k) => x.dims.length - 1 - k);
        const out = new Float64Array(g.length);
        const inStrides = x.dims.map((_, a) => size(x.dims.slice(a + 1)));
        const idx = new Array<number>(y.dims.length).fill(0);
        for (let k = 0; k < g.length; k++) {
          let src = 0;
          for (let a = 0; a < perm.length; a++) src += idx[a]! * inStrides[perm[a]!]!;
          out[src] = g[k]!;
          for (let a = y.dims.length - 1; a >= 0; a--) { if (++idx[a]! < y.dims[a]!) break; idx[a] = 0; }
        }
        add(n.inputs[0]!, out);
        break;
      }
      default:
        throw new CsmError(`Grad-CAM cannot differentiate op ${n.opType} (node "${n.name}") between the CAM layer and the output; choose a later layer with --cam-layer`);
    }
  }
  const g = grads.get(layer);
  if (!g) throw new CsmError(`no gradient reaches layer "${layer}"`);
  return g;
}

/** An initializer as a float64 tensor (float32, int32 and int64 initializers). */
export function initializerTensor(model: OnnxModel, name: string): Tensor | undefined {
  const t = model.graph.initializers.find((i) => i.name === name);
  if (!t) return undefined;
  const raw = Uint8Array.from(t.raw).buffer;
  const data = t.dataType === OnnxDataType.FLOAT ? Float64Array.from(new Float32Array(raw))
    : t.dataType === OnnxDataType.INT64 ? Float64Array.from(new BigInt64Array(raw), Number)
      : Float64Array.from(new Int32Array(raw));
  return { dims: t.dims, data };
}
