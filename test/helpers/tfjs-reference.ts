/**
 * The reference the converter is held to: the original TF.js graph model run by TF.js itself
 * (tfjs-core + tfjs-converter on the wasm backend; the cpu backend where wasm cannot start).
 * Test-only: TF.js is a devDependency.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';

let ready: Promise<string> | undefined;

/** Starts the wasm backend once; returns the backend name in use. */
export function tfReady(): Promise<string> {
  ready ??= (async () => {
    const require = createRequire(import.meta.url);
    setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
    try {
      if (await tf.setBackend('wasm')) { await tf.ready(); return 'wasm'; }
    } catch { /* fall through to cpu */ }
    await tf.setBackend('cpu');
    await tf.ready();
    return 'cpu';
  })();
  return ready;
}

/** Loads model.json + shards through a file IOHandler (tfjs's own file:// loader needs fetch). */
export async function loadTfjsReference(modelJsonPath: string): Promise<GraphModel> {
  await tfReady();
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8'));
  const shards: Buffer[] = [];
  const specs: unknown[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) shards.push(await readFile(join(dirname(modelJsonPath), p)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return loadGraphModel({
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: specs as never,
      weightData,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
    }),
  });
}

/** Runs the model on an NHWC batch; returns each output's data keyed by the output node name. */
export async function runTfjs(model: GraphModel, nhwc: Float32Array, shape: number[], outputNodes: string[]): Promise<Float32Array[]> {
  const input = tf.tensor(nhwc, shape, 'float32');
  const res = model.execute(input, outputNodes) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(res) ? res : [res];
  const out = await Promise.all(list.map(async (t) => new Float32Array(await t.data())));
  input.dispose();
  list.forEach((t) => t.dispose());
  return out;
}

/** Like `runTfjs`, but also returns each output's shape (so that axis-order mistakes show). */
export async function runTfjsShaped(model: GraphModel, nhwc: Float32Array, shape: number[], outputNodes: string[]): Promise<{ data: Float32Array; shape: number[] }[]> {
  const input = tf.tensor(nhwc, shape, 'float32');
  const res = model.execute(input, outputNodes) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(res) ? res : [res];
  const out = await Promise.all(list.map(async (t) => ({ data: Float32Array.from(await t.data() as ArrayLike<number>), shape: [...t.shape] })));
  input.dispose();
  list.forEach((t) => t.dispose());
  return out;
}

/**
 * Runs `fn` with TF.js on another backend (models loaded inside it keep their weights there),
 * then restores the previous one. For cases where the wasm backend itself is wrong.
 */
export async function withTfBackend<T>(backend: 'cpu' | 'wasm', fn: () => Promise<T>): Promise<T> {
  await tfReady();
  const previous = tf.getBackend();
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend "${backend}" cannot start`);
  try {
    return await fn();
  } finally {
    await tf.setBackend(previous);
  }
}
