/**
 * Plain TypeScript shapes of an ONNX model, and their encoding to / decoding from protobuf bytes.
 * The converter builds these objects; `encodeModel` turns them into a `.onnx` file.
 */
import { ModelProtoType, OnnxAttrType, OnnxDataType } from './schema.js';

/** One dimension: a fixed size, or a symbolic name (such as "batch") for a free dimension. */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  /** ONNX element type code (OnnxDataType). */
  elemType: number;
  /** Dimensions; an empty list is a scalar. Omitted in `encodeModel` when `unknownRank` is set. */
  shape: OnnxDim[];
  /** The rank is not declared (intermediate tensors exposed as outputs). */
  unknownRank?: boolean;
}

export interface OnnxInitializer {
  name: string;
  dataType: number;
  dims: number[];
  /** Little-endian raw bytes of the tensor. */
  raw: Uint8Array;
}

export type OnnxAttribute =
  | { name: string; kind: 'int'; value: number }
  | { name: string; kind: 'ints'; value: number[] }
  | { name: string; kind: 'float'; value: number }
  | { name: string; kind: 'floats'; value: number[] }
  | { name: string; kind: 'string'; value: string };

export interface OnnxNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  opset: number;
  producer: string;
  producerVersion: string;
  docString?: string;
  metadata: Record<string, string>;
}

/** IR version 8 is what opset 13..17 models carry; onnxruntime 1.x reads it. */
const IR_VERSION = 8;

function valueInfoToProto(v: OnnxValueInfo): object {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.elemType,
        ...(v.unknownRank ? {} : { shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } }),
      },
    },
  };
}

function attributeToProto(a: OnnxAttribute): object {
  switch (a.kind) {
    case 'int':
      return { name: a.name, type: OnnxAttrType.INT, i: a.value };
    case 'ints':
      return { name: a.name, type: OnnxAttrType.INTS, ints: a.value };
    case 'float':
      return { name: a.name, type: OnnxAttrType.FLOAT, f: a.value };
    case 'floats':
      return { name: a.name, type: OnnxAttrType.FLOATS, floats: a.value };
    case 'string':
      return { name: a.name, type: OnnxAttrType.STRING, s: new TextEncoder().encode(a.value) };
  }
}

/** Serialises a model to the bytes of a `.onnx` file. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const g = model.graph;
  const message = ModelProtoType.fromObject({
    irVersion: IR_VERSION,
    producerName: model.producer,
    producerVersion: model.producerVersion,
    docString: model.docString ?? '',
    opsetImport: [{ domain: '', version: model.opset }],
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        input: n.inputs,
        output: n.outputs,
        attribute: n.attributes.map(attributeToProto),
      })),
      initializer: g.initializers.map((t) => ({ name: t.name, dataType: t.dataType, dims: t.dims, rawData: t.raw })),
      input: g.inputs.map(valueInfoToProto),
      output: g.outputs.map(valueInfoToProto),
    },
  });
  return ModelProtoType.encode(message).finish();
}

interface ProtoDim { dimValue?: number; dimParam?: string }
interface ProtoValueInfo { name: string; type?: { tensorType?: { elemType?: number; shape?: { dim?: ProtoDim[] } } } }
interface ProtoTensor { name: string; dataType: number; dims?: number[]; rawData?: Uint8Array; floatData?: number[]; int32Data?: number[]; int64Data?: number[] }
interface ProtoAttr { name: string; type?: number; i?: number; f?: number; s?: Uint8Array; ints?: number[]; floats?: number[] }
interface ProtoNode { name?: string; opType: string; input?: string[]; output?: string[]; attribute?: ProtoAttr[] }
interface ProtoModel {
  producerName?: string; producerVersion?: string; docString?: string;
  opsetImport?: { domain?: string; version: number }[];
  metadataProps?: { key: string; value: string }[];
  graph: { name?: string; node?: ProtoNode[]; initializer?: ProtoTensor[]; input?: ProtoValueInfo[]; output?: ProtoValueInfo[] };
}

function valueInfoFromProto(v: ProtoValueInfo): OnnxValueInfo {
  const t = v.type?.tensorType;
  return {
    name: v.name,
    elemType: t?.elemType ?? 0,
    shape: (t?.shape?.dim ?? []).map((d) => (d.dimParam !== undefined && d.dimParam !== '' ? d.dimParam : d.dimValue ?? '?')),
    // No shape field is an undeclared rank (not a scalar): kept so that re-encoding does not declare one.
    ...(t && t.shape === undefined ? { unknownRank: true } : {}),
  };
}

function tensorRaw(t: ProtoTensor): Uint8Array {
  if (t.rawData && t.rawData.length > 0) return t.rawData;
  if (t.floatData && t.floatData.length > 0) return new Uint8Array(new Float32Array(t.floatData).buffer);
  if (t.int32Data && t.int32Data.length > 0) return new Uint8Array(new Int32Array(t.int32Data).buffer);
  if (t.int64Data && t.int64Data.length > 0) return new Uint8Array(new BigInt64Array(t.int64Data.map((x) => BigInt(x))).buffer);
  return new Uint8Array(0);
}

function attributeFromProto(a: ProtoAttr): OnnxAttribute {
  switch (a.type) {
    case OnnxAttrType.INT: return { name: a.name, kind: 'int', value: a.i ?? 0 };
    case OnnxAttrType.INTS: return { name: a.name, kind: 'ints', value: a.ints ?? [] };
    case OnnxAttrType.FLOAT: return { name: a.name, kind: 'float', value: a.f ?? 0 };
    case OnnxAttrType.FLOATS: return { name: a.name, kind: 'floats', value: a.floats ?? [] };
    default: return { name: a.name, kind: 'string', value: new TextDecoder().decode(a.s ?? new Uint8Array(0)) };
  }
}

/**
 * Parses `.onnx` bytes into the same plain shape that `encodeModel` takes. Attributes of types
 * csm does not model (graphs, tensors) come back as strings; that is enough for inspection and
 * for rewriting initializers.
 */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const message = ModelProtoType.decode(bytes);
  const m = ModelProtoType.toObject(message, { longs: Number, bytes: Uint8Array as unknown as typeof String, defaults: false, arrays: true }) as unknown as ProtoModel;
  const g = m.graph;
  const inits = g.initializer ?? [];
  const initNames = new Set(inits.map((t) => t.name));
  return {
    opset: (m.opsetImport ?? []).find((o) => !o.domain)?.version ?? 0,
    producer: m.producerName ?? '',
    producerVersion: m.producerVersion ?? '',
    docString: m.docString,
    metadata: Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key, p.value])),
    graph: {
      name: g.name ?? '',
      nodes: (g.node ?? []).map((n) => ({
        name: n.name ?? '', opType: n.opType, inputs: n.input ?? [], outputs: n.output ?? [],
        attributes: (n.attribute ?? []).map(attributeFromProto),
      })),
      initializers: inits.map((t) => ({ name: t.name, dataType: t.dataType, dims: t.dims ?? [], raw: tensorRaw(t) })),
      // Old exporters list initializers among the inputs too; the model's real inputs are the rest.
      inputs: (g.input ?? []).filter((v) => !initNames.has(v.name)).map(valueInfoFromProto),
      outputs: (g.output ?? []).map(valueInfoFromProto),
    },
  };
}

export { OnnxDataType };
