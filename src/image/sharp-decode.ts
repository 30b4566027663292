/**
 * PNG/JPEG bytes → RgbImage with sharp (libvips, with libjpeg-turbo/mozjpeg and libpng): CMYK,
 * Adobe-transform and arithmetic-coded JPEGs, 16-bit and gray/alpha PNGs, EXIF orientation
 * applied, embedded ICC profiles of 8-bit images converted to sRGB. Only what header.ts recognises as PNG or JPEG
 * reaches sharp, and only within the pixel limit; every failure becomes an ImageDecodeError whose
 * reason is plain words (the library's own message is kept as the cause).
 *
 * Used in-process by readImage and decodeImageAsync, and from a worker by the synchronous
 * decodeImage (sharp has no synchronous API).
 */
import type { Sharp, SharpOptions } from 'sharp';
import { FORMAT_NAME, inspectHeader, looksTruncated, type ImageFormat } from './header.js';
import { DecoderUnavailableError, ImageDecodeError, type RgbImage } from './types.js';

/** Default cap on width*height. Large enough for any photo, small enough that a hostile header cannot exhaust memory. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** libvips stops a decode that runs longer than this (a crafted file can be slow to decode). */
export const DECODE_TIMEOUT_S = 60;

type SharpFactory = (input: Uint8Array, options: SharpOptions) => Sharp;

let loading: Promise<SharpFactory> | undefined;

/** sharp, loaded on first use so that csm commands that read no images do not need it. */
function loadSharp(): Promise<SharpFactory> {
  loading ??= import('sharp').then(
    (m) => m.default as unknown as SharpFactory,
    (err: unknown) => {
      loading = undefined;
      throw new DecoderUnavailableError(
        'the image decoder (sharp) could not be loaded; reinstall csm\'s dependencies (npm ci) for this platform',
        { cause: err },
      );
    },
  );
  return loading;
}

/** Decode after the header checks; throws ImageDecodeError (or DecoderUnavailableError). */
export async function decodeBytes(bytes: Uint8Array, file: string, maxPixels: number = DEFAULT_MAX_PIXELS): Promise<RgbImage> {
  if (!(maxPixels > 0)) throw new RangeError(`maxPixels must be positive, got ${maxPixels}`);
  const { format } = inspectHeader(bytes, file, maxPixels);
  const sharp = await loadSharp();
  const options: SharpOptions = {
    // Integral, and at least 1 (0 would mean "no limit" to sharp).
    limitInputPixels: Math.max(1, Math.floor(Math.min(maxPixels, Number.MAX_SAFE_INTEGER))),
    failOn: 'warning', // sharp's advice for untrusted input: a damaged file is refused, not half-decoded
    autoOrient: true,
  };
  try {
    const meta = await sharp(bytes, options).metadata();
    // header.ts sniffed the format; a disagreement would mean a file built to confuse the two.
    if (meta.format !== format) throw new ImageDecodeError(file, `the ${FORMAT_NAME[format]} data is corrupt (the decoder reads it as ${meta.format})`);
    const sixteen = meta.depth === 'ushort';
    // 8-bit: an embedded ICC profile is applied, giving sRGB. 16-bit: sharp would convert to
    // Display P3 instead, and the way back to sRGB is lossy (measured 6/255 on black), so the
    // profile is ignored and the samples kept as stored.
    let pipeline = sharp(bytes, { ...options, ignoreIcc: sixteen }).timeout({ seconds: DECODE_TIMEOUT_S });
    if (meta.hasAlpha) pipeline = pipeline.removeAlpha(); // dropped, not composited
    pipeline = sixteen ? pipeline.toColourspace('rgb16').raw({ depth: 'ushort' }) : pipeline.toColourspace('srgb').raw();
    const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageDecodeError(file, `the ${FORMAT_NAME[format]} decoder returned ${info.channels} channels instead of 3`);
    const samples = sixteen ? uint16View(data) : data;
    return interleavedToPlanar(samples, info.width, info.height, sixteen ? 255 / 65535 : 1);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw new ImageDecodeError(file, describeDecoderFailure(err, format, bytes, maxPixels), { cause: err });
  }
}

/**
 * A sharp/libvips failure as a plain-words clause. libvips messages are not an API, so this only
 * sorts them into a few causes; anything unrecognised is "corrupt".
 */
export function describeDecoderFailure(err: unknown, format: ImageFormat, bytes: Uint8Array, maxPixels: number): string {
  const text = err instanceof Error ? err.message : String(err);
  const name = FORMAT_NAME[format];
  if (/pixel limit/i.test(text)) return `it has more pixels than the limit of ${maxPixels}`;
  if (/timeout/i.test(text)) return `decoding took longer than ${DECODE_TIMEOUT_S} s and was stopped`;
  if (/unsupported image format/i.test(text)) return 'not a PNG or JPEG file';
  if (/data precision|unsupported jpeg process|lossless|hierarchical/i.test(text)) {
    return `it uses a ${name} variant the decoder does not support (such as 12-bit, lossless or hierarchical JPEG)`;
  }
  if (/premature end|truncated|not enough (image )?data|unexpected end/i.test(text) || looksTruncated(format, bytes)) {
    return `the file is truncated (the ${name} data ends before the image is complete)`;
  }
  if (/out of memory|cannot allocate|memory allocation/i.test(text)) return 'there is not enough memory to decode it';
  return `the ${name} data is corrupt`;
}

/** The samples of a raw 16-bit buffer (native byte order), copied only if misaligned. */
function uint16View(data: Buffer): Uint16Array {
  if (data.byteOffset % 2 === 0) return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return new Uint16Array(copy.buffer);
}

/** Interleaved RGB samples → planar RGB floats, multiplied by `scale`. */
function interleavedToPlanar(rgb: ArrayLike<number>, width: number, height: number, scale: number): RgbImage {
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let p = 0, q = 0; p < plane; p++, q += 3) {
    data[p] = rgb[q]! * scale;
    data[plane + p] = rgb[q + 1]! * scale;
    data[2 * plane + p] = rgb[q + 2]! * scale;
  }
  return { width, height, data };
}
