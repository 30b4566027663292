import { CsmError, FatalError } from '../errors.js';

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
 * Raised for every way an input file can fail to become an RgbImage (unreadable, not a regular
 * file, not an image, corrupt, too large). One error type lets callers such as a batch CLI report
 * the bad file and carry on, instead of having to recognise errors from fs and the decoder.
 * `reason` is a plain-words clause ("the file is truncated (...)"), never a library's message;
 * that, when there is one, is kept in `cause`.
 */
export class ImageDecodeError extends CsmError {
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot read image "${printableName(file)}": ${reason}`, options);
    this.file = file;
    this.reason = reason;
  }
}

/**
 * The image decoder itself (sharp's native library) cannot be loaded: no file can be read, so a
 * batch run stops rather than skip every image (a FatalError, as for a lost GPU).
 */
export class DecoderUnavailableError extends FatalError {}

/** A file name as shown in a one-line message: control characters (a newline in a name) escaped. */
export function printableName(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
