import type { Box, RgbImage } from './types.js';

/**
 * Where each output sample along one axis reads from: the two neighbouring source indices, the
 * weight of the second one, and whether the sample lies on the image at all.
 */
interface AxisTaps {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float32Array;
  inside: Uint8Array;
}

/**
 * Map `outLen` output samples onto the source segment [start, start+extent) of an axis of length
 * `srcLen`, with half-pixel centres: src = start + (dst + 0.5) * extent / outLen - 0.5.
 *
 * A sample counts as on the image when it falls inside the area covered by the source pixels,
 * [-0.5, srcLen - 0.5); there it is clamped to the edge pixels exactly as TF's resizeBilinear with
 * halfPixelCenters does. Samples off the image are flagged so the caller can write 0. Because the
 * whole-image segment keeps every sample on the image, a full-image crop equals a plain resize.
 */
function axisTaps(outLen: number, srcLen: number, start: number, extent: number): AxisTaps {
  const lo = new Int32Array(outLen);
  const hi = new Int32Array(outLen);
  const frac = new Float32Array(outLen);
  const inside = new Uint8Array(outLen);
  const scale = extent / outLen;
  for (let i = 0; i < outLen; i++) {
    const s = start + (i + 0.5) * scale - 0.5;
    if (!(s >= -0.5 && s < srcLen - 0.5)) continue; // off the image: stays 0 / not inside
    const c = Math.min(Math.max(s, 0), srcLen - 1);
    const f = Math.floor(c);
    lo[i] = f;
    hi[i] = Math.min(f + 1, srcLen - 1);
    frac[i] = c - f;
    inside[i] = 1;
  }
  return { lo, hi, frac, inside };
}

/** Separable bilinear sampling of every channel at the (x, y) taps; off-image samples are 0. */
function sample(img: RgbImage, xs: AxisTaps, ys: AxisTaps, width: number, height: number): RgbImage {
  const srcPlane = img.width * img.height;
  const dstPlane = width * height;
  const data = new Float32Array(3 * dstPlane);
  for (let c = 0; c < 3; c++) {
    const src = img.data.subarray(c * srcPlane, (c + 1) * srcPlane);
    const dstBase = c * dstPlane;
    for (let y = 0; y < height; y++) {
      if (!ys.inside[y]) continue;
      const row0 = ys.lo[y] * img.width;
      const row1 = ys.hi[y] * img.width;
      const fy = ys.frac[y];
      const dstRow = dstBase + y * width;
      for (let x = 0; x < width; x++) {
        if (!xs.inside[x]) continue;
        const x0 = xs.lo[x];
        const x1 = xs.hi[x];
        const fx = xs.frac[x];
        const top = src[row0 + x0] + (src[row0 + x1] - src[row0 + x0]) * fx;
        const bottom = src[row1 + x0] + (src[row1 + x1] - src[row1 + x0]) * fx;
        data[dstRow + x] = top + (bottom - top) * fy;
      }
    }
  }
  return { width, height, data };
}

function checkTarget(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`target size must be positive integers, got ${width}x${height}`);
  }
}

function checkSource(img: RgbImage): void {
  if (img.width <= 0 || img.height <= 0 || img.data.length !== 3 * img.width * img.height) {
    throw new RangeError(`source image is empty or malformed (${img.width}x${img.height}, ${img.data.length} values)`);
  }
}

/** Bilinear resize with half-pixel centres, matching TF's resizeBilinear(..., halfPixelCenters = true). */
export function resizeBilinear(img: RgbImage, width: number, height: number): RgbImage {
  checkSource(img);
  checkTarget(width, height);
  const xs = axisTaps(width, img.width, 0, img.width);
  const ys = axisTaps(height, img.height, 0, img.height);
  return sample(img, xs, ys, width, height);
}

/**
 * Resample the region `box` (source pixel coordinates; may be fractional or extend past the image)
 * to width x height, with the same half-pixel convention as resizeBilinear mapped into the box.
 * Samples falling off the image are 0 rather than edge-replicated, so padding stays visibly empty.
 */
export function cropAndResize(img: RgbImage, box: Box, width: number, height: number): RgbImage {
  checkSource(img);
  checkTarget(width, height);
  const finite = [box.x, box.y, box.width, box.height].every(Number.isFinite);
  if (!finite || box.width <= 0 || box.height <= 0) {
    throw new RangeError(`crop box must be finite with positive size, got ${JSON.stringify(box)}`);
  }
  const xs = axisTaps(width, img.width, box.x, box.width);
  const ys = axisTaps(height, img.height, box.y, box.height);
  return sample(img, xs, ys, width, height);
}

/** Luma with the ITU-R BT.601 weights (as in TF/PIL grayscale), H*W values in 0..255. */
export function toGray(img: RgbImage): Float32Array {
  const plane = img.width * img.height;
  const gray = new Float32Array(plane);
  const d = img.data;
  for (let p = 0; p < plane; p++) {
    gray[p] = 0.2989 * d[p] + 0.587 * d[plane + p] + 0.114 * d[2 * plane + p];
  }
  return gray;
}
