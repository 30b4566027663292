/**
 * Hostile and unusual inputs (issue 13): files that crashed, hung or fooled the old pngjs/jpeg-js
 * decoder, files that are not files, and formats the old decoder got wrong. Every input is built
 * here, in memory or in a temporary folder. Every refusal must be one sentence naming the file,
 * in plain words: no library internals, no "undefined", no stack.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage, decodeImageAsync, readImage, ImageDecodeError, type RgbImage } from '../../src/image/index.js';
import { chunk, PNG_SIGNATURE, PNG_IEND } from '../helpers/png-chunks.js';

// ---- helpers ------------------------------------------------------------------------------------

const SIGNATURE = PNG_SIGNATURE;
const IEND = PNG_IEND;

function ihdr(width: number, height: number, depth: number, colorType: number): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d[8] = depth;
  d[9] = colorType;
  return chunk('IHDR', d);
}

/** A PNG from raw scanlines (each already led by its filter byte). */
function png(width: number, height: number, depth: number, colorType: number, raw: Uint8Array): Buffer {
  return Buffer.concat([SIGNATURE, ihdr(width, height, depth, colorType), chunk('IDAT', deflateSync(raw)), IEND]);
}

function at(img: RgbImage, c: number, x: number, y: number): number {
  return img.data[c * img.width * img.height + y * img.width + x]!;
}

/**
 * The error `run` throws, checked to be an ImageDecodeError for `file` whose message is one
 * plain sentence: the fixed prefix naming the file, one line, no library internals or stack.
 */
async function refusal(run: () => unknown, file: string): Promise<ImageDecodeError> {
  let caught: unknown;
  try {
    await run();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `${file}: expected a refusal, but it decoded`);
  assert.instance(caught, ImageDecodeError, `${file}: ${String(caught)}`);
  const e = caught as ImageDecodeError;
  assert.is(e.file, file);
  assert.ok(e.message.startsWith(`cannot read image "${file}": `), e.message);
  assert.not.match(e.message, /\n/, `one line: ${e.message}`);
  assert.not.match(e.message, /undefined|Cannot read properties|have should not go down|\bat \S+:\d+/, `plain words: ${e.message}`);
  assert.not.match(e.message, /vips|libpng|spng|pngjs|jpeg-js|sharp|ENOENT|EISDIR|errno|assert/i, `plain words: ${e.message}`);
  return e;
}

/** Fails instead of hanging when `promise` takes longer than `ms`. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csm-hostile-'));
});
test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---- PNGs that broke pngjs ---------------------------------------------------------------------

test('a 77-byte PNG declaring 100000000×1 RGB is refused as truncated, without crashing the process', async () => {
  // Under the default pixel limit (1e8), so it reaches the decoder; its IDAT holds 20 bytes, not 3e8.
  const bytes = Buffer.concat([SIGNATURE, ihdr(100_000_000, 1, 8, 2), chunk('IDAT', deflateSync(Buffer.alloc(9), { level: 0 })), IEND]);
  assert.is(bytes.length, 77);
  const path = join(dir, 'wide.png');
  await writeFile(path, bytes);
  const e = await refusal(() => readImage(path), path);
  assert.match(e.reason, /truncated|corrupt/);
  await refusal(() => decodeImage(bytes, 'wide.png'), 'wide.png');
  // With a lower limit it is refused on its header alone, naming the size.
  const small = await refusal(() => decodeImageAsync(bytes, 'wide.png', 10_000_000), 'wide.png');
  assert.is(small.reason, 'it declares 100000000x1 pixels, over the limit of 10000000');
});

test('a PNG whose zlib stream asks for a preset dictionary is refused, the same way every time', async () => {
  const raw = Buffer.from([0, 10, 20, 30, 40, 50, 60]);
  const deflated = deflateSync(raw);
  // Header 78 20: FDICT set (and (0x78 * 256 + 0x20) % 31 == 0), then a 4-byte dictionary id.
  const zlib = Buffer.concat([Buffer.from([0x78, 0x20, 0, 0, 0, 1]), deflated.subarray(2)]);
  const bytes = Buffer.concat([SIGNATURE, ihdr(2, 1, 8, 2), chunk('IDAT', zlib), IEND]);
  const outcomes: string[] = [];
  for (let k = 0; k < 3; k++) {
    try {
      outcomes.push(JSON.stringify(Array.from((await decodeImageAsync(bytes, 'fdict.png')).data)));
    } catch (err) {
      outcomes.push((await refusal(() => { throw err; }, 'fdict.png')).message);
    }
  }
  assert.is(new Set(outcomes).size, 1, outcomes.join(' | '));
  assert.match(outcomes[0]!, /^cannot read image "fdict\.png": the PNG data is corrupt$/);
});

test('mutated PNGs and JPEGs decode or are refused in plain words, never crash or leak internals', async () => {
  const w = 24, h = 16;
  const rgb = Buffer.alloc(w * h * 3);
  for (let p = 0; p < w * h; p++) rgb.set([(p * 7) % 256, (p * 13) % 256, (p * 29) % 256], 3 * p);
  const seeds = [
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer(),
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer(),
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90, progressive: true }).toBuffer(),
  ];
  let state = 2463534242;
  const rand = (n: number): number => {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state % n;
  };
  let decoded = 0, refused = 0;
  for (let k = 0; k < 150; k++) {
    const seed = seeds[k % seeds.length]!;
    const bytes = Buffer.from(seed);
    const flips = 1 + rand(4);
    // Keep the signature so that the decoder, not the sniffing, is what gets exercised.
    for (let f = 0; f < flips; f++) bytes[8 + rand(bytes.length - 8)] = rand(256);
    const cut = rand(4) === 0 ? bytes.subarray(0, 8 + rand(bytes.length - 8)) : bytes;
    try {
      const img = await decodeImageAsync(cut, `m${k}`);
      assert.is(img.data.length, 3 * img.width * img.height);
      decoded++;
    } catch (err) {
      await refusal(() => { throw err; }, `m${k}`);
      refused++;
    }
  }
  assert.ok(refused > 10, `only ${refused} of 150 refused`);
  console.log(`  mutated inputs: ${decoded} decoded, ${refused} refused in plain words`);
});

// ---- JPEG variants jpeg-js got wrong -----------------------------------------------------------

/** A smooth 16×16 gradient: R = 60 + 4x, G = 90 + 3y, B = 150. */
function gradient(): Buffer {
  const rgb = Buffer.alloc(16 * 16 * 3);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) rgb.set([60 + 4 * x, 90 + 3 * y, 150], 3 * (y * 16 + x));
  return rgb;
}

/** Marker segments before the scan: [marker, start, end). */
function segments(jpeg: Buffer): { marker: number; start: number; end: number }[] {
  const out = [];
  let i = 2;
  while (i + 4 <= jpeg.length) {
    const marker = jpeg[i + 1]!;
    const end = i + 2 + jpeg.readUInt16BE(i + 2);
    out.push({ marker, start: i, end });
    if (marker === 0xda) break;
    i = end;
  }
  return out;
}

test('Adobe transform-0 JPEG: the components are RGB, not YCbCr', async () => {
  // Encode normally (YCbCr, no subsampling), then declare the same components RGB: drop any JFIF
  // APP0 and add an Adobe APP14 with transform 0. A correct decoder now outputs the stored Y, Cb,
  // Cr values as R, G, B; one that ignores the flag outputs the original colours.
  const rgb = gradient();
  const ycc = await sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer();
  const app14 = Buffer.from([0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const parts = [ycc.subarray(0, 2), app14];
  for (const s of segments(ycc)) {
    if (s.marker === 0xe0) continue;
    parts.push(s.marker === 0xda ? ycc.subarray(s.start) : ycc.subarray(s.start, s.end));
  }
  const adobe = Buffer.concat(parts);
  const normal = await decodeImageAsync(ycc, 'ycc.jpg');
  const img = await decodeImageAsync(adobe, 'adobe.jpg');
  let maxErr = 0, maxMove = 0;
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      const [r, g, b] = [at(normal, 0, x, y), at(normal, 1, x, y), at(normal, 2, x, y)];
      const expected = [
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
      ];
      for (let c = 0; c < 3; c++) {
        maxErr = Math.max(maxErr, Math.abs(at(img, c, x, y) - expected[c]!));
        maxMove = Math.max(maxMove, Math.abs(at(img, c, x, y) - at(normal, c, x, y)));
      }
    }
  }
  assert.ok(maxErr <= 1.5, `transform-0 components off by up to ${maxErr}`);
  assert.ok(maxMove > 40, 'the Adobe flag made no difference');
});

test('CMYK JPEG (Adobe marker, inverted) decodes to RGB', async () => {
  const colour = { r: 200, g: 150, b: 120 }; // skin tone, well inside the CMYK gamut
  const cmyk = await sharp({ create: { width: 16, height: 16, channels: 3, background: colour } }).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
  assert.is((await sharp(cmyk).metadata()).channels, 4);
  const img = await decodeImageAsync(cmyk, 'cmyk.jpg');
  assert.is(img.data.length, 3 * 16 * 16);
  // sRGB → CMYK → sRGB through a print profile is not exact: measured 0, 3 and 6 off here.
  const got = [at(img, 0, 8, 8), at(img, 1, 8, 8), at(img, 2, 8, 8)];
  [colour.r, colour.g, colour.b].forEach((v, c) => assert.ok(Math.abs(got[c]! - v) <= 10, `CMYK decode ${got} vs ${JSON.stringify(colour)}`));
});

/**
 * The gradient() image, encoded by sharp 0.35.5 (quality 95, 4:2:0) and then losslessly recoded
 * with arithmetic coding by `jpegtran -arithmetic -copy none` (libjpeg-turbo 2.1.5): SOF9 at byte 158.
 */
const ARITHMETIC_JPEG =
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/' +
  '2wBDAQICAgICAgUDAwUKBwYHCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgr/yQARCAAQABADASIAAhEBAxEB/8wACgAQ' +
  'EAUBEBEF/9oADAMBAAIRAxEAPwD/AM0/6mdr/jICdhiNr+bBZfTZuw8T92/+uJKdooDP9/1y5/CA/9k=';

test('arithmetic-coded JPEG (SOF9) decodes', async () => {
  const bytes = Buffer.from(ARITHMETIC_JPEG, 'base64');
  assert.is(bytes[158], 0xff);
  assert.is(bytes[159], 0xc9);
  const img = await decodeImageAsync(bytes, 'arith.jpg');
  assert.is(img.width, 16);
  assert.is(img.height, 16);
  const rgb = gradient();
  let maxErr = 0;
  for (let p = 0; p < 256; p++) for (let c = 0; c < 3; c++) maxErr = Math.max(maxErr, Math.abs(img.data[c * 256 + p]! - rgb[3 * p + c]!));
  assert.ok(maxErr <= 8, `max error ${maxErr}`);
});

test('EXIF orientation 6 is applied: width and height swap, pixels rotate 90° clockwise', async () => {
  // Stored 40×20 with quadrants TL red, TR green, BL blue, BR white.
  const w = 40, h = 20;
  const quadrant = (x: number, y: number): number[] =>
    y < h / 2 ? (x < w / 2 ? [255, 0, 0] : [0, 255, 0]) : (x < w / 2 ? [0, 0, 255] : [255, 255, 255]);
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set(quadrant(x, y), 3 * (y * w + x));
  const jpeg = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).withMetadata({ orientation: 6 }).toBuffer();
  assert.is((await sharp(jpeg).metadata()).orientation, 6);
  const path = join(dir, 'rotated.jpg');
  await writeFile(path, jpeg);
  const img = await readImage(path);
  assert.is(img.width, 20);
  assert.is(img.height, 40);
  // Rotating clockwise: displayed TL = stored BL (blue), TR = stored TL (red),
  // BL = stored BR (white), BR = stored TR (green).
  const expect: [number, number, number[]][] = [[5, 10, [0, 0, 255]], [15, 10, [255, 0, 0]], [5, 30, [255, 255, 255]], [15, 30, [0, 255, 0]]];
  for (const [x, y, colour] of expect) {
    const got = [0, 1, 2].map((c) => at(img, c, x, y));
    colour.forEach((v, c) => assert.ok(Math.abs(got[c]! - v) <= 8, `(${x},${y}) is ${got}, expected ${colour}`));
  }
  // The synchronous path agrees.
  assert.equal(decodeImage(jpeg, 'rotated.jpg').data, img.data);
});

// ---- PNG variants ------------------------------------------------------------------------------

test('16-bit gray+alpha PNG: gray kept at full precision on all three channels, alpha dropped', async () => {
  const values = [0, 1, 257 * 100, 32768, 65534, 65535];
  const raw = Buffer.alloc(1 + values.length * 4);
  values.forEach((v, i) => {
    raw.writeUInt16BE(v, 1 + 4 * i);
    raw.writeUInt16BE(i % 2 ? 0 : 40000, 3 + 4 * i); // alpha, some fully transparent
  });
  const img = await decodeImageAsync(png(values.length, 1, 16, 4, raw), 'ga16.png');
  values.forEach((v, i) => {
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(at(img, c, i, 0) - (v * 255) / 65535) < 1e-3, `pixel ${i} channel ${c}: ${at(img, c, i, 0)}`);
  });
});

test('ICC profiles: applied to 8-bit images (sRGB stays put), ignored for 16-bit (samples kept as stored)', async () => {
  // sharp's own sRGB profile, taken from the iCCP chunk of an 8-bit PNG it writes.
  const written = await sharp(Buffer.from([255, 0, 0, 0, 255, 0, 51, 153, 204]), { raw: { width: 3, height: 1, channels: 3 } })
    .withIccProfile('srgb').png().toBuffer();
  const img8 = await decodeImageAsync(written, 'srgb8.png');
  assert.equal(Array.from(img8.data), [255, 0, 51, 0, 255, 153, 0, 0, 204]);
  let iccp: Buffer | undefined;
  for (let at = 8; at + 12 <= written.length; at += 12 + written.readUInt32BE(at)) {
    if (written.toString('latin1', at + 4, at + 8) === 'iCCP') iccp = written.subarray(at, at + 12 + written.readUInt32BE(at));
  }
  assert.ok(iccp, 'sharp wrote no iCCP chunk');
  // A hand-made 16-bit RGB PNG carrying that profile: sharp would read it as Display P3.
  const values = [65535, 0, 0, 0, 65535, 0, 13107, 39321, 52428];
  const raw = Buffer.alloc(1 + 2 * values.length);
  values.forEach((v, i) => raw.writeUInt16BE(v, 1 + 2 * i));
  const bytes = Buffer.concat([SIGNATURE, ihdr(3, 1, 16, 2), iccp!, chunk('IDAT', deflateSync(raw)), IEND]);
  assert.ok((await sharp(bytes).metadata()).hasProfile);
  const img = await decodeImageAsync(bytes, 'srgb16.png');
  for (let p = 0; p < 3; p++) {
    for (let c = 0; c < 3; c++) {
      const expected = (values[3 * p + c]! * 255) / 65535;
      assert.ok(Math.abs(at(img, c, p, 0) - expected) < 1e-3, `pixel ${p} channel ${c}: ${at(img, c, p, 0)} vs ${expected}`);
    }
  }
});

// ---- things that are not regular files ---------------------------------------------------------

test('a FIFO named .jpg is refused at once, without waiting for a writer', async () => {
  const path = join(dir, 'pipe.jpg');
  execFileSync('mkfifo', [path]);
  const e = await within(5000, 'readImage on a FIFO', refusal(() => readImage(path), path));
  assert.is(e.reason, 'it is a FIFO (named pipe), not a regular file');
});

test('a symbolic link to /dev/zero is refused without reading it', async () => {
  const path = join(dir, 'zero.jpg');
  await symlink('/dev/zero', path);
  const e = await within(5000, 'readImage on /dev/zero', refusal(() => readImage(path), path));
  assert.is(e.reason, 'it is a symbolic link to a character device ("/dev/zero"), not a regular file');
});

test('directories, sockets, broken links and missing files are refused with their cause', async () => {
  const folder = join(dir, 'folder.png');
  await mkdir(folder);
  assert.is((await refusal(() => readImage(folder), folder)).reason, 'it is a directory, not a regular file');

  const socketPath = join(dir, 'sock.jpg');
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  try {
    assert.is((await refusal(() => readImage(socketPath), socketPath)).reason, 'it is a socket, not a regular file');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  const broken = join(dir, 'broken.jpg');
  await symlink(join(dir, 'nowhere.jpg'), broken);
  assert.is((await refusal(() => readImage(broken), broken)).reason, 'it is a symbolic link whose target does not exist');

  const missing = join(dir, 'missing.jpg');
  assert.is((await refusal(() => readImage(missing), missing)).reason, 'no such file');
});

test('a symbolic link to a regular image is followed', async () => {
  const target = join(dir, 'real.png');
  await writeFile(target, png(2, 1, 8, 0, Buffer.from([0, 10, 250])));
  const link = join(dir, 'link.png');
  await symlink(target, link);
  assert.equal(Array.from((await readImage(link)).data), [10, 250, 10, 250, 10, 250]);
});

test('files over the size cap are refused before they are read', async () => {
  const path = join(dir, 'big.png');
  const bytes = png(64, 64, 8, 0, Buffer.alloc(64 * 65));
  await writeFile(path, bytes);
  assert.is((await readImage(path, { maxBytes: bytes.length })).width, 64);
  const e = await refusal(() => readImage(path, { maxBytes: bytes.length - 1 }), path);
  assert.is(e.reason, `the file is ${bytes.length} bytes, over the size limit of ${bytes.length - 1} bytes`);
  const big = await refusal(() => readImage(path, { maxBytes: 10 }), path);
  assert.is(big.reason, `the file is ${bytes.length} bytes, over the size limit of 10 bytes`);
});

test('truncated JPEG and text files on disk: one sentence naming the file', async () => {
  const jpeg = await sharp(gradient(), { raw: { width: 16, height: 16, channels: 3 } }).jpeg().toBuffer();
  const cut = join(dir, 'cut.jpg');
  await writeFile(cut, jpeg.subarray(0, jpeg.length - 100));
  assert.is((await refusal(() => readImage(cut), cut)).reason, 'the file is truncated (the JPEG data ends before the image is complete)');
  const text = join(dir, 'notes.png');
  await writeFile(text, 'this is not an image\n');
  assert.is((await refusal(() => readImage(text), text)).reason, 'not a PNG or JPEG file');
  const empty = join(dir, 'empty.jpg');
  await writeFile(empty, '');
  assert.is((await refusal(() => readImage(empty), empty)).reason, 'the file is empty');
});

test('a file name that is not UTF-8 is found (not "no such file"), by its Buffer name or by the name readdir gives', async () => {
  const sub = join(dir, 'latin1');
  await mkdir(sub);
  const bytes = png(2, 1, 8, 0, Buffer.from([0, 33, 66]));
  const raw = Buffer.concat([Buffer.from(`${sub}/caf`), Buffer.from([0xe9]), Buffer.from('.png')]); // "café" in Latin-1
  await writeFile(raw, bytes);
  const [listed] = await readdir(sub); // Node's UTF-8 decoding: "caf\uFFFD.png"
  assert.is(listed, 'caf\uFFFD.png');
  assert.equal(Array.from((await readImage(join(sub, listed!))).data), [33, 66, 33, 66, 33, 66]);
  assert.equal(Array.from((await readImage(raw)).data), [33, 66, 33, 66, 33, 66]);
  // Errors name it with the replacement character.
  await writeFile(raw, 'not an image');
  assert.is((await refusal(() => readImage(raw), join(sub, 'caf\uFFFD.png'))).reason, 'not a PNG or JPEG file');
  // Two names that read the same cannot be told apart: say so rather than guess.
  await writeFile(Buffer.concat([Buffer.from(`${sub}/caf`), Buffer.from([0xe8]), Buffer.from('.png')]), bytes);
  const ambiguous = join(sub, 'caf\uFFFD.png');
  assert.match((await refusal(() => readImage(ambiguous), ambiguous)).reason, /not valid UTF-8 and 2 files in its folder have names that read the same/);
  const gone = join(sub, 'gone\uFFFD.png');
  assert.match((await refusal(() => readImage(gone), gone)).reason, /^no such file \(nor one whose name, not valid UTF-8, reads the same\)$/);
});

test('decoding the same bytes twice gives identical pixels, sync and async', async () => {
  const jpeg = await sharp(gradient(), { raw: { width: 16, height: 16, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
  const a = await decodeImageAsync(jpeg, 'a.jpg');
  const b = await decodeImageAsync(Buffer.from(jpeg), 'b.jpg');
  const c = decodeImage(jpeg, 'c.jpg');
  assert.equal(a.data, b.data);
  assert.equal(a.data, c.data);
});

test.run();
