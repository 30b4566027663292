/**
 * Affine maps between continuous image coordinates (pixel i covers [i, i+1), its centre is i+0.5)
 * and an affine resampler: used for rotated face crops, and to carry points back to the photo.
 */
import type { RgbImage } from './types.js';

/** x' = a·x + b·y + c,  y' = d·x + e·y + f */
export interface Affine { a: number; b: number; c: number; d: number; e: number; f: number }

export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m.a * x + m.b * y + m.c, m.d * x + m.e * y + m.f];
}

export function invertAffine(m: Affine): Affine {
  const det = m.a * m.e - m.b * m.d;
  if (Math.abs(det) < 1e-12) throw new RangeError('affine map is singular');
  const a = m.e / det;
  const b = -m.b / det;
  const d = -m.d / det;
  const e = m.a / det;
  return { a, b, c: -(a * m.c + b * m.f), d, e, f: -(d * m.c + e * m.f) };
}

/**
 * The map from a `size`×`size` crop to the photo for a square of side `side` centred at (cx, cy),
 * rotated by `angle` radians (the crop's x axis points along (cos, sin) in the photo).
 */
export function squareCropMap(cx: number, cy: number, side: number, angle: number, size: number): Affine {
  const s = side / size;
  const cos = Math.cos(angle) * s;
  const sin = Math.sin(angle) * s;
  const h = size / 2;
  return { a: cos, b: -sin, c: cx - cos * h + sin * h, d: sin, e: cos, f: cy - sin * h - cos * h };
}

/**
 * Output pixel centre (x+0.5, y+0.5) is mapped by `toSource` into the photo and sampled
 * bilinearly; samples off the photo (outside [0, W) × [0, H) in continuous coordinates) are 0.
 */
export function warpAffine(img: RgbImage, toSource: Affine, width: number, height: number): RgbImage {
  const W = img.width;
  const H = img.height;
  const srcPlane = W * H;
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = applyAffine(toSource, x + 0.5, y + 0.5);
      const u = sx - 0.5;
      const v = sy - 0.5;
      if (!(u >= -0.5 && u < W - 0.5 && v >= -0.5 && v < H - 0.5)) continue;
      const cu = Math.min(Math.max(u, 0), W - 1);
      const cv = Math.min(Math.max(v, 0), H - 1);
      const x0 = Math.floor(cu);
      const y0 = Math.floor(cv);
      const x1 = Math.min(x0 + 1, W - 1);
      const y1 = Math.min(y0 + 1, H - 1);
      const fx = cu - x0;
      const fy = cv - y0;
      for (let c = 0; c < 3; c++) {
        const o = c * srcPlane;
        const top = img.data[o + y0 * W + x0]! * (1 - fx) + img.data[o + y0 * W + x1]! * fx;
        const bottom = img.data[o + y1 * W + x0]! * (1 - fx) + img.data[o + y1 * W + x1]! * fx;
        data[c * plane + y * width + x] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return { width, height, data };
}
