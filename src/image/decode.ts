import { readFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { decode as decodeJpegData } from 'jpeg-js';
import { ImageDecodeError, type RgbImage } from './types.js';

/** Default cap on width*height. Large enough for any photo, small enough that a hostile header cannot exhaust memory. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

type ImageFormat = 'png' | 'jpeg';

/**
 * Decode PNG or JPEG bytes into a planar float RGB image (0..255). Alpha is dropped, not composited.
 * `file` is only used to name the input in errors. Throws ImageDecodeError on any failure.
 */
export function decodeImage(bytes: Uint8Array, file: string, maxPixels: number = DEFAULT_MAX_PIXELS): RgbImage {
  if (bytes.length === 0) throw new ImageDecodeError(file, 'file is empty');
  // Sniff the content rather than trusting the extension: datasets routinely hold JPEGs named .png.
  const format = sniffFormat(bytes);
  if (format === null) throw new ImageDecodeError(file, 'not a PNG or JPEG file');
  const size = format === 'png' ? pngHeaderSize(bytes, file) : jpegHeaderSize(bytes, file);
  checkSize(size.width, size.height, maxPixels, file);
  return format === 'png' ? decodePng(bytes, file) : decodeJpeg(bytes, file);
}

/** Read a file and decode it; read failures (missing file, permissions) also become ImageDecodeError. */
export async function readImage(path: string, maxPixels: number = DEFAULT_MAX_PIXELS): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new ImageDecodeError(path, errorText(err), { cause: err });
  }
  return decodeImage(bytes, path, maxPixels);
}

function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** Refuse empty and oversized images before any pixel buffer is allocated. */
function checkSize(width: number, height: number, maxPixels: number, file: string): void {
  if (width <= 0 || height <= 0) throw new ImageDecodeError(file, `image has zero size (${width}x${height})`);
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      file,
      `image is too large (${width}x${height} = ${width * height} pixels, limit ${maxPixels})`,
    );
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function readU16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function chunkType(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

/** Width/height from the IHDR chunk, which the PNG spec requires to come first (right after the signature). */
function pngHeaderSize(bytes: Uint8Array, file: string): { width: number; height: number } {
  if (bytes.length < 24) throw new ImageDecodeError(file, 'corrupt or truncated PNG: file ends inside the header');
  if (chunkType(bytes, 12) !== 'IHDR') throw new ImageDecodeError(file, 'corrupt PNG: first chunk is not IHDR');
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
    if (bytes[i] !== 0xff) throw new ImageDecodeError(file, `corrupt JPEG: expected a marker at byte ${i}`);
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte before a marker
      continue;
    }
    i += 2;
    // Markers without a length field.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker === 0xd9 || marker === 0xda) break;
    if (i + 2 > n) break;
    const length = readU16(bytes, i);
    if (length < 2) throw new ImageDecodeError(file, `corrupt JPEG: bad segment length at byte ${i}`);
    // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC), which share the range but are not frame headers.
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 7 > n) break;
      return { height: readU16(bytes, i + 3), width: readU16(bytes, i + 5) };
    }
    i += length;
  }
  throw new ImageDecodeError(file, 'corrupt or truncated JPEG: no frame header (SOF) found');
}

/**
 * Remove tRNS chunks. pngjs applies a colour-key tRNS by zeroing the whole pixel, RGB included,
 * which would paint keyed pixels black; we drop alpha instead, so the chunk is simply discarded.
 * Chunks are self-contained (length, type, data, CRC), so the rest of the file stays valid.
 */
function stripTrns(bytes: Uint8Array): Uint8Array {
  const kept: Uint8Array[] = [bytes.subarray(0, 8)];
  let removed = false;
  let at = 8;
  while (at + 12 <= bytes.length) {
    const end = at + 12 + readU32(bytes, at);
    if (end > bytes.length) break; // truncated: leave the remainder for pngjs to report
    if (chunkType(bytes, at + 4) === 'tRNS') removed = true;
    else kept.push(bytes.subarray(at, end));
    at = end;
  }
  if (!removed) return bytes;
  kept.push(bytes.subarray(at));
  return Buffer.concat(kept);
}

function decodePng(bytes: Uint8Array, file: string): RgbImage {
  const input = stripTrns(bytes);
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    // skipRescale keeps 16-bit samples at full precision (pngjs would otherwise round them to 8 bits);
    // we scale to 0..255 ourselves below. Output is always RGBA, one sample per channel.
    png = PNG.sync.read(Buffer.from(input.buffer, input.byteOffset, input.byteLength), { skipRescale: true });
  } catch (err) {
    throw new ImageDecodeError(file, `corrupt or truncated PNG: ${errorText(err)}`, { cause: err });
  }
  // With skipRescale the samples stay in 0..2^depth-1 (a Uint16Array for 16-bit); palette images are
  // already expanded to 8-bit palette colours whatever their index depth.
  const samples = png.data as unknown as ArrayLike<number>;
  const scale = png.palette ? 1 : 255 / (2 ** png.depth - 1);
  return rgbaToPlanar(samples, png.width, png.height, scale);
}

function decodeJpeg(bytes: Uint8Array, file: string): RgbImage {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = decodeJpegData(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxMemoryUsageInMB: 1024,
      maxResolutionInMP: 200,
    });
  } catch (err) {
    throw new ImageDecodeError(file, `corrupt or truncated JPEG: ${errorText(err)}`, { cause: err });
  }
  // Grayscale JPEGs come out of jpeg-js as RGBA with equal channels, so one path covers both.
  return rgbaToPlanar(decoded.data, decoded.width, decoded.height, 1);
}

/** Interleaved RGBA (any sample range) → planar RGB floats, multiplying by `scale`; alpha is ignored. */
function rgbaToPlanar(rgba: ArrayLike<number>, width: number, height: number, scale: number): RgbImage {
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    data[p] = rgba[4 * p] * scale;
    data[plane + p] = rgba[4 * p + 1] * scale;
    data[2 * plane + p] = rgba[4 * p + 2] * scale;
  }
  return { width, height, data };
}

/** jpeg-js sometimes throws plain strings, so do not assume an Error. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
