/**
 * The CPU twin of the `occlude` kernel: B copies of one input tensor, copy b with plan point
 * (first + b)'s rectangle set to the fill value in every channel.
 */
import type { OcclusionPlan } from '../../saliency/types.js';

export interface TensorLayout { layout: 'NCHW' | 'NHWC'; channels: number; width: number; height: number }

export function buildOccludedBatch(input: Float32Array, plan: OcclusionPlan, first: number, rows: number, t: TensorLayout, out: Float32Array): Float32Array {
  const per = input.length;
  const { channels: C, width: W, height: H } = t;
  for (let b = 0; b < rows; b++) {
    const base = b * per;
    out.set(input, base);
    const n = first + b;
    const [x0, y0, x1, y1] = plan.inputRects.subarray(4 * n, 4 * n + 4) as unknown as [number, number, number, number];
    for (let c = 0; c < C; c++) {
      const v = plan.fill[c]!;
      for (let y = y0; y < y1; y++) {
        if (t.layout === 'NCHW') out.fill(v, base + (c * H + y) * W + x0, base + (c * H + y) * W + x1);
        else for (let x = x0; x < x1; x++) out[base + (y * W + x) * C + c] = v;
      }
    }
  }
  return out.subarray(0, rows * per);
}
