/**
 * Resolving a model (zoo name, or a user's ONNX file with its spec): the file, its spec checked
 * against its signature. Opening it is an engine's job (engine/registry.ts openEngine).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ModelError, SpecError } from '../errors.js';
import { ensureZooModel } from './cache.js';
import { decodeModel } from './onnx/model.js';
import { checkSpecAgainstModel, parseSpec, type ModelSignature, type ModelSpec } from './spec.js';
import { zooEntry } from './zoo.js';

export interface ResolvedModel {
  spec: ModelSpec;
  /** The ONNX file. */
  path: string;
  signature: ModelSignature;
}

/** Inputs and outputs (names and shapes) declared by an ONNX file. */
export async function readSignature(path: string): Promise<ModelSignature> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ModelError(`cannot read model "${path}": ${(e as Error).message}`, { cause: e });
  }
  try {
    const { graph } = decodeModel(bytes);
    return { inputs: graph.inputs.map((v) => ({ name: v.name, shape: v.shape })), outputs: graph.outputs.map((v) => ({ name: v.name, shape: v.shape })) };
  } catch (e) {
    throw new ModelError(`"${path}" is not a readable ONNX model: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads and validates a spec JSON file. */
export async function readSpecFile(path: string): Promise<ModelSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new SpecError(`cannot read model spec "${path}": ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SpecError(`model spec "${path}" is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  return parseSpec(json, `"${path}"`);
}

/**
 * A zoo name ("emotion") or the path of an ONNX file. A file needs a spec; a zoo model may take
 * one to override its own. Either way the spec is checked against the file's signature.
 */
export async function resolveModel(model: string, spec?: ModelSpec): Promise<ResolvedModel> {
  const entry = zooEntry(model);
  let path: string;
  if (entry && !existsSync(model)) {
    path = (await ensureZooModel(model)).path;
    spec ??= entry.spec;
  } else {
    if (!existsSync(model)) throw new ModelError(`model "${model}" is neither a zoo model nor an existing file`);
    if (!spec) throw new SpecError(`model file "${model}" needs a spec: pass --spec FILE.json (or the --input-* and --head flags)`);
    path = model;
  }
  const signature = await readSignature(path);
  checkSpecAgainstModel(spec, signature, `"${path}"`);
  return { spec, path, signature };
}
