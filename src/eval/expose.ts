/**
 * Intermediate tensors as extra model outputs: Score-CAM (and Grad-CAM's activations) read the
 * chosen layer's activations, which ONNX Runtime returns only for graph outputs. The rewritten
 * model is written next to the converted one in the cache, never over it.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { CsmError } from '../errors.js';
import { cacheDir } from '../models/cache.js';
import { decodeModel, encodeModel, type OnnxModel } from '../models/onnx/model.js';
import { OnnxDataType } from '../models/onnx/schema.js';

/** The model with `names` added to its outputs (element type float, rank left undeclared). */
export function withOutputs(model: OnnxModel, names: string[]): OnnxModel {
  const produced = new Set(model.graph.nodes.flatMap((n) => n.outputs));
  for (const n of names) if (!produced.has(n)) throw new CsmError(`the model has no tensor "${n}" to expose`);
  const have = new Set(model.graph.outputs.map((o) => o.name));
  return { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...names.filter((n) => !have.has(n)).map((name) => ({ name, elemType: OnnxDataType.FLOAT, shape: [], unknownRank: true }))] } };
}

/** Writes (once) the model with the extra outputs and returns its path. */
export async function exposeTensors(modelPath: string, names: string[]): Promise<string> {
  const bytes = await readFile(modelPath);
  const key = createHash('sha256').update('exposed-v2').update(bytes).update(names.join('\n')).digest('hex').slice(0, 12);
  const out = join(cacheDir(), 'exposed', `${basename(modelPath, '.onnx')}-${key}.onnx`);
  if (!existsSync(out)) {
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, encodeModel(withOutputs(decodeModel(bytes), names)));
  }
  return out;
}

/**
 * The default CAM layer: the last rank-4 tensor with at least 2×2 spatial positions (the last
 * convolutional feature map before global pooling), found by one run with every node output
 * exposed on the given input. Returns its name and NCHW shape.
 */
export async function findCamLayer(modelPath: string, inputName: string, input: ort.Tensor): Promise<{ name: string; dims: number[] }> {
  const model = decodeModel(await readFile(modelPath));
  const candidates = model.graph.nodes.flatMap((n) => n.outputs);
  const path = await exposeTensors(modelPath, candidates.filter((n) => !model.graph.outputs.some((o) => o.name === n)));
  const session = await ort.InferenceSession.create(path);
  try {
    const result = await session.run({ [inputName]: input });
    let best: { name: string; dims: number[] } | undefined;
    for (const name of candidates) {
      const t = result[name];
      if (t && t.dims.length === 4 && t.dims[2]! >= 2 && t.dims[3]! >= 2) best = { name, dims: [...t.dims] };
    }
    if (!best) throw new CsmError(`"${modelPath}" has no 4-D feature map with 2×2 or more positions to explain with a CAM`);
    return best;
  } finally {
    await session.release();
  }
}
