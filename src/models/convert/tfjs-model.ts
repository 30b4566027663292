/**
 * Reading a TF.js graph model (model.json + binary weight shards) into plain data: the node list
 * and every weight decoded to float32 / int32, with TF.js weight quantization undone.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ModelError } from '../../errors.js';

/** An attribute as TF.js stores it in model.json (a JSON form of tensorflow.AttrValue). */
export interface TfAttrValue {
  s?: string; i?: string | number; f?: number; b?: boolean; type?: string;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: string[] };
  shape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
  tensor?: unknown;
}

export interface TfNode {
  name: string;
  op: string;
  /** Data inputs as "node" or "node:k"; control inputs ("^node") are dropped on load. */
  inputs: string[];
  attr: Record<string, TfAttrValue>;
}

export type TfDType = 'float32' | 'int32' | 'bool';

export interface TfWeight {
  name: string;
  dtype: TfDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface TfGraphModel {
  /** Where it came from, for error messages. */
  source: string;
  nodes: TfNode[];
  weights: Map<string, TfWeight>;
  /** Output tensor refs ("node:k") with a display name each, from the signature when present. */
  outputs: { name: string; ref: string }[];
  /** Input placeholder node names from the signature (or all Placeholders). */
  inputs: string[];
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; scale?: number; min?: number; original_dtype?: string };
}

interface ModelJson {
  format?: string;
  modelTopology?: { node?: { name: string; op: string; input?: string[]; attr?: Record<string, TfAttrValue> }[]; library?: { function?: unknown[] } };
  weightsManifest?: { paths: string[]; weights: ManifestEntry[] }[];
  signature?: { inputs?: Record<string, { name?: string }>; outputs?: Record<string, { name?: string }> };
}

/** IEEE 754 half → single precision, exact for every half value (subnormals, inf, NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function bytesPerStoredElement(e: ManifestEntry): number {
  if (e.quantization) return e.quantization.dtype === 'uint8' ? 1 : 2;
  if (e.dtype === 'float32' || e.dtype === 'int32') return 4;
  if (e.dtype === 'bool') return 1;
  throw new ModelError(`weight "${e.name}" has dtype "${e.dtype}", which csm cannot read`);
}

function decodeWeight(e: ManifestEntry, bytes: Uint8Array): TfWeight {
  const count = e.shape.reduce((a, b) => a * b, 1);
  const dtype: TfDType = e.dtype === 'int32' ? 'int32' : e.dtype === 'bool' ? 'bool' : 'float32';
  // Copy into an aligned buffer: shard offsets are not guaranteed to be multiples of 4.
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  const q = e.quantization;
  if (!q) {
    if (dtype === 'bool') return { name: e.name, dtype, shape: e.shape, data: Int32Array.from(aligned) };
    const data = dtype === 'int32' ? new Int32Array(aligned.buffer, 0, count) : new Float32Array(aligned.buffer, 0, count);
    return { name: e.name, dtype, shape: e.shape, data };
  }
  const out = dtype === 'int32' ? new Int32Array(count) : new Float32Array(count);
  if (q.dtype === 'float16') {
    const halves = new Uint16Array(aligned.buffer, 0, count);
    for (let k = 0; k < count; k++) out[k] = halfToFloat(halves[k]!);
  } else {
    // Affine quantization: value = q * scale + min (TF.js's uint8 / uint16 weight compression).
    // Like TF.js, int32 weights round to the nearest integer (an Int32Array store would truncate).
    const stored = q.dtype === 'uint8' ? aligned : new Uint16Array(aligned.buffer, 0, count);
    const scale = q.scale ?? 1;
    const min = q.min ?? 0;
    const toInt = dtype === 'int32';
    for (let k = 0; k < count; k++) out[k] = toInt ? Math.round(stored[k]! * scale + min) : stored[k]! * scale + min;
  }
  return { name: e.name, dtype, shape: e.shape, data: out };
}

/** Splits "node:1" into ["node", 1]; a bare name is output 0. */
export function parseRef(ref: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(ref);
  return m ? [m[1]!, Number(m[2])] : [ref, 0];
}

/** Reads the weight shards of manifest groups (paths relative to `dir`) and decodes every weight. */
async function readWeightGroups(groups: { paths: string[]; weights: ManifestEntry[] }[], dir: string, source: string): Promise<Map<string, TfWeight>> {
  const weights = new Map<string, TfWeight>();
  for (const group of groups) {
    const shards = await Promise.all(group.paths.map(async (p) => {
      try {
        return await readFile(join(dir, p));
      } catch (e) {
        throw new ModelError(`weight shard "${p}" of "${source}" cannot be read: ${(e as Error).message}`, { cause: e });
      }
    }));
    const all = Buffer.concat(shards);
    let offset = 0;
    for (const entry of group.weights) {
      const size = entry.shape.reduce((a, b) => a * b, 1) * bytesPerStoredElement(entry);
      if (offset + size > all.length) {
        throw new ModelError(`weight shards of "${source}" are truncated: "${entry.name}" needs bytes ${offset}..${offset + size}, shards hold ${all.length}`);
      }
      weights.set(entry.name, decodeWeight(entry, all.subarray(offset, offset + size)));
      offset += size;
    }
  }
  return weights;
}

/**
 * Loads a weights-only TF.js manifest (a JSON array of groups, as face-api ships its models: the
 * architecture lives in code) and its shards. Quantized weights are expanded to float32.
 */
export async function loadTfjsWeights(manifestPath: string): Promise<Map<string, TfWeight>> {
  let groups: unknown;
  try {
    groups = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (e) {
    throw new ModelError(`cannot read weights manifest "${manifestPath}": ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(groups)) throw new ModelError(`"${manifestPath}" is not a weights manifest (a JSON array of {paths, weights})`);
  return readWeightGroups(groups as { paths: string[]; weights: ManifestEntry[] }[], dirname(manifestPath), manifestPath);
}

/** Loads model.json and its shards from disk. Nothing is fetched from the network. */
export async function loadTfjsGraphModel(modelJsonPath: string): Promise<TfGraphModel> {
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJson;
  } catch (e) {
    throw new ModelError(`cannot read TF.js model "${modelJsonPath}": ${(e as Error).message}`, { cause: e });
  }
  const topology = json.modelTopology;
  if (!topology?.node || !json.weightsManifest) {
    throw new ModelError(`"${modelJsonPath}" is not a TF.js graph model (no modelTopology.node or weightsManifest; layers models are not supported)`);
  }
  if (topology.library?.function && topology.library.function.length > 0) {
    throw new ModelError(`"${modelJsonPath}" uses control-flow functions, which the converter does not support`);
  }
  const weights = await readWeightGroups(json.weightsManifest, dirname(modelJsonPath), modelJsonPath);
  const nodes: TfNode[] = topology.node.map((n) => ({
    name: n.name,
    op: n.op,
    inputs: (n.input ?? []).filter((i) => !i.startsWith('^')),
    attr: n.attr ?? {},
  }));
  const byName = new Set(nodes.map((n) => n.name));
  const sigOutputs = Object.entries(json.signature?.outputs ?? {})
    .map(([key, v]) => ({ key, ref: v.name ?? key }))
    .filter((o) => byName.has(parseRef(o.ref)[0]));
  let outputs: { name: string; ref: string }[];
  if (sigOutputs.length > 0) {
    // Prefer the signature key when it is a readable name ("output_mesh"), else the node name.
    outputs = sigOutputs.map((o) => ({ name: /:\d+$/.test(o.key) ? parseRef(o.ref)[0] : o.key, ref: o.ref }));
  } else {
    const consumed = new Set(nodes.flatMap((n) => n.inputs.map((i) => parseRef(i)[0])));
    outputs = nodes.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp').map((n) => ({ name: n.name, ref: n.name }));
  }
  const sigInputs = Object.values(json.signature?.inputs ?? {}).map((v) => parseRef(v.name ?? '')[0]).filter((n) => byName.has(n));
  const inputs = sigInputs.length > 0 ? sigInputs : nodes.filter((n) => n.op === 'Placeholder').map((n) => n.name);
  return { source: modelJsonPath, nodes, weights, outputs, inputs };
}

// Attribute accessors: TF.js writes int64 as strings and strings as base64.
export const attr = {
  int(node: TfNode, key: string, fallback?: number): number {
    const v = node.attr[key]?.i;
    if (v === undefined) {
      if (fallback === undefined) throw new ModelError(`node "${node.name}" (${node.op}) lacks attribute "${key}"`);
      return fallback;
    }
    return Number(v);
  },
  float(node: TfNode, key: string, fallback: number): number {
    return node.attr[key]?.f ?? fallback;
  },
  bool(node: TfNode, key: string, fallback: boolean): boolean {
    return node.attr[key]?.b ?? fallback;
  },
  string(node: TfNode, key: string, fallback?: string): string {
    const v = node.attr[key]?.s;
    if (v === undefined) {
      if (fallback === undefined) throw new ModelError(`node "${node.name}" (${node.op}) lacks attribute "${key}"`);
      return fallback;
    }
    return Buffer.from(v, 'base64').toString('utf8');
  },
  ints(node: TfNode, key: string, fallback?: number[]): number[] {
    const v = node.attr[key]?.list?.i;
    if (v === undefined) {
      if (fallback === undefined) throw new ModelError(`node "${node.name}" (${node.op}) lacks attribute "${key}"`);
      return fallback;
    }
    return v.map(Number);
  },
  strings(node: TfNode, key: string): string[] {
    return (node.attr[key]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
  },
  shape(node: TfNode, key: string): number[] | undefined {
    const s = node.attr[key]?.shape;
    if (!s || s.unknownRank) return undefined;
    return (s.dim ?? []).map((d) => Number(d.size ?? -1));
  },
};
