/**
 * Saliency heatmaps blended over faces, as in the paper's Fig. 1: the face in grayscale (so the
 * colours read as saliency, not skin) with the colour-mapped map laid over it where it is defined.
 */
import { toGray, resizeBilinear, type RgbImage } from '../image/index.js';
import { triangleRaster } from '../face/correspondence.js';
import type { CanonicalFrame } from '../face/types.js';
import { colormapLut, LUT_LEVELS, rangePosition, resolveRange, type HeatmapOptions, type ResolvedRange } from './colormap.js';
import type { RgbaImage } from './colorbar.js';

export interface OverlayOptions extends HeatmapOptions {
  /** Opacity of the heatmap over the face, 0..1. Default 0.5. */
  alpha?: number;
  /** Show the face in grayscale (default true) or in colour. */
  gray?: boolean;
}

export interface CanonicalOverlayOptions extends OverlayOptions {
  /** triangleRaster(frame), if already computed (it costs a full rasterisation). */
  raster?: Int32Array;
}

/** An overlay and the value range its colours stand for (hand it to withColorbar). */
export interface Overlay extends RgbaImage {
  range: ResolvedRange;
}

/**
 * The canonical map `map` (frame.size², row-major) over the canonical face F. Only face pixels
 * (raster ≥ 0, and opts.mask where given) are tinted and count towards the colour range; the
 * background is F alone. F may have any size: canonicalFrame scales with its size, so F is
 * resampled to the frame and stays aligned.
 */
export function canonicalOverlay(map: Float32Array, frame: CanonicalFrame, F: RgbImage, opts: CanonicalOverlayOptions): Overlay {
  const { size } = frame;
  if (map.length !== size * size) throw new RangeError(`canonical map has ${map.length} values, frame needs ${size}×${size}`);
  const raster = opts.raster ?? triangleRaster(frame);
  if (raster.length !== size * size) throw new RangeError(`raster has ${raster.length} pixels, frame needs ${size}×${size}`);
  if (opts.mask && opts.mask.length !== size * size) throw new RangeError(`mask has ${opts.mask.length} pixels, frame needs ${size}×${size}`);
  const face = new Uint8Array(size * size);
  for (let p = 0; p < face.length; p++) face[p] = raster[p]! >= 0 && (!opts.mask || opts.mask[p]) ? 1 : 0;
  const base = F.width === size && F.height === size ? F : resizeBilinear(F, size, size);
  return blend(base, map, face, opts);
}

/**
 * A photo-space map (values and mask from warpToPhoto) blended over the photo; only mask pixels
 * are tinted and count towards the colour range.
 */
export function photoOverlay(photo: RgbImage, values: Float32Array, mask: Uint8Array, opts: OverlayOptions): Overlay {
  const n = photo.width * photo.height;
  if (values.length !== n || mask.length !== n) {
    throw new RangeError(`values (${values.length}) and mask (${mask.length}) must have ${n} pixels for a ${photo.width}x${photo.height} photo`);
  }
  const both = opts.mask ? mask.map((m, p) => (m && opts.mask![p] ? 1 : 0)) : mask;
  return blend(photo, values, both, opts);
}

/** The shared blend: base image (grayscale or colour) + colour-mapped values where mask is set. */
function blend(base: RgbImage, values: Float32Array, mask: Uint8Array, opts: OverlayOptions): Overlay {
  const { width, height } = base;
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be in [0, 1], got ${alpha}`);
  const range = resolveRange(values, { ...opts, mask });
  const lut = colormapLut(opts.colormap);
  const plane = width * height;
  const gray = opts.gray === false ? undefined : toGray(base);
  const rgba = new Uint8Array(4 * plane);
  for (let p = 0; p < plane; p++) {
    const o = 4 * p;
    for (let c = 0; c < 3; c++) rgba[o + c] = byte(gray ? gray[p]! : base.data[c * plane + p]!);
    rgba[o + 3] = 255;
    const v = values[p]!;
    if (!mask[p] || !Number.isFinite(v)) continue;
    const i = 3 * Math.round((LUT_LEVELS - 1) * rangePosition(v, range));
    for (let c = 0; c < 3; c++) rgba[o + c] = Math.round(rgba[o + c]! * (1 - alpha) + lut[i + c]! * alpha);
  }
  return { width, height, rgba, range };
}

function byte(v: number): number {
  if (!(v > 0)) return 0;
  return v >= 255 ? 255 : Math.round(v);
}
