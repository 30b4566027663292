/**
 * Intermediate tensors as extra model outputs: Score-CAM and Grad-CAM read the chosen layer's
 * activations (and Grad-CAM every tensor after it), which a runtime returns only for graph outputs.
 * Engines return flat Float32Arrays, so a tensor's shape is exposed beside it, as its own output:
 * `Shape` then `Cast` to float (dims are small whole numbers, exact in float32). The rewritten
 * model is written next to the converted one in the cache, never over it, and run on whatever
 * engine the caller opens it with.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { createHash } from 'node:crypto';
import type { EngineSession } from '../engine/types.js';
import { CsmError } from '../errors.js';
import { cacheDir } from '../models/cache.js';
import type { ResolvedModel } from '../models/load.js';
import { decodeModel, encodeModel, type OnnxModel } from '../models/onnx/model.js';
import { OnnxDataType } from '../models/onnx/schema.js';
import type { ModelOpener } from '../engine/types.js';

/** A tensor's value with its shape, as read back from an engine. */
export interface ShapedTensor { dims: number[]; data: Float32Array }

/** The CAM layer: a rank-4 feature map, NCHW with batch 1. */
export interface CamLayer { name: string; dims: number[] }

/** The output name under which `withOutputs(…, { shapes: true })` exposes the shape of `name`. */
export const shapeOutputName = (name: string): string => `csm_shape::${name}`;

/**
 * The model with `names` added to its outputs (element type float, rank left undeclared), and
 * with `shapes`, each one's shape as a float vector named `shapeOutputName(name)`.
 */
export function withOutputs(model: OnnxModel, names: string[], options: { tensors?: boolean; shapes?: boolean } = {}): OnnxModel {
  const tensors = options.tensors ?? true;
  const produced = new Set(model.graph.nodes.flatMap((n) => n.outputs));
  for (const n of names) if (!produced.has(n)) throw new CsmError(`the model has no tensor "${n}" to expose`);
  const have = new Set(model.graph.outputs.map((o) => o.name));
  const float = (name: string) => ({ name, elemType: OnnxDataType.FLOAT, shape: [], unknownRank: true });
  const outputs = [...model.graph.outputs, ...(tensors ? names.filter((n) => !have.has(n)).map(float) : [])];
  const nodes = [...model.graph.nodes];
  if (options.shapes) {
    for (const n of new Set(names)) {
      const shape = shapeOutputName(n);
      if (produced.has(shape) || produced.has(`${shape}:int`)) throw new CsmError(`the model already has a tensor named "${shape}"`);
      nodes.push({ name: `${shape}:int`, opType: 'Shape', inputs: [n], outputs: [`${shape}:int`], attributes: [] });
      nodes.push({ name: shape, opType: 'Cast', inputs: [`${shape}:int`], outputs: [shape], attributes: [{ name: 'to', kind: 'int', value: OnnxDataType.FLOAT }] });
      outputs.push(float(shape));
    }
  }
  return { ...model, graph: { ...model.graph, nodes, outputs } };
}

/** Writes (once) the model with the extra outputs (and with `shapes`, their shapes) and returns its path. */
export async function exposeTensors(modelPath: string, names: string[], options: { tensors?: boolean; shapes?: boolean } = {}): Promise<string> {
  const bytes = await readFile(modelPath);
  const tensors = options.tensors ?? true;
  const variant = options.shapes ? `exposed-shapes-v1${tensors ? '' : '-only'}` : 'exposed-v2';
  const key = createHash('sha256').update(variant).update(bytes).update(names.join('\n')).digest('hex').slice(0, 12);
  const out = join(cacheDir(), 'exposed', `${basename(modelPath, '.onnx')}-${key}.onnx`);
  if (!existsSync(out)) {
    await mkdir(dirname(out), { recursive: true });
    // Write then rename, so that a killed process never leaves a truncated model in the cache.
    const tmp = `${out}.${process.pid}.tmp`;
    await writeFile(tmp, encodeModel(withOutputs(decodeModel(bytes), names, options)));
    await rename(tmp, out);
  }
  return out;
}

/**
 * One forward pass of `input` (one image) on a session opened on a model exposed with shapes:
 * every named tensor with its dims.
 */
export async function inferShaped(session: EngineSession, input: Float32Array, names: string[]): Promise<Map<string, ShapedTensor>> {
  const result = await session.infer(input, 1, [...names, ...names.map(shapeOutputName)]);
  const out = new Map<string, ShapedTensor>();
  for (const name of names) {
    const data = result[name]!;
    const dims = Array.from(result[shapeOutputName(name)]!);
    if (dims.reduce((a, b) => a * b, 1) !== data.length) throw new CsmError(`tensor "${name}" holds ${data.length} values, not the ${dims.join('×')} of its shape`);
    out.set(name, { dims, data });
  }
  return out;
}

/** The shapes of `names` on one input, by one forward pass on the engine (only the shapes come back). */
export async function tensorShapes(model: ResolvedModel, open: ModelOpener, input: Float32Array, names: string[]): Promise<Map<string, number[]>> {
  const path = await exposeTensors(model.path, names, { tensors: false, shapes: true });
  const session = await open({ ...model, path }, { batch: 1 });
  try {
    const result = await session.infer(input, 1, names.map(shapeOutputName));
    return new Map(names.map((n) => [n, Array.from(result[shapeOutputName(n)]!)]));
  } finally {
    await session.dispose();
  }
}

/**
 * The CAM layer. Without `name`, the default: the last rank-4 tensor with at least 2×2 spatial
 * positions (the last convolutional feature map before global pooling), found by one pass on the
 * engine with every node output's shape exposed. With `name`, that tensor, which must be 4-D.
 * `input` is one image as the model's tensor.
 */
export async function findCamLayer(model: ResolvedModel, open: ModelOpener, input: Float32Array, name?: string): Promise<CamLayer> {
  if (name !== undefined) {
    const dims = (await tensorShapes(model, open, input, [name])).get(name)!;
    if (dims.length !== 4) throw new CsmError(`CAM layer "${name}" has shape [${dims}]; a CAM needs a 4-D feature map`);
    return { name, dims };
  }
  const onnx = decodeModel(await readFile(model.path));
  const candidates = [...new Set(onnx.graph.nodes.flatMap((n) => n.outputs).filter((n) => n !== ''))];
  const shapes = await tensorShapes(model, open, input, candidates);
  let best: CamLayer | undefined;
  for (const c of candidates) {
    const dims = shapes.get(c)!;
    if (dims.length === 4 && dims[2]! >= 2 && dims[3]! >= 2) best = { name: c, dims };
  }
  if (!best) throw new CsmError(`"${model.path}" has no 4-D feature map with 2×2 or more positions to explain with a CAM`);
  return best;
}
