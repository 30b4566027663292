import { CsmError } from '../errors.js';

/** Planar float RGB image, values in 0..255 (not normalised), channel-major: data[c*H*W + y*W + x]. */
export interface RgbImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** A rectangle in source-pixel coordinates (x, y = top-left corner; may be fractional or outside the image). */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Raised for every way an input file can fail to become an RgbImage (unreadable, not an image,
 * corrupt, too large). One error type lets callers such as a batch CLI report the bad file and
 * carry on, instead of having to recognise errors from fs, pngjs and jpeg-js separately.
 */
export class ImageDecodeError extends CsmError {
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot read image "${file}": ${reason}`, options);
    this.file = file;
    this.reason = reason;
  }
}
