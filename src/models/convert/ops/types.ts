import type { ConvertContext, Value } from '../context.js';
import type { TfNode } from '../tfjs-model.js';

/**
 * Converts one TF node. Returns its outputs in order (most ops have one). Handlers read constant
 * inputs (axes, shapes, paddings) at conversion time and emit ONNX nodes through the context.
 */
export type OpHandler = (node: TfNode, ctx: ConvertContext) => Value | Value[];

/** One table per op category; the converter merges them (see ops/index.ts). */
export type OpTable = Record<string, OpHandler>;
