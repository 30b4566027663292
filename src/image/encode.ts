import { PNG } from 'pngjs';
import type { RgbImage } from './types.js';

/** Encode 8-bit interleaved RGBA (width*height*4 bytes) as an RGBA PNG. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`PNG size must be positive integers, got ${width}x${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`expected ${width * height * 4} RGBA bytes for ${width}x${height}, got ${rgba.length}`);
  }
  // Construct empty and attach the caller's pixels: new PNG({width, height}) would allocate a
  // second full-size buffer only to throw it away.
  const png = new PNG();
  png.width = width;
  png.height = height;
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return PNG.sync.write(png);
}

/** Planar float RGB → interleaved 8-bit RGBA, rounding and clamping to 0..255, alpha opaque. */
export function rgbToRgba8(img: RgbImage): Uint8Array {
  const plane = img.width * img.height;
  const out = new Uint8Array(4 * plane);
  const d = img.data;
  for (let p = 0; p < plane; p++) {
    // Uint8Array assignment would wrap out-of-range values and truncate fractions; clamp and round first.
    out[4 * p] = clampByte(d[p]);
    out[4 * p + 1] = clampByte(d[plane + p]);
    out[4 * p + 2] = clampByte(d[2 * plane + p]);
    out[4 * p + 3] = 255;
  }
  return out;
}

function clampByte(v: number): number {
  // NaN (e.g. from a division by zero upstream) becomes 0 rather than poisoning the output.
  if (!(v > 0)) return 0;
  return v >= 255 ? 255 : Math.round(v);
}
