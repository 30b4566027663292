/**
 * Averages faces in canonical space: each face is warped onto the canonical frame and the warped
 * pixels are summed with a per-pixel count, so a pixel's mean uses only the faces that cover it.
 * This is how csm's canonical face image F is made, and a direct check of alignment quality: a
 * well-aligned average is a sharp face, a poorly aligned one a blur.
 */
import type { RgbImage } from '../image/index.js';
import { triangleRaster } from './correspondence.js';
import type { CanonicalFrame } from './types.js';
import { warpToCanonicalMasked } from './warp.js';

export class CanonicalAverage {
  readonly sum: Float64Array;
  readonly count: Uint32Array;
  private readonly raster: Int32Array;
  faces = 0;

  constructor(readonly frame: CanonicalFrame) {
    this.sum = new Float64Array(3 * frame.size * frame.size);
    this.count = new Uint32Array(frame.size * frame.size);
    this.raster = triangleRaster(frame);
  }

  /** Adds one face given its mesh's x, y in the photo's pixels. */
  add(photo: RgbImage, meshXY: Float32Array): RgbImage {
    const { image, mask } = warpToCanonicalMasked(photo, meshXY, this.frame, this.raster);
    const plane = this.count.length;
    for (let p = 0; p < plane; p++) {
      if (!mask[p]) continue;
      this.count[p]!++;
      for (let c = 0; c < 3; c++) this.sum[c * plane + p]! += image.data[c * plane + p]!;
    }
    this.faces++;
    return image;
  }

  /** The mean face (0 where no face covered a pixel). */
  mean(): RgbImage {
    const size = this.frame.size;
    const plane = size * size;
    const data = new Float32Array(3 * plane);
    for (let p = 0; p < plane; p++) {
      const n = this.count[p]!;
      if (n) for (let c = 0; c < 3; c++) data[c * plane + p] = this.sum[c * plane + p]! / n;
    }
    return { width: size, height: size, data };
  }
}

/**
 * Mean gradient magnitude of the luminance over pixels where `mask` is set: a sharpness figure.
 * Averaging misaligned faces cancels edges, so an average's figure falls far below its faces'.
 */
export function edgeEnergy(img: RgbImage, mask: Uint8Array): number {
  const { width: W, height: H } = img;
  const plane = W * H;
  const lum = (p: number): number => 0.299 * img.data[p]! + 0.587 * img.data[plane + p]! + 0.114 * img.data[2 * plane + p]!;
  let sum = 0;
  let n = 0;
  for (let y = 1; y < H - 1; y++) {
    for (let x = 1; x < W - 1; x++) {
      const p = y * W + x;
      if (!mask[p] || !mask[p - 1] || !mask[p + 1] || !mask[p - W] || !mask[p + W]) continue;
      sum += Math.hypot(lum(p + 1) - lum(p - 1), lum(p + W) - lum(p - W)) / 2;
      n++;
    }
  }
  return n ? sum / n : 0;
}
