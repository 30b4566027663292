/**
 * A seeded corpus of hostile inputs for `csm cms` (issue 13): byte flips and truncations of real
 * photos, headers declaring huge sizes over tiny bodies, decompression bombs, broken zlib streams
 * and CRCs, wrong extensions, JPEG and PNG variants, special files (FIFO, link to /dev/zero,
 * directory, dangling link, unreadable file), awkward file names, photos with no face or two.
 *
 * Everything is built at run time from the photos it is given (read from the test data, never
 * stored in the repository) and from the seed: the same seed, photos and count give the same files,
 * byte for byte. Each file carries its class and what a correct run must do with it:
 *   accept   a readable image with a face: must be explained
 *   refuse   must be skipped, with a one-sentence cause naming the file
 *   either   may go either way (a byte flip can leave a JPEG valid), but a skip needs a clean cause
 *   ignore   may be left out of the listing altogether (a directory), else refused
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { mulberry32 } from '../helpers/random.js';
import {
  IEND, PNG_SIGNATURE, findSof, ihdrData, jpegSegments, pngChunk, pngChunks, pngFromZlib, presetDictionaryZlib, withJpegSize, zeroRowsPng,
} from './bytes.js';

export type Expect = 'accept' | 'refuse' | 'either' | 'ignore';

/** One file of the corpus. */
export interface FuzzFile {
  /** Position in the corpus (case number: class and seed reproduce it). */
  index: number;
  cls: string;
  /** The file name's bytes (not always UTF-8). */
  name: Buffer;
  /** The name as Node lists it (UTF-8 decoded, invalid bytes as U+FFFD). */
  listed: string;
  expect: Expect;
  kind: 'file' | 'fifo' | 'symlink' | 'dir' | 'unreadable';
  /** Contents (file, unreadable) or, for a symlink to a regular file, the target's contents. */
  bytes?: Buffer;
  /** Symlink target. */
  target?: string;
}

export interface Corpus {
  seed: number;
  dir: string;
  files: FuzzFile[];
  /** The valid photos (also in `files`, class "valid"). */
  valid: FuzzFile[];
}

export interface CorpusOptions {
  seed: number;
  /** Number of hostile files (the valid photos come on top). */
  count: number;
  /** JPEG bytes of real face photos: the first `validCount` go in as they are, the rest are mutated. */
  photos: Buffer[];
  validCount: number;
  /** Only these classes (default: all). */
  classes?: string[];
  /** Leave out the classes marked heavy (large decodes): for CI. */
  light?: boolean;
}

/** The seeded draws a builder makes. */
export class Draw {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** What a builder returns: one file, or several (twins). `name` replaces the default name's tail. */
interface Built {
  ext: string;
  kind?: FuzzFile['kind'];
  bytes?: Buffer;
  target?: string;
  /** Name bytes after the "h00012-class" prefix (default: "." + ext). */
  tail?: Buffer;
  expect?: Expect;
}

/** Photo encodings, each made once per photo. */
class Photos {
  readonly #cache = new Map<string, Promise<Buffer>>();
  constructor(readonly jpegs: Buffer[]) {}

  get count(): number {
    return this.jpegs.length;
  }

  jpeg(k: number): Buffer {
    return this.jpegs[k]!;
  }

  #memo(key: string, make: () => Promise<Buffer>): Promise<Buffer> {
    let hit = this.#cache.get(key);
    if (!hit) {
      hit = make();
      this.#cache.set(key, hit);
    }
    return hit;
  }

  png(k: number): Promise<Buffer> {
    return this.#memo(`png${k}`, () => sharp(this.jpeg(k)).png().toBuffer());
  }
  progressive(k: number): Promise<Buffer> {
    return this.#memo(`prog${k}`, () => sharp(this.jpeg(k)).jpeg({ quality: 90, progressive: true }).toBuffer());
  }
  baseline(k: number): Promise<Buffer> {
    return this.#memo(`base${k}`, () => sharp(this.jpeg(k)).jpeg({ quality: 90, mozjpeg: false }).toBuffer());
  }
  cmyk(k: number): Promise<Buffer> {
    return this.#memo(`cmyk${k}`, () => sharp(this.jpeg(k)).toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer());
  }
  gray(k: number): Promise<Buffer> {
    return this.#memo(`gray${k}`, () => sharp(this.jpeg(k)).greyscale().jpeg({ quality: 90 }).toBuffer());
  }
  png16(k: number): Promise<Buffer> {
    return this.#memo(`png16${k}`, () => sharp(this.jpeg(k)).toColourspace('rgb16').png().toBuffer());
  }
  palette(k: number): Promise<Buffer> {
    return this.#memo(`pal${k}`, () => sharp(this.jpeg(k)).png({ palette: true, colours: 256, dither: 0 }).toBuffer());
  }
  interlaced(k: number): Promise<Buffer> {
    return this.#memo(`adam7${k}`, () => sharp(this.jpeg(k)).png({ progressive: true }).toBuffer());
  }
  rgba(k: number): Promise<Buffer> {
    return this.#memo(`rgba${k}`, () => sharp(this.jpeg(k)).ensureAlpha(0.8).png().toBuffer());
  }
  /** Stored turned a quarter to the left, with EXIF orientation 6 to show it upright again. */
  rotated(k: number): Promise<Buffer> {
    return this.#memo(`rot${k}`, async () => {
      const turned = await sharp(this.jpeg(k)).rotate(270).jpeg({ quality: 90 }).toBuffer();
      return sharp(turned).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toBuffer();
    });
  }
  /** Raw interleaved RGB and its size. */
  raw(k: number): Promise<Buffer> {
    return this.#memo(`raw${k}`, () => sharp(this.jpeg(k)).removeAlpha().raw().toBuffer());
  }
  async size(k: number): Promise<{ width: number; height: number }> {
    const m = await sharp(this.jpeg(k)).metadata();
    return { width: m.width, height: m.height };
  }
  /** Photos a and b side by side (two faces). */
  pair(a: number, b: number): Promise<Buffer> {
    return this.#memo(`pair${a}-${b}`, async () => {
      const [sa, sb] = [await this.size(a), await this.size(b)];
      const height = Math.max(sa.height, sb.height);
      return sharp({ create: { width: sa.width + sb.width + 20, height, channels: 3, background: { r: 128, g: 128, b: 128 } } })
        .composite([{ input: this.jpeg(a), left: 0, top: 0 }, { input: this.jpeg(b), left: sa.width + 20, top: 0 }])
        .jpeg({ quality: 92 }).toBuffer();
    });
  }
}

interface Ctx {
  photos: Photos;
  /** Photo indices that may be mutated (not the valid ones, so that no file is a copy of one). */
  sources: number[];
  root: boolean;
}

/** Byte flips at `count` positions in [from, bytes.length). */
function flip(bytes: Buffer, d: Draw, from: number, to = bytes.length, count = d.range(1, 8)): Buffer {
  const out = Buffer.from(bytes);
  for (let f = 0; f < count; f++) {
    const at = from + d.int(Math.max(1, to - from));
    if (d.int(3) === 0) out[at] = out[at]! ^ (1 << d.int(8));
    else out[at] = d.int(256);
  }
  return out;
}

async function solid(d: Draw, format: 'png' | 'jpeg', width = d.range(16, 640), height = d.range(16, 640)): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: d.int(256), g: d.int(256), b: d.int(256) } } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg().toBuffer();
}

/** An arithmetic-coded (SOF9) 16×16 gradient, made by jpegtran -arithmetic (see test/image/hostile.test.ts). */
const ARITHMETIC_JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/' +
    '2wBDAQICAgICAgUDAwUKBwYHCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgr/yQARCAAQABADASIAAhEBAxEB/8wACgAQ' +
    'EAUBEBEF/9oADAMBAAIRAxEAPwD/AM0/6mdr/jICdhiNr+bBZfTZuw8T92/+uJKdooDP9/1y5/CA/9k=',
  'base64',
);

/** A real photo's PNG rebuilt from filter-0 rows with one IDAT, for zlib-level damage. */
async function rawPng(ctx: Ctx, k: number): Promise<{ ihdr: Buffer; rows: Buffer }> {
  const { width, height } = await ctx.photos.size(k);
  const rgb = await ctx.photos.raw(k);
  const rows = Buffer.alloc(height * (1 + 3 * width));
  for (let y = 0; y < height; y++) rgb.copy(rows, y * (1 + 3 * width) + 1, y * 3 * width, (y + 1) * 3 * width);
  return { ihdr: ihdrData(width, height, 8, 2), rows };
}

/** A photo's JPEG cut to its headers and a few bytes of scan, then EOI: a tiny body. */
function tinyBody(jpeg: Buffer, d: Draw): Buffer {
  const sos = jpegSegments(jpeg).find((s) => s.marker === 0xda)!;
  return Buffer.concat([jpeg.subarray(0, sos.end + d.range(0, 64)), Buffer.from([0xff, 0xd9])]);
}

const TEXT = 'The quick brown fox jumps over the lazy dog. Portable Network Graphics, JPEG File Interchange Format.\n';

interface ClassDef {
  name: string;
  /** Relative frequency after every class has appeared once. */
  weight: number;
  expect: Expect;
  /** A large decode (hundreds of MB): left out of CI runs. */
  heavy?: boolean;
  build(ctx: Ctx, d: Draw): Promise<Built | Built[]>;
}

const src = (ctx: Ctx, d: Draw): number => d.pick(ctx.sources);

/** A photo the run must explain, under any name or encoding. */
const photoJpeg = async (ctx: Ctx, d: Draw): Promise<Buffer> => ctx.photos.jpeg(src(ctx, d));

export const CLASSES: ClassDef[] = [
  // ---- mutations of real photos -----------------------------------------------------------------
  { name: 'jpeg-flip', weight: 12, expect: 'either', build: async (ctx, d) => ({ ext: 'jpg', bytes: flip(ctx.photos.jpeg(src(ctx, d)), d, 2) }) },
  {
    name: 'jpeg-flip-header', weight: 6, expect: 'either',
    build: async (ctx, d) => {
      const jpeg = ctx.photos.jpeg(src(ctx, d));
      const sos = jpegSegments(jpeg).find((s) => s.marker === 0xda)!;
      return { ext: 'jpg', bytes: flip(jpeg, d, 2, sos.end, d.range(1, 3)) };
    },
  },
  { name: 'jpeg-flip-progressive', weight: 4, expect: 'either', build: async (ctx, d) => ({ ext: 'jpg', bytes: flip(await ctx.photos.progressive(src(ctx, d)), d, 2) }) },
  { name: 'jpeg-truncate', weight: 6, expect: 'either', build: async (ctx, d) => { const j = ctx.photos.jpeg(src(ctx, d)); return { ext: 'jpg', bytes: j.subarray(0, d.range(3, j.length - 1)) }; } },
  { name: 'png-flip', weight: 8, expect: 'either', build: async (ctx, d) => ({ ext: 'png', bytes: flip(await ctx.photos.png(src(ctx, d)), d, 8) }) },
  { name: 'png-truncate', weight: 4, expect: 'either', build: async (ctx, d) => { const p = await ctx.photos.png(src(ctx, d)); return { ext: 'png', bytes: p.subarray(0, d.range(8, p.length - 1)) }; } },
  {
    name: 'jpeg-no-eoi', weight: 2, expect: 'either',
    build: async (ctx, d) => {
      const j = ctx.photos.jpeg(src(ctx, d));
      const end = j.lastIndexOf(Buffer.from([0xff, 0xd9]));
      return { ext: 'jpg', bytes: j.subarray(0, end < 0 ? j.length : end) };
    },
  },
  { name: 'jpeg-trailing-garbage', weight: 2, expect: 'either', build: async (ctx, d) => ({ ext: 'jpg', bytes: Buffer.concat([ctx.photos.jpeg(src(ctx, d)), d.bytes(d.range(1, 4096))]) }) },

  // ---- sizes: huge declared dimensions over tiny bodies, bombs ----------------------------------
  { name: 'empty', weight: 1, expect: 'refuse', build: async (_c, d) => ({ ext: d.pick(['jpg', 'png', 'jpeg']), bytes: Buffer.alloc(0) }) },
  {
    name: 'png-huge-ihdr', weight: 2, expect: 'refuse',
    build: async (_c, d) => {
      const [w, h] = d.pick([[100_000_000, 1], [1, 100_000_000], [0xffffffff, 0xffffffff], [0x7fffffff, 2], [65536, 65536], [10_000, 10_000]] as const);
      const body = deflateSync(Buffer.alloc(d.range(1, 64)), { level: 0 });
      return { ext: 'png', bytes: pngFromZlib(ihdrData(w, h, 8, d.pick([0, 2, 6])), body) };
    },
  },
  {
    name: 'png-zero-size', weight: 1, expect: 'refuse',
    build: async (_c, d) => {
      const w = d.pick([0, 5]);
      return { ext: 'png', bytes: pngFromZlib(ihdrData(w, w === 0 ? d.pick([0, 7]) : 0, 8, 2), deflateSync(Buffer.alloc(4))) };
    },
  },
  {
    name: 'jpeg-huge-sof', weight: 2, expect: 'refuse',
    build: async (ctx, d) => {
      const [w, h] = d.pick([[65500, 65500], [65535, 65535], [65500, 1600], [9000, 9000], [10_000, 10_000]] as const);
      return { ext: 'jpg', bytes: tinyBody(withJpegSize(await ctx.photos.baseline(src(ctx, d)), w, h), d) };
    },
  },
  { name: 'jpeg-zero-sof', weight: 1, expect: 'refuse', build: async (ctx, d) => ({ ext: 'jpg', bytes: withJpegSize(ctx.photos.jpeg(src(ctx, d)), d.pick([0, 178]), 0) }) },
  {
    // 30000×30000 1-bit gray (9·10^8 pixels) in ~110 KB: over the pixel limit on its header alone.
    name: 'png-bomb', weight: 1, expect: 'refuse',
    build: async (_c, d) => ({ ext: 'png', bytes: d.int(2) ? zeroRowsPng(30_000, 30_000, 1, 0) : zeroRowsPng(20_000, 20_000, 8, 2) }),
  },
  {
    // Within the pixel limit (10^8) but hundreds of MB to GBs once decoded (black, so no face): 10000×10000 in 12 KB.
    name: 'png-bomb-within', weight: 1, expect: 'refuse', heavy: true,
    build: async (_c, d) => {
      const [w, h, depth, colour] = d.pick([[6000, 6000, 1, 0], [8000, 6000, 1, 0], [10_000, 10_000, 1, 0], [10_000, 10_000, 8, 2]] as const);
      return { ext: 'png', bytes: zeroRowsPng(w, h, depth, colour) };
    },
  },
  {
    // A small one, for CI: 3000×3000 (9·10^6 pixels, 27 MB of RGB) from ~1 KB.
    name: 'png-bomb-small', weight: 1, expect: 'refuse',
    build: async () => ({ ext: 'png', bytes: zeroRowsPng(3000, 3000, 1, 0) }),
  },

  // ---- zlib and CRC damage ----------------------------------------------------------------------
  {
    name: 'png-preset-dictionary', weight: 1, expect: 'refuse',
    build: async (ctx, d) => {
      if (d.int(2)) return { ext: 'png', bytes: pngFromZlib(ihdrData(2, 1, 8, 2), presetDictionaryZlib(Buffer.from([0, 10, 20, 30, 40, 50, 60]))) };
      const { ihdr, rows } = await rawPng(ctx, src(ctx, d));
      return { ext: 'png', bytes: pngFromZlib(ihdr, presetDictionaryZlib(rows)) };
    },
  },
  {
    name: 'png-truncated-zlib', weight: 2, expect: 'refuse',
    build: async (ctx, d) => {
      const { ihdr, rows } = await rawPng(ctx, src(ctx, d));
      const z = deflateSync(rows);
      return { ext: 'png', bytes: pngFromZlib(ihdr, z.subarray(0, d.range(2, z.length - 5))) };
    },
  },
  {
    name: 'png-bad-crc', weight: 2, expect: 'refuse',
    build: async (ctx, d) => {
      const png = Buffer.from(await ctx.photos.png(src(ctx, d)));
      const critical = pngChunks(png).filter((c) => c.type === 'IHDR' || c.type === 'IDAT');
      const c = d.pick(critical);
      png.writeUInt32BE((png.readUInt32BE(c.end - 4) ^ (1 << d.int(32))) >>> 0, c.end - 4);
      return { ext: 'png', bytes: png };
    },
  },
  {
    name: 'png-bad-crc-ancillary', weight: 1, expect: 'either',
    build: async (ctx, d) => {
      const png = await ctx.photos.png(src(ctx, d));
      const text = pngChunk('tEXt', Buffer.from('Comment\0fuzz', 'latin1'), true);
      return { ext: 'png', bytes: Buffer.concat([png.subarray(0, 33), text, png.subarray(33)]) };
    },
  },
  {
    name: 'png-bad-ihdr', weight: 1, expect: 'refuse',
    build: async (_c, d) => {
      const [depth, colour] = d.pick([[7, 2], [8, 5], [16, 3], [3, 2], [8, 7], [0, 0]] as const);
      return { ext: 'png', bytes: pngFromZlib(ihdrData(8, 8, depth, colour, d.pick([0, 2])), deflateSync(Buffer.alloc(8 * 25))) };
    },
  },
  { name: 'png-no-idat', weight: 1, expect: 'refuse', build: async () => ({ ext: 'png', bytes: Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdrData(8, 8, 8, 2)), IEND]) }) },
  {
    name: 'png-huge-chunk-length', weight: 1, expect: 'refuse',
    build: async (ctx, d) => {
      const png = Buffer.from(await ctx.photos.png(src(ctx, d)));
      const idat = pngChunks(png).find((c) => c.type === 'IDAT')!;
      png.writeUInt32BE(d.pick([0x7fffffff, 0xffffffff, 0x10000000]), idat.start);
      return { ext: 'png', bytes: png };
    },
  },

  // ---- wrong names for the content, other formats, junk -----------------------------------------
  { name: 'png-named-jpg', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'jpg', bytes: await ctx.photos.png(src(ctx, d)) }) },
  { name: 'jpg-named-png', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'png', bytes: await photoJpeg(ctx, d) }) },
  { name: 'text-named-png', weight: 1, expect: 'refuse', build: async (_c, d) => ({ ext: d.pick(['png', 'jpg']), bytes: Buffer.from(TEXT.repeat(d.range(0, 30)) + String(d.int(1e6))) }) },
  { name: 'random-bytes', weight: 2, expect: 'refuse', build: async (_c, d) => ({ ext: d.pick(['png', 'jpg']), bytes: d.bytes(d.range(1, 5000)) }) },
  { name: 'png-signature-junk', weight: 1, expect: 'refuse', build: async (_c, d) => ({ ext: 'png', bytes: Buffer.concat([PNG_SIGNATURE, d.bytes(d.range(0, 300))]) }) },
  { name: 'jpeg-soi-junk', weight: 1, expect: 'refuse', build: async (_c, d) => ({ ext: 'jpg', bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), d.bytes(d.range(0, 300))]) }) },
  {
    name: 'other-format', weight: 1, expect: 'refuse',
    build: async (ctx, d) => {
      const format = d.pick(['gif', 'webp', 'tiff', 'avif'] as const);
      return { ext: d.pick(['jpg', 'png']), bytes: await sharp(ctx.photos.jpeg(src(ctx, d))).toFormat(format).toBuffer() };
    },
  },

  // ---- JPEG and PNG variants ---------------------------------------------------------------------
  { name: 'jpeg-progressive', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'jpg', bytes: await ctx.photos.progressive(src(ctx, d)) }) },
  { name: 'jpeg-arithmetic', weight: 1, expect: 'refuse', build: async () => ({ ext: 'jpg', bytes: ARITHMETIC_JPEG }) }, // decodes; 16×16, no face
  {
    // A Huffman-coded scan under an arithmetic (SOF9) or lossless (SOF3) frame header.
    name: 'jpeg-wrong-process', weight: 1, expect: 'either',
    build: async (ctx, d) => {
      const jpeg = Buffer.from(await ctx.photos.baseline(src(ctx, d)));
      jpeg[findSof(jpeg)!.start + 1] = d.pick([0xc9, 0xc3, 0xcb, 0xc5]);
      return { ext: 'jpg', bytes: jpeg };
    },
  },
  { name: 'jpeg-cmyk', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'jpg', bytes: await ctx.photos.cmyk(src(ctx, d)) }) },
  { name: 'jpeg-gray', weight: 1, expect: 'either', build: async (ctx, d) => ({ ext: 'jpg', bytes: await ctx.photos.gray(src(ctx, d)) }) },
  { name: 'jpeg-exif-rotated', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'jpg', bytes: await ctx.photos.rotated(src(ctx, d)) }) },
  { name: 'png-16bit', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'png', bytes: await ctx.photos.png16(src(ctx, d)) }) },
  { name: 'png-palette', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'png', bytes: await ctx.photos.palette(src(ctx, d)) }) },
  { name: 'png-interlaced', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'png', bytes: await ctx.photos.interlaced(src(ctx, d)) }) },
  { name: 'png-rgba', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'png', bytes: await ctx.photos.rgba(src(ctx, d)) }) },

  // ---- not regular files ------------------------------------------------------------------------
  { name: 'fifo', weight: 1, expect: 'refuse', build: async () => ({ ext: 'jpg', kind: 'fifo' }) },
  { name: 'symlink-dev-zero', weight: 1, expect: 'refuse', build: async (_c, d) => ({ ext: d.pick(['jpg', 'png']), kind: 'symlink', target: '/dev/zero' }) },
  { name: 'directory-named-jpg', weight: 1, expect: 'ignore', build: async () => ({ ext: 'jpg', kind: 'dir' }) },
  { name: 'symlink-dangling', weight: 1, expect: 'refuse', build: async (_c, d) => ({ ext: 'jpg', kind: 'symlink', target: `/nonexistent-csm-fuzz/${d.int(1e9)}.jpg` }) },
  { name: 'symlink-loop', weight: 1, expect: 'refuse', build: async () => ({ ext: 'jpg', kind: 'symlink', target: '' }) }, // target: itself
  { name: 'symlink-to-photo', weight: 1, expect: 'accept', build: async (ctx, d) => ({ ext: 'jpg', kind: 'symlink', bytes: await photoJpeg(ctx, d) }) },
  {
    // Refused when not root; root reads any file, and then it is a photo like any other.
    name: 'unreadable', weight: 1, expect: 'refuse',
    build: async (ctx, d) => ({ ext: 'jpg', kind: 'unreadable', bytes: await photoJpeg(ctx, d), expect: ctx.root ? 'accept' : 'refuse' }),
  },

  // ---- names ------------------------------------------------------------------------------------
  {
    name: 'non-utf8-name', weight: 1, expect: 'accept',
    build: async (ctx, d) => ({ ext: 'jpg', bytes: await photoJpeg(ctx, d), tail: Buffer.concat([Buffer.from('-caf'), Buffer.from([d.pick([0xe9, 0xff, 0xc3, 0x80])]), Buffer.from('.jpg')]) }),
  },
  {
    name: 'non-utf8-name-junk', weight: 1, expect: 'refuse',
    build: async (_c, d) => ({ ext: 'png', bytes: Buffer.from(TEXT), tail: Buffer.concat([Buffer.from('-'), Buffer.from([0xfe, d.range(0x80, 0xbf)]), Buffer.from('.png')]) }),
  },
  {
    // Two names that differ only in bytes that are not UTF-8 read the same: neither can be opened by name.
    name: 'non-utf8-twins', weight: 1, expect: 'refuse',
    build: async (ctx, d) => {
      const bytes = await photoJpeg(ctx, d);
      return [0xe8, 0xe9].map((b) => ({ ext: 'jpg', bytes, tail: Buffer.concat([Buffer.from('-twin'), Buffer.from([b]), Buffer.from('.jpg')]) }));
    },
  },
  {
    name: 'long-name', weight: 1, expect: 'accept',
    build: async (ctx, d) => ({ ext: 'jpg', bytes: await photoJpeg(ctx, d), tail: Buffer.from(`-${'n'.repeat(255 - 20 - 5)}.jpg`) }),
  },
  { name: 'long-name-junk', weight: 1, expect: 'refuse', build: async (_c, d) => ({ ext: 'jpg', bytes: d.bytes(100), tail: Buffer.from(`-${'ü'.repeat(110)}.jpg`) }) },
  {
    name: 'odd-name', weight: 1, expect: 'accept',
    build: async (ctx, d) => ({ ext: 'jpg', bytes: await photoJpeg(ctx, d), tail: Buffer.from(d.pick([' a "quoted" name.jpg', ' #2', '.jpg#1', " it's %s $HOME `x`.jpg", ' 😀 é ß.JPG', ' -- --help.jpg'])) }),
  },
  {
    // A newline and a tab in the name: the cause must still be one line.
    name: 'newline-name', weight: 1, expect: 'refuse',
    build: async (_c, d) => ({ ext: 'jpg', bytes: d.int(2) ? await solid(d, 'jpeg') : Buffer.from(TEXT), tail: Buffer.from('-two\nlines\t.jpg') }),
  },

  // ---- faces ------------------------------------------------------------------------------------
  { name: 'no-face-solid', weight: 2, expect: 'refuse', build: async (_c, d) => { const f = d.pick(['png', 'jpeg'] as const); return { ext: f === 'png' ? 'png' : 'jpg', bytes: await solid(d, f) }; } },
  {
    name: 'no-face-noise', weight: 1, expect: 'either',
    build: async (_c, d) => {
      const [w, h] = [d.range(32, 320), d.range(32, 320)];
      return { ext: 'png', bytes: await sharp(d.bytes(w * h * 3), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer() };
    },
  },
  {
    name: 'tiny-image', weight: 1, expect: 'refuse',
    build: async (_c, d) => { const f = d.pick(['png', 'jpeg'] as const); const s = d.range(1, 4); return { ext: f === 'png' ? 'png' : 'jpg', bytes: await solid(d, f, s, d.range(1, 4)) }; },
  },
  {
    name: 'extreme-aspect', weight: 1, expect: 'either',
    build: async (_c, d) => {
      const long = d.range(5000, 30000);
      const short = d.range(1, 3);
      return d.int(2) ? { ext: 'png', bytes: await solid(d, 'png', long, short) } : { ext: 'png', bytes: await solid(d, 'png', short, long) };
    },
  },
  {
    // A random part of a photo: the face may be cut by the border, or missing.
    name: 'face-crop', weight: 2, expect: 'either',
    build: async (ctx, d) => {
      const k = src(ctx, d);
      const { width, height } = await ctx.photos.size(k);
      const [w, h] = [d.range(8, width), d.range(8, height)];
      const region = { left: d.int(width - w + 1), top: d.int(height - h + 1), width: w, height: h };
      return { ext: 'jpg', bytes: await sharp(ctx.photos.jpeg(k)).extract(region).jpeg({ quality: 90 }).toBuffer() };
    },
  },
  {
    // Tiny (a face of a few pixels) to large (an upscaled face of thousands).
    name: 'face-scaled', weight: 2, expect: 'either',
    build: async (ctx, d) => {
      const k = src(ctx, d);
      const { width } = await ctx.photos.size(k);
      const to = d.pick([8, 16, 24, 40, 64, 400, 1200, 2400]);
      return { ext: 'png', bytes: await sharp(ctx.photos.jpeg(k)).resize({ width: to, kernel: 'linear' }).png({ compressionLevel: 1 }).toBuffer(), ...(to >= width ? { expect: 'accept' as const } : {}) };
    },
  },
  {
    // A photo somewhere on a large plain canvas, or turned by any angle (no EXIF).
    name: 'face-placed', weight: 2, expect: 'either',
    build: async (ctx, d) => {
      const k = src(ctx, d);
      const { width, height } = await ctx.photos.size(k);
      if (d.int(2)) {
        const [cw, ch] = [d.range(width, 2000), d.range(height, 2000)];
        const bytes = await sharp({ create: { width: cw, height: ch, channels: 3, background: { r: d.int(256), g: d.int(256), b: d.int(256) } } })
          .composite([{ input: ctx.photos.jpeg(k), left: d.int(cw - width + 1), top: d.int(ch - height + 1) }]).jpeg({ quality: 90 }).toBuffer();
        return { ext: 'jpg', bytes };
      }
      return { ext: 'jpg', bytes: await sharp(ctx.photos.jpeg(k)).rotate(d.range(1, 359), { background: '#808080' }).jpeg({ quality: 90 }).toBuffer() };
    },
  },
  {
    // Damaged metadata: an EXIF block or an ICC profile of random bytes.
    name: 'bad-metadata', weight: 2, expect: 'either',
    build: async (ctx, d) => {
      const k = src(ctx, d);
      const kind = d.pick(['exif', 'icc-jpeg', 'icc-png', 'exif-orientation'] as const);
      if (kind === 'icc-png') {
        const png = await ctx.photos.png(k);
        const profile = deflateSync(d.bytes(d.range(0, 600)));
        const iccp = pngChunk('iCCP', Buffer.concat([Buffer.from('fuzz\0\0', 'latin1'), d.int(2) ? profile : d.bytes(d.range(1, 200))]));
        return { ext: 'png', bytes: Buffer.concat([png.subarray(0, 33), iccp, png.subarray(33)]) };
      }
      const jpeg = ctx.photos.jpeg(k);
      let body: Buffer;
      if (kind === 'exif') body = Buffer.concat([Buffer.from([0xff, 0xe1, 0, 0]), Buffer.from('Exif\0\0', 'latin1'), d.pick([Buffer.from('MM\0*'), Buffer.from('II*\0')]), d.bytes(d.range(0, 400))]);
      else if (kind === 'exif-orientation') {
        // A well-formed little-endian EXIF block whose one entry, Orientation, holds any value.
        const tiff = Buffer.alloc(26);
        tiff.write('II*\0', 0, 'latin1');
        tiff.writeUInt32LE(8, 4);
        tiff.writeUInt16LE(1, 8);
        tiff.writeUInt16LE(0x0112, 10);
        tiff.writeUInt16LE(3, 12);
        tiff.writeUInt32LE(1, 14);
        tiff.writeUInt16LE(d.pick([0, 9, 255, 65535, 5, 8]), 18);
        body = Buffer.concat([Buffer.from([0xff, 0xe1, 0, 0]), Buffer.from('Exif\0\0', 'latin1'), tiff]);
      } else body = Buffer.concat([Buffer.from([0xff, 0xe2, 0, 0]), Buffer.from('ICC_PROFILE\0', 'latin1'), Buffer.from([1, 1]), d.bytes(d.range(0, 600))]);
      body.writeUInt16BE(body.length - 2, 2);
      return { ext: 'jpg', bytes: Buffer.concat([jpeg.subarray(0, 2), body, jpeg.subarray(2)]) };
    },
  },
  {
    name: 'two-faces', weight: 2, expect: 'accept',
    build: async (ctx, d) => ({ ext: 'jpg', bytes: await ctx.photos.pair(src(ctx, d), src(ctx, d)) }),
  },
];

export function classNames(light = false): string[] {
  return CLASSES.filter((c) => !(light && c.heavy)).map((c) => c.name);
}

const pad = (n: number): string => String(n).padStart(5, '0');

/** The seed of case `index` of a corpus: each file can be rebuilt on its own. */
export function caseSeed(seed: number, index: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

/**
 * Writes the corpus into `dir` (which must exist and be empty): the valid photos as
 * `v<k>-<name>.jpg`, then `count` hostile files `h<index>-<class>...`. The first files go through
 * every class once; the rest are drawn by weight.
 */
export async function writeCorpus(dir: string, options: CorpusOptions): Promise<Corpus> {
  const { seed, count, photos, validCount } = options;
  if (photos.length <= validCount) throw new Error(`need more than ${validCount} photos (some to mutate)`);
  const classes = selectClasses(options);
  const ctx = makeCtx(options);
  const files: FuzzFile[] = [];
  const valid: FuzzFile[] = [];
  for (let k = 0; k < validCount; k++) {
    const name = Buffer.from(`v${k}-photo.jpg`);
    const f: FuzzFile = { index: -1 - k, cls: 'valid', name, listed: name.toString(), expect: 'accept', kind: 'file', bytes: photos[k]! };
    valid.push(f);
    files.push(f);
  }
  const order = classOrder(seed, count, classes);
  for (let index = 0; index < count; index++) files.push(...(await buildCase(ctx, seed, index, order[index]!)));
  for (const f of files) materialise(dir, f);
  return { seed, dir, files, valid };
}

/** The class of every case: each class once, in order, then drawn by weight. */
function classOrder(seed: number, count: number, classes: ClassDef[]): ClassDef[] {
  const total = classes.reduce((s, c) => s + c.weight, 0);
  const pickClass = mulberry32(seed ^ 0x5bd1e995);
  const order: ClassDef[] = [];
  for (let index = 0; index < count; index++) {
    if (index < classes.length) {
      order.push(classes[index]!);
      continue;
    }
    let r = pickClass() * total;
    let cls = classes[classes.length - 1]!;
    for (const c of classes) {
      r -= c.weight;
      if (r < 0) {
        cls = c;
        break;
      }
    }
    order.push(cls);
  }
  return order;
}

async function buildCase(ctx: Ctx, seed: number, index: number, cls: ClassDef): Promise<FuzzFile[]> {
  const built = await cls.build(ctx, new Draw(caseSeed(seed, index)));
  return (Array.isArray(built) ? built : [built]).map((b) => {
    const name = Buffer.concat([Buffer.from(`h${pad(index)}-${cls.name}`), b.tail ?? Buffer.from(`.${b.ext}`)]);
    const f: FuzzFile = { index, cls: cls.name, name, listed: name.toString('utf8'), expect: b.expect ?? cls.expect, kind: b.kind ?? 'file' };
    if (b.bytes) f.bytes = b.bytes;
    if (b.target !== undefined) f.target = b.target;
    return f;
  });
}

/**
 * Case `index` of the corpus `writeCorpus` makes with the same options (count ≥ index + 1),
 * alone, written into `dir`: to reproduce one finding of a campaign.
 */
export async function writeCase(dir: string, options: CorpusOptions & { index: number }): Promise<FuzzFile[]> {
  const classes = selectClasses(options);
  const ctx = makeCtx(options);
  const files = await buildCase(ctx, options.seed, options.index, classOrder(options.seed, options.index + 1, classes)[options.index]!);
  for (const f of files) materialise(dir, f);
  return files;
}

function selectClasses(options: CorpusOptions): ClassDef[] {
  const classes = CLASSES.filter((c) => (!options.classes || options.classes.includes(c.name)) && !(options.light && c.heavy));
  if (!classes.length) throw new Error('no fuzz class selected');
  return classes;
}

function makeCtx(options: CorpusOptions): Ctx {
  return {
    photos: new Photos(options.photos),
    sources: options.photos.map((_, k) => k).slice(options.validCount),
    root: typeof process.getuid === 'function' && process.getuid() === 0,
  };
}

/** Creates one file of the corpus on disk. */
function materialise(dir: string, f: FuzzFile): void {
  const path = Buffer.concat([Buffer.from(`${dir}/`), f.name]);
  switch (f.kind) {
    case 'file':
      writeFileSync(path, f.bytes!);
      break;
    case 'unreadable':
      writeFileSync(path, f.bytes!);
      chmodSync(path, 0);
      break;
    case 'fifo':
      execFileSync('mkfifo', [path.toString('utf8')]);
      break;
    case 'dir':
      mkdirSync(path);
      writeFileSync(join(path.toString('utf8'), 'inside.jpg'), 'not a photo');
      break;
    case 'symlink': {
      if (f.bytes) {
        // The target is hidden (names starting with "." are not listed), so only the link is explained.
        const target = `.target-${f.name.toString('hex').slice(0, 40)}.jpg`;
        writeFileSync(join(dir, target), f.bytes);
        symlinkSync(target, path);
      } else symlinkSync(f.target === '' ? f.name : f.target!, path);
      break;
    }
  }
}

/** A path of the corpus as bytes (for names that are not UTF-8). */
export function pathBytes(dir: string, f: FuzzFile): Buffer {
  return Buffer.concat([Buffer.from(`${dir}/`), f.name]);
}
