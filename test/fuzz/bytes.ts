/**
 * Byte-level builders for hostile PNG and JPEG files: PNG chunks with real or broken CRCs, IHDRs
 * declaring any size, zlib streams cut short or asking for a preset dictionary, and a walk over a
 * JPEG's marker segments so that a frame header can be rewritten or an end marker removed.
 */
import { constants, deflateRawSync, deflateSync } from 'node:zlib';
import { crc32, PNG_SIGNATURE } from '../helpers/png-chunks.js';

export { crc32, PNG_SIGNATURE };

/** One PNG chunk; with `badCrc` its stored CRC has its lowest bit flipped. */
export function pngChunk(type: string, data: Uint8Array, badCrc = false): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  const crc = crc32(out.subarray(4, 8 + data.length));
  out.writeUInt32BE(badCrc ? (crc ^ 1) >>> 0 : crc, 8 + data.length);
  return out;
}

export function ihdrData(width: number, height: number, depth: number, colorType: number, interlace = 0): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width >>> 0, 0);
  d.writeUInt32BE(height >>> 0, 4);
  d[8] = depth;
  d[9] = colorType;
  d[12] = interlace;
  return d;
}

export const IEND = pngChunk('IEND', new Uint8Array(0));

/** A PNG from an IHDR and one IDAT holding `zlib` as is. */
export function pngFromZlib(ihdr: Buffer, zlib: Uint8Array): Buffer {
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib), IEND]);
}

/** A PNG whose rows are all zero (filter 0, black or palette index 0): a decompression bomb when large. */
export function zeroRowsPng(width: number, height: number, depth: number, colorType: number): Buffer {
  const channels = colorType === 2 ? 3 : colorType === 6 ? 4 : colorType === 4 ? 2 : 1;
  const rowBytes = 1 + Math.ceil((width * channels * depth) / 8);
  return pngFromZlib(ihdrData(width, height, depth, colorType), deflateZeros(rowBytes * height));
}

const zeroCache = new Map<number, Buffer>();

/**
 * zlib stream of `n` zero bytes without a buffer of n bytes: raw deflate blocks of 1 MiB of zeros,
 * each ended by a sync flush (so byte-aligned and concatenable), a final block for the rest, and
 * the Adler-32 of n zeros. Cached: bombs of one size are built once.
 */
export function deflateZeros(n: number): Buffer {
  const hit = zeroCache.get(n);
  if (hit) return hit;
  const piece = Buffer.alloc(Math.min(n, 1 << 20));
  const parts: Buffer[] = [Buffer.from([0x78, 0xda])];
  const block = deflateRawSync(piece, { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  let left = n;
  while (left > piece.length) {
    parts.push(block);
    left -= piece.length;
  }
  parts.push(deflateRawSync(piece.subarray(0, left), { level: 9, finishFlush: constants.Z_FINISH }));
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((n % 65521) << 16) | 1) >>> 0, 0); // Adler-32 of zeros: a = 1, b = n mod 65521
  parts.push(adler);
  const out = Buffer.concat(parts);
  zeroCache.set(n, out);
  return out;
}

/** A zlib stream with FDICT set: header 78 20 (a multiple of 31), a dictionary id, then the data. */
export function presetDictionaryZlib(raw: Uint8Array): Buffer {
  const deflated = deflateSync(raw);
  return Buffer.concat([Buffer.from([0x78, 0x20, 0x12, 0x34, 0x56, 0x78]), deflated.subarray(2)]);
}

/** The chunks of a PNG (no validation): type, start of the length field, end after the CRC. */
export function pngChunks(png: Uint8Array): { type: string; start: number; end: number; dataStart: number; length: number }[] {
  const out = [];
  let at = 8;
  while (at + 12 <= png.length) {
    const length = Buffer.from(png.buffer, png.byteOffset, png.byteLength).readUInt32BE(at);
    const type = String.fromCharCode(png[at + 4]!, png[at + 5]!, png[at + 6]!, png[at + 7]!);
    const end = at + 12 + length;
    out.push({ type, start: at, end, dataStart: at + 8, length });
    if (end > png.length || type === 'IEND') break;
    at = end;
  }
  return out;
}

/** Marker segments of a JPEG up to and including SOS: marker byte, start (at 0xFF), end. */
export function jpegSegments(jpeg: Uint8Array): { marker: number; start: number; end: number }[] {
  const out = [];
  let i = 2;
  while (i + 4 <= jpeg.length) {
    if (jpeg[i] !== 0xff) break;
    const marker = jpeg[i + 1]!;
    const end = i + 2 + ((jpeg[i + 2]! << 8) | jpeg[i + 3]!);
    out.push({ marker, start: i, end });
    if (marker === 0xda) break;
    i = end;
  }
  return out;
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** Where the first frame header is, or undefined. */
export function findSof(jpeg: Uint8Array): { marker: number; start: number; end: number } | undefined {
  return jpegSegments(jpeg).find((s) => SOF_MARKERS.has(s.marker));
}

/** A copy of `jpeg` with its frame header declaring width × height. */
export function withJpegSize(jpeg: Buffer, width: number, height: number): Buffer {
  const sof = findSof(jpeg);
  if (!sof) throw new Error('no frame header');
  const out = Buffer.from(jpeg);
  out.writeUInt16BE(height, sof.start + 5);
  out.writeUInt16BE(width, sof.start + 7);
  return out;
}
