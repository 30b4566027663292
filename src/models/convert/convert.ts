/**
 * TF.js graph model → ONNX. The converted model:
 * - takes its image input in **NCHW** layout ([batch, channels, height, width]), float32;
 * - has a free batch dimension named "batch" (the occlusion engines feed 1 to 512 images at once);
 * - stores all weights as float32 (TF.js float16 / uint8 / uint16 quantization is undone);
 * - uses ONNX opset 13 and ops that both onnxruntime-node and onnxruntime-web implement.
 * Non-image inputs (rank other than 4) keep their TF layout.
 */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../../io/atomic.js';
import { dirname } from 'node:path';
import { ModelError, UnsupportedOpError } from '../../errors.js';
import { encodeModel, type OnnxModel, type OnnxValueInfo } from '../onnx/model.js';
import { OnnxDataType } from '../onnx/schema.js';
import { ConvertContext, NHWC_TO_NCHW, type Value } from './context.js';
import { OP_TABLE } from './ops/index.js';
import { attr, loadTfjsGraphModel, parseRef, type TfGraphModel } from './tfjs-model.js';

export const CONVERTER_VERSION = '1';
export const ONNX_OPSET = 13;

export interface ConvertOptions {
  /** Name for the ONNX graph; defaults to the model file's name. */
  name?: string;
  /** Extra key/value pairs stored in the ONNX metadata. */
  metadata?: Record<string, string>;
  /**
   * For each output computed by a Softmax, also output the Softmax's input as `<output>_logits`,
   * so that a `logit` score can be read from a model that ends in softmax. Default true.
   */
  exposeLogits?: boolean;
}

/** Adds `<name>_logits` outputs for outputs that are (through Identity ops) a Softmax. */
function withLogitOutputs(model: TfGraphModel): TfGraphModel {
  const byName = new Map(model.nodes.map((n) => [n.name, n]));
  const extra: TfGraphModel['outputs'] = [];
  for (const out of model.outputs) {
    let node = byName.get(parseRef(out.ref)[0]);
    while (node && node.op === 'Identity' && node.inputs[0]) node = byName.get(parseRef(node.inputs[0])[0]);
    if (node?.op === 'Softmax' && node.inputs[0]) extra.push({ name: `${out.name}_logits`, ref: node.inputs[0] });
  }
  return { ...model, outputs: [...model.outputs, ...extra] };
}

export interface ConvertedModel {
  onnx: OnnxModel;
  /** Input name → NCHW shape with -1 for the batch. */
  inputs: { name: string; shape: number[] }[];
  outputs: { name: string; shape: number[] }[];
}

function dtypeCode(d: Value['dtype']): number {
  return d === 'int32' ? OnnxDataType.INT32 : OnnxDataType.FLOAT;
}

/** Orders nodes so that each comes after its inputs (model.json order is not guaranteed). */
function topologicalOrder(model: TfGraphModel): TfGraphModel['nodes'] {
  const byName = new Map(model.nodes.map((n) => [n.name, n]));
  const state = new Map<string, 1 | 2>();
  const order: TfGraphModel['nodes'] = [];
  for (const root of model.nodes) {
    const stack: [string, boolean][] = [[root.name, false]];
    while (stack.length) {
      const [name, done] = stack.pop()!;
      if (done) { state.set(name, 2); order.push(byName.get(name)!); continue; }
      if (state.has(name)) continue;
      const n = byName.get(name);
      if (!n) throw new ModelError(`${model.source}: a node reads "${name}", which does not exist`);
      state.set(name, 1);
      stack.push([name, true]);
      for (const i of n.inputs) {
        const dep = parseRef(i)[0];
        if (state.get(dep) === 1) throw new ModelError(`${model.source}: the graph has a cycle through "${dep}"`);
        if (!state.has(dep)) stack.push([dep, false]);
      }
    }
  }
  return order;
}

/** Converts a loaded TF.js graph model into an in-memory ONNX model. */
export function convertTfjsGraph(model: TfGraphModel, options: ConvertOptions = {}): ConvertedModel {
  if (options.exposeLogits ?? true) model = withLogitOutputs(model);
  const ctx = new ConvertContext(model);
  const inputs: OnnxValueInfo[] = [];
  ctx.reserve(model.outputs.map((o) => o.name));
  const needed = neededNodes(model);
  for (const node of topologicalOrder(model)) {
    if (!needed.has(node.name)) continue;
    if (node.op === 'Const') {
      const w = model.weights.get(node.name);
      if (!w) throw new ModelError(`${model.source}: constant "${node.name}" has no weights in the manifest`);
      ctx.set(`${node.name}:0`, ConvertContext.constant(w.dtype, w.shape, w.data));
      continue;
    }
    if (node.op === 'Placeholder') {
      const shape = attr.shape(node, 'shape');
      if (!shape || shape.length === 0) throw new ModelError(`${model.source}: input "${node.name}" has no static rank`);
      const dtype = node.attr['dtype']?.type === 'DT_INT32' ? 'int32' : 'float32';
      // The batch dimension is always free, whatever the model was exported with.
      const logical = [-1, ...shape.slice(1)];
      const image = logical.length === 4;
      const physical = image ? NHWC_TO_NCHW.map((p) => logical[p]!) : logical;
      inputs.push({ name: node.name, elemType: dtypeCode(dtype), shape: physical.map((d, k) => (k === 0 ? 'batch' : d < 0 ? `${node.name}_dim${k}` : d)) });
      ctx.set(`${node.name}:0`, { onnx: node.name, dtype, shape: logical, layout: image ? 'nchw' : 'plain' });
      continue;
    }
    const handler = OP_TABLE[node.op];
    if (!handler) throw new UnsupportedOpError(node.op, node.name);
    let result: Value | Value[];
    try {
      result = handler(node, ctx);
    } catch (e) {
      if (e instanceof ModelError) throw e;
      throw new ModelError(`converting node "${node.name}" (${node.op}) failed: ${(e as Error).message}`, { cause: e });
    }
    (Array.isArray(result) ? result : [result]).forEach((v, k) => ctx.set(`${node.name}:${k}`, v));
  }

  const outputs: OnnxValueInfo[] = [];
  for (const out of model.outputs) {
    const [name, idx] = parseRef(out.ref);
    const v = ctx.plain(ctx.input({ name: out.name, op: 'output', inputs: [`${name}:${idx}`], attr: {} }, 0), out.name);
    // Graph outputs get their own names; an Identity decouples them from internal tensors.
    ctx.emitReserved('Identity', [ctx.name(v, `${out.name}/value`)], out.name);
    outputs.push({ name: out.name, elemType: dtypeCode(v.dtype), shape: v.shape.map((d, k) => (k === 0 && d === -1 ? 'batch' : d < 0 ? `${out.name}_dim${k}` : d)) });
  }

  const onnx: OnnxModel = {
    opset: ONNX_OPSET,
    producer: 'csm',
    producerVersion: CONVERTER_VERSION,
    docString: `Converted from TF.js graph model ${model.source}. Image inputs are NCHW.`,
    metadata: { source_format: 'tfjs-graph-model', input_layout: 'NCHW', ...options.metadata },
    graph: { name: options.name ?? 'model', nodes: ctx.nodes, initializers: ctx.initializers, inputs, outputs },
  };
  const dims = (v: OnnxValueInfo): number[] => v.shape.map((d) => (typeof d === 'number' ? d : -1));
  return { onnx, inputs: inputs.map((v) => ({ name: v.name, shape: dims(v) })), outputs: outputs.map((v) => ({ name: v.name, shape: dims(v) })) };
}

/** Nodes that the outputs depend on; the rest (training leftovers, unused heads) are skipped. */
function neededNodes(model: TfGraphModel): Set<string> {
  const byName = new Map(model.nodes.map((n) => [n.name, n]));
  const needed = new Set<string>();
  const stack = model.outputs.map((o) => parseRef(o.ref)[0]);
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    for (const i of byName.get(name)?.inputs ?? []) stack.push(parseRef(i)[0]);
  }
  return needed;
}

/** Reads model.json (+ shards) and writes the `.onnx` file (atomically: io/atomic.ts). */
export async function convertTfjsFile(modelJsonPath: string, outPath: string, options: ConvertOptions = {}): Promise<ConvertedModel> {
  const model = await loadTfjsGraphModel(modelJsonPath);
  const converted = convertTfjsGraph(model, options);
  await mkdir(dirname(outPath), { recursive: true });
  await writeFileAtomic(outPath, encodeModel(converted.onnx));
  return converted;
}
