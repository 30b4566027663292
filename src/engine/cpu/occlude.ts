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

/** Writes `value` (or, if `from` is given, the input's values) over one rectangle of one copy. */
function paintRect(out: Float32Array, base: number, rect: ArrayLike<number>, t: TensorLayout, fill: Float32Array, from?: Float32Array): void {
  const { channels: C, width: W, height: H } = t;
  const [x0, y0, x1, y1] = [rect[0]!, rect[1]!, rect[2]!, rect[3]!];
  for (let c = 0; c < C; c++) {
    for (let y = y0; y < y1; y++) {
      if (t.layout === 'NCHW') {
        const row = (c * H + y) * W;
        if (from) out.set(from.subarray(row + x0, row + x1), base + row + x0);
        else out.fill(fill[c]!, base + row + x0, base + row + x1);
      } else {
        for (let x = x0; x < x1; x++) {
          const k = (y * W + x) * C + c;
          out[base + k] = from ? from[k]! : fill[c]!;
        }
      }
    }
  }
}

/**
 * buildOccludedBatch without the full copies: a batch buffer keeps B copies of the input, and each
 * new batch only restores the rectangles the previous use of the buffer painted and paints its
 * own. Same bytes as buildOccludedBatch, at the cost of the patches instead of the whole tensors.
 */
export class OccludedBatchBuffer {
  readonly data: Float32Array;
  private readonly painted: number[] = [];

  constructor(private readonly input: Float32Array, private readonly plan: OcclusionPlan, capacity: number, private readonly t: TensorLayout) {
    this.data = new Float32Array(capacity * input.length);
    for (let b = 0; b < capacity; b++) this.data.set(input, b * input.length);
  }

  fill(first: number, rows: number): Float32Array {
    const per = this.input.length;
    for (let b = 0; b < rows; b++) {
      const previous = this.painted[b];
      if (previous !== undefined) paintRect(this.data, b * per, this.plan.inputRects.subarray(4 * previous, 4 * previous + 4), this.t, this.plan.fill, this.input);
      paintRect(this.data, b * per, this.plan.inputRects.subarray(4 * (first + b), 4 * (first + b) + 4), this.t, this.plan.fill);
      this.painted[b] = first + b;
    }
    return this.data.subarray(0, rows * per);
  }
}
