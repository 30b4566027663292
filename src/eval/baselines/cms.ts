/**
 * Canonical maps reprojected onto each image through its correspondence (Fig. 6 d): the data set's
 * CMS (one map, or one per image, e.g. computed on the other folds so that no image is in its own
 * CMS), or the image's own CIS. The map is defined only where some patch reaches (on the face);
 * elsewhere it is left out of Eq. 10's normalisation.
 */
import { reprojectToInput } from '../../saliency/cis.js';
import type { MethodInput, SaliencyMethod } from './base.js';
import type { SupportedMap } from '../metrics.js';

/** A canonical map for each image: one map for all, or a look-up by file. */
export type CanonicalMapSource = Float32Array | ((file: string) => Float32Array | Promise<Float32Array>);

/** Reprojects a canonical map onto I, with the pixels some patch reaches as its support. */
export function reprojectWithSupport(map: Float32Array, plan: MethodInput['plan']): SupportedMap {
  const { values, count } = reprojectToInput(map, plan);
  return { values, support: Uint8Array.from(count, (c) => (c > 0 ? 1 : 0)) };
}

export class ReprojectedCms implements SaliencyMethod {
  constructor(private readonly cms: CanonicalMapSource, readonly name = 'CMS') {}

  async heatmap(x: MethodInput): Promise<SupportedMap> {
    const map = this.cms instanceof Float32Array ? this.cms : await this.cms(x.file);
    return reprojectWithSupport(map, x.plan);
  }
}
