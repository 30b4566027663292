/** The CMS of the data set, reprojected onto each image through its correspondence (Fig. 6 d). */
import { reprojectToInput } from '../../saliency/cis.js';
import type { MethodInput, SaliencyMethod } from './base.js';

export class ReprojectedCms implements SaliencyMethod {
  readonly name = 'CMS';

  constructor(private readonly cms: Float32Array) {}

  async heatmap(x: MethodInput): Promise<Float32Array> {
    return reprojectToInput(this.cms, x.plan).values;
  }
}
