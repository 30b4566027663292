/**
 * Steps 2–3 of Algorithm 1 and its density normalisation, on the CPU: each plan point's signed
 * drop is added over its canonical square, each square adds 1 to the count, and P / N is taken
 * where N > 0. Points are added in plan order in float64, so the result is deterministic.
 */
import type { CisMap, OcclusionPlan } from './types.js';

export function accumulateCis(plan: OcclusionPlan, drops: Float32Array, baseline: number): CisMap {
  const size = plan.canonicalSize;
  const sum = new Float64Array(size * size);
  const count = new Uint32Array(size * size);
  for (let n = 0; n < plan.count; n++) {
    const s = drops[n]!;
    const [x0, y0, x1, y1] = plan.canonicalRects.subarray(4 * n, 4 * n + 4) as unknown as [number, number, number, number];
    for (let y = y0; y < y1; y++) {
      const row = y * size;
      for (let x = x0; x < x1; x++) {
        sum[row + x]! += s;
        count[row + x]!++;
      }
    }
  }
  const map = new Float32Array(size * size);
  for (let p = 0; p < map.length; p++) if (count[p]) map[p] = sum[p]! / count[p]!;
  return { size, map, count, baseline, drops };
}

/**
 * Reprojection onto the input image (Fig. 6 d): the canonical map sampled at each M_F[n] and
 * splatted over the point's input patch, with count normalisation. Returns a W_I × H_I map.
 */
export function reprojectToInput(map: Float32Array, plan: OcclusionPlan): { values: Float32Array; count: Uint32Array } {
  const { inputWidth: W, inputHeight: H, canonicalSize: F } = plan;
  const sum = new Float64Array(W * H);
  const count = new Uint32Array(W * H);
  const at = (x: number, y: number): number => map[Math.min(F - 1, Math.max(0, y)) * F + Math.min(F - 1, Math.max(0, x))]!;
  for (let n = 0; n < plan.count; n++) {
    // Bilinear sample at the canonical centre (pixel centres at +0.5).
    const u = plan.canonical[2 * n]! - 0.5;
    const v = plan.canonical[2 * n + 1]! - 0.5;
    const x0 = Math.floor(u);
    const y0 = Math.floor(v);
    const fx = u - x0;
    const fy = v - y0;
    const value = (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
    const [ix0, iy0, ix1, iy1] = plan.inputRects.subarray(4 * n, 4 * n + 4) as unknown as [number, number, number, number];
    for (let y = iy0; y < iy1; y++) for (let x = ix0; x < ix1; x++) { sum[y * W + x]! += value; count[y * W + x]!++; }
  }
  const values = new Float32Array(W * H);
  for (let p = 0; p < values.length; p++) if (count[p]) values[p] = sum[p]! / count[p]!;
  return { values, count };
}
