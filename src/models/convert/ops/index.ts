/**
 * Every TF op the converter knows, as data: one table per category. To add an op, write its
 * handler in the category's file and it is picked up here; `SUPPORTED_OPS` lists them for docs
 * and error messages.
 */
import { ACTIVATION_OPS } from './activation.js';
import { BINARY_OPS } from './binary.js';
import { CONV_OPS } from './conv.js';
import { MATMUL_OPS } from './matmul.js';
import { REDUCE_OPS } from './reduce.js';
import { SHAPE_OPS } from './shape.js';
import type { OpTable } from './types.js';

export const OP_TABLE: OpTable = { ...ACTIVATION_OPS, ...BINARY_OPS, ...CONV_OPS, ...MATMUL_OPS, ...REDUCE_OPS, ...SHAPE_OPS };

export const SUPPORTED_OPS: string[] = ['Const', 'Placeholder', ...Object.keys(OP_TABLE)].sort();
