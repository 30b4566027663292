import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeImage, encodePng, rgbToRgba8, type RgbImage } from '../../src/image/index.js';

test('rgbToRgba8 rounds, clamps and sets opaque alpha', () => {
  const img: RgbImage = { width: 2, height: 1, data: Float32Array.from([-5, 254.6, 300, 0.4, 127.5, NaN]) };
  // planar: R = [-5, 254.6], G = [300, 0.4], B = [127.5, NaN]
  assert.equal(Array.from(rgbToRgba8(img)), [0, 255, 128, 255, 255, 0, 0, 255]);
});

test('encodePng output decodes back to the same pixels', () => {
  const w = 9, h = 4;
  const data = new Float32Array(3 * w * h);
  for (let i = 0; i < data.length; i++) data[i] = (i * 41) % 256;
  const img: RgbImage = { width: w, height: h, data };
  const png = encodePng(w, h, rgbToRgba8(img));
  const back = decodeImage(png, 'roundtrip.png');
  assert.is(back.width, w);
  assert.is(back.height, h);
  assert.equal(Array.from(back.data), Array.from(data));
});

test('encodePng accepts a view into a larger buffer', () => {
  const backing = new Uint8Array(100).fill(9);
  const view = backing.subarray(10, 10 + 2 * 2 * 4);
  const back = decodeImage(encodePng(2, 2, view), 'view.png');
  assert.ok(back.data.every((v) => v === 9));
});

test('encodePng rejects a wrong-length buffer', () => {
  assert.throws(() => encodePng(2, 2, new Uint8Array(15)), RangeError);
});

test.run();
