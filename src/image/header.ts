/**
 * What csm checks in an image file before any decoder sees it: the format, from the magic bytes
 * (only PNG and JPEG reach the decoder; sharp would also open GIF, TIFF, SVG, HEIF...), and the
 * declared size, so that an oversized or zero-sized image is refused with its dimensions before a
 * pixel buffer is allocated. Also the tests the error messages use to tell "truncated" from
 * "corrupt". Pure functions over the bytes; nothing here decodes pixels.
 */
import { ImageDecodeError } from './types.js';

export type ImageFormat = 'png' | 'jpeg';

/** Name of each format in messages. */
export const FORMAT_NAME: Record<ImageFormat, string> = { png: 'PNG', jpeg: 'JPEG' };

/** The reason given for anything that is not a PNG or JPEG (other code and tests match this text). */
export const NOT_AN_IMAGE = 'not a PNG or JPEG file';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface ImageHeader {
  format: ImageFormat;
  /** As stored, before any EXIF orientation. */
  width: number;
  height: number;
}

export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/**
 * Format and declared size of a PNG or JPEG, refusing (ImageDecodeError) empty input, other
 * formats, unreadable headers, zero sizes and more than `maxPixels` pixels.
 */
export function inspectHeader(bytes: Uint8Array, file: string, maxPixels: number): ImageHeader {
  if (bytes.length === 0) throw new ImageDecodeError(file, 'the file is empty');
  // Sniff the content rather than trusting the extension: datasets routinely hold JPEGs named .png.
  const format = sniffFormat(bytes);
  if (format === null) throw new ImageDecodeError(file, NOT_AN_IMAGE);
  const { width, height } = format === 'png' ? pngHeaderSize(bytes, file) : jpegHeaderSize(bytes, file);
  if (width <= 0 || height <= 0) {
    throw new ImageDecodeError(file, `it declares a zero-size image (${width}x${height} pixels)`);
  }
  if (width * height > maxPixels) {
    throw new ImageDecodeError(file, `it declares ${width}x${height} pixels, over the limit of ${maxPixels}`);
  }
  return { format, width, height };
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function readU16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function chunkType(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

/** Width/height from the IHDR chunk, which the PNG spec requires to come first (right after the signature). */
function pngHeaderSize(bytes: Uint8Array, file: string): { width: number; height: number } {
  if (bytes.length < 24) throw new ImageDecodeError(file, 'the file is truncated (it ends inside the PNG header)');
  if (chunkType(bytes, 12) !== 'IHDR') throw new ImageDecodeError(file, 'the PNG header is corrupt (the first chunk is not IHDR)');
  return { width: readU32(bytes, 16), height: readU32(bytes, 20) };
}

/**
 * Width/height from the first SOFn frame header. Walks the marker segments from the start; gives up
 * at SOS/EOI, since the frame header must precede the scan data.
 */
function jpegHeaderSize(bytes: Uint8Array, file: string): { width: number; height: number } {
  const n = bytes.length;
  let i = 2; // after SOI
  while (i + 1 < n) {
    if (bytes[i] !== 0xff) throw new ImageDecodeError(file, 'the JPEG header is corrupt (a segment does not start with a marker)');
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i += 1; // fill byte before a marker
      continue;
    }
    i += 2;
    // Markers without a length field.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker === 0xd9 || marker === 0xda) {
      throw new ImageDecodeError(file, 'the JPEG header is corrupt (it has no frame header)');
    }
    if (i + 2 > n) break;
    const length = readU16(bytes, i);
    if (length < 2) throw new ImageDecodeError(file, 'the JPEG header is corrupt (a segment has an impossible length)');
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC), which share the range but are not frame headers.
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 7 > n) break; // truncated inside the frame header
      return { height: readU16(bytes, i + 3), width: readU16(bytes, i + 5) };
    }
    i += length;
  }
  throw new ImageDecodeError(file, 'the file is truncated (it ends inside the JPEG header)');
}

/**
 * Whether the file stops before its end marker: a PNG whose chunks run past the end or never reach
 * IEND, a JPEG with no EOI marker near its end (a few bytes of padding after EOI are common).
 * Only used to word a decoder failure; a file can be complete and still corrupt.
 */
export function looksTruncated(format: ImageFormat, bytes: Uint8Array): boolean {
  if (format === 'png') {
    let at = 8;
    while (at + 12 <= bytes.length) {
      if (chunkType(bytes, at + 4) === 'IEND') return false;
      at += 12 + readU32(bytes, at);
    }
    return true;
  }
  for (let i = bytes.length - 2; i >= Math.max(2, bytes.length - 1024); i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return false;
  }
  return true;
}
