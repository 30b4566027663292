/**
 * Plain occlusion in image space (no alignment, Zeiler & Fergus): the same patch, fill and engine
 * as CMS, slid over I on a regular grid, with each drop painted where the patch was. It is
 * Algorithm 1 with I itself as the "canonical" image, so it runs through the same engine code.
 */
import { CsmError } from '../../errors.js';
import type { EngineSession } from '../../engine/types.js';
import type { InputSpec } from '../../models/spec.js';
import { computeCis } from '../../saliency/loop.js';
import { buildPlan } from '../../saliency/plan.js';
import type { MethodInput, SaliencyMethod } from './base.js';

export class ImageOcclusion implements SaliencyMethod {
  readonly name = 'Occlusion';

  /** The patch and fill are those of each image's CMS plan, so the two differ only in alignment. */
  constructor(private readonly session: EngineSession, private readonly input: InputSpec, private readonly stride: number) {
    if (input.width !== input.height) throw new CsmError('image-space occlusion needs a square model input');
  }

  async heatmap(x: MethodInput): Promise<Float32Array> {
    const S = this.input.width;
    const points: number[] = [];
    for (let y = this.stride / 2; y < S; y += this.stride) for (let u = this.stride / 2; u < S; u += this.stride) points.push(u, y);
    const xy = Float32Array.from(points);
    const plan = buildPlan({ correspondence: { image: xy, canonical: xy, count: xy.length / 2, canonicalSize: S }, input: this.input, patch: x.plan.patch, fill: x.plan.fill, fillKind: x.plan.fillKind });
    return (await computeCis(this.session, { input: x.tensor, plan, score: x.explainScore })).map;
  }
}
