import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cropAndResize, resizeBilinear, toGray, type RgbImage } from '../../src/image/index.js';

/** Build a planar image from f(x, y, c). */
function make(width: number, height: number, f: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Float32Array(3 * width * height);
  for (let c = 0; c < 3; c++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[c * width * height + y * width + x] = f(x, y, c);
  return { width, height, data };
}

function at(img: RgbImage, c: number, x: number, y: number): number {
  return img.data[c * img.width * img.height + y * img.width + x]!;
}

function close(a: number, b: number, msg: string, eps = 1e-4): void {
  assert.ok(Math.abs(a - b) <= eps, `${msg}: ${a} vs ${b}`);
}

/** Half-pixel source coordinate clamped to the edge pixels, as TF's halfPixelCenters does. */
function srcCoord(dst: number, srcLen: number, dstLen: number): number {
  return Math.min(Math.max((dst + 0.5) * (srcLen / dstLen) - 0.5, 0), srcLen - 1);
}

test('constant image stays constant when shrinking and enlarging', () => {
  const img = make(13, 9, (_x, _y, c) => [17, 128.5, 250][c]!);
  for (const [w, h] of [[5, 4], [40, 31], [13, 9], [1, 1]] as const) {
    const out = resizeBilinear(img, w, h);
    assert.is(out.width, w);
    assert.is(out.height, h);
    for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) close(at(out, c, x, y), [17, 128.5, 250][c]!, `${w}x${h}`);
  }
});

test('linear ramp resizes to the analytic value', () => {
  const W = 10, H = 6;
  const img = make(W, H, (x, y, c) => 3 * x + 5 * y + c);
  for (const [w, h] of [[4, 3], [25, 17], [7, 11]] as const) {
    const out = resizeBilinear(img, w, h);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const expected = 3 * srcCoord(x, W, w) + 5 * srcCoord(y, H, h) + c;
          close(at(out, c, x, y), expected, `${w}x${h} (${x},${y},${c})`);
        }
      }
    }
  }
});

test('2 -> 4 upsampling matches hand-computed TF halfPixelCenters values', () => {
  const img = make(2, 1, (x) => x * 10);
  const out = resizeBilinear(img, 4, 1);
  assert.equal(Array.from(out.data.subarray(0, 4)), [0, 2.5, 7.5, 10]);
});

test('same-size resize is the identity', () => {
  const img = make(5, 4, (x, y, c) => (x * 31 + y * 7 + c * 50) % 256);
  assert.equal(Array.from(resizeBilinear(img, 5, 4).data), Array.from(img.data));
});

test('cropAndResize of the full-image box equals resizeBilinear', () => {
  const img = make(11, 7, (x, y, c) => (x * x + 3 * y + 40 * c) % 256);
  for (const [w, h] of [[3, 5], [22, 14], [11, 7], [30, 2]] as const) {
    const a = resizeBilinear(img, w, h);
    const b = cropAndResize(img, { x: 0, y: 0, width: 11, height: 7 }, w, h);
    assert.equal(Array.from(b.data), Array.from(a.data), `${w}x${h}`);
  }
});

test('cropAndResize of an integer box at native size is an exact crop', () => {
  const img = make(8, 6, (x, y, c) => x + 10 * y + 100 * c);
  const out = cropAndResize(img, { x: 2, y: 1, width: 4, height: 3 }, 4, 3);
  for (let c = 0; c < 3; c++) for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) assert.is(at(out, c, x, y), at(img, c, x + 2, y + 1));
});

test('cropAndResize: samples off the image are 0, samples on it are bilinear', () => {
  const img = make(4, 4, (x, y) => 1 + x + 4 * y);
  // Box twice the image, centred on it: output pixel i samples source coordinate i - 2.
  const out = cropAndResize(img, { x: -2, y: -2, width: 8, height: 8 }, 8, 8);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const sx = x - 2, sy = y - 2;
      const expected = sx >= 0 && sx < 4 && sy >= 0 && sy < 4 ? 1 + sx + 4 * sy : 0;
      assert.is(at(out, 0, x, y), expected, `(${x},${y})`);
    }
  }
  // Entirely off the image → all zeros.
  const off = cropAndResize(img, { x: 10, y: 10, width: 3, height: 3 }, 3, 3);
  assert.ok(off.data.every((v) => v === 0));
});

test('cropAndResize with a fractional box interpolates', () => {
  const img = make(6, 6, (x, y) => 2 * x + y);
  const box = { x: 1.25, y: 0.5, width: 3, height: 2 };
  const out = cropAndResize(img, box, 6, 4);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 6; x++) {
      const sx = box.x + (x + 0.5) * (box.width / 6) - 0.5;
      const sy = box.y + (y + 0.5) * (box.height / 4) - 0.5;
      close(at(out, 0, x, y), 2 * sx + sy, `(${x},${y})`);
    }
  }
});

test('bad sizes are rejected', () => {
  const img = make(3, 3, () => 1);
  assert.throws(() => resizeBilinear(img, 0, 3), RangeError);
  assert.throws(() => resizeBilinear(img, 2.5, 3), RangeError);
  assert.throws(() => cropAndResize(img, { x: 0, y: 0, width: 0, height: 3 }, 2, 2), RangeError);
  assert.throws(() => cropAndResize(img, { x: NaN, y: 0, width: 1, height: 3 }, 2, 2), RangeError);
});

test('toGray uses 0.2989 R + 0.587 G + 0.114 B', () => {
  const img = make(2, 1, (x, _y, c) => (x === 0 ? [255, 0, 0][c]! : [10, 20, 30][c]!));
  const g = toGray(img);
  assert.is(g.length, 2);
  close(g[0]!, 0.2989 * 255, 'red');
  close(g[1]!, 0.2989 * 10 + 0.587 * 20 + 0.114 * 30, 'mixed');
});

test.run();
