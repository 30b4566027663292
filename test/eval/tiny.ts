/**
 * Tiny hand-built ONNX models for the evaluation tests: a 2×2 gray input x, two "feature map"
 * channels A_k = x ⊙ w_k, and two logits, [Σ x·u, 0], so every score can be worked out by hand.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuEngine } from '../../src/engine/cpu/engine.js';
import { encodeModel, parseSpec, resolveModel, type OnnxModel } from '../../src/index.js';

export const SIDE = 2;

/** `scale` sets the input normalisation (gray = 0.2989 R + 0.587 G + 0.114 B sums to 0.9999; 1 / 0.9999 undoes it). */
export function tinySpec(scale = 1) {
  return parseSpec({
    name: 'tiny-eval', task: 'other',
    input: { name: 'x', width: SIDE, height: SIDE, layout: 'NCHW', color: 'gray', normalise: { scale, offset: 0 } },
    heads: [{ name: 'logits', task: 'other', output: 'logits', confidence: 'logit', labels: ['yes', 'no'] }],
  }, 'test');
}

/** `channels[k]` is w_k (4 values, row-major); `u` weighs the pixels for logit 0 (logit 1 is 0). */
export function tinyModel(channels: number[][], u: number[]): OnnxModel {
  const f32 = (v: ArrayLike<number>): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
  const U = u.flatMap((v) => [v, 0]);
  return {
    opset: 13, producer: 'test', producerVersion: '0', metadata: {},
    graph: {
      name: 'tiny-eval',
      inputs: [{ name: 'x', elemType: 1, shape: ['batch', 1, SIDE, SIDE] }],
      outputs: [{ name: 'logits', elemType: 1, shape: ['batch', 2] }, { name: 'A', elemType: 1, shape: ['batch', channels.length, SIDE, SIDE] }],
      initializers: [
        { name: 'w', dataType: 1, dims: [1, channels.length, SIDE, SIDE], raw: f32(channels.flat()) },
        { name: 'U', dataType: 1, dims: [SIDE * SIDE, 2], raw: f32(U) },
      ],
      nodes: [
        { name: 'feature', opType: 'Mul', inputs: ['x', 'w'], outputs: ['A'], attributes: [] },
        { name: 'flat', opType: 'Flatten', inputs: ['x'], outputs: ['xf'], attributes: [{ name: 'axis', kind: 'int', value: 1 }] },
        { name: 'head', opType: 'MatMul', inputs: ['xf', 'U'], outputs: ['logits'], attributes: [] },
      ],
    },
  };
}

export async function openTiny(channels: number[][], u: number[], batch: number, scale = 1) {
  const path = join(mkdtempSync(join(tmpdir(), 'csm-eval-tiny-')), 'tiny.onnx');
  writeFileSync(path, encodeModel(tinyModel(channels, u)));
  const spec = tinySpec(scale);
  return { spec, session: await cpuEngine.open(await resolveModel(path, spec), { batch }) };
}
