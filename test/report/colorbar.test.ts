import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeImage } from '../../src/image/index.js';
import { colorbarTicks, colormap, formatTick, heatmapWithColorbar, rgbaPng, textWidth, withColorbar } from '../../src/report/index.js';
import { REPO_ROOT } from '../helpers/data.js';

const OUT = join(REPO_ROOT, 'test-output', 'report');

test('tick labels are short and use only glyphs of the font', () => {
  assert.is(formatTick(0), '0');
  assert.is(formatTick(0.123456), '0.123');
  assert.is(formatTick(-2.5), '-2.5');
  assert.is(formatTick(1234.5), '1230');
  assert.is(formatTick(0.00012345), '1.23e-4');
  assert.is(formatTick(-3e7), '-3e+7');
  assert.equal(colorbarTicks(-1, 2), [-1, 0, 2]);
  assert.equal(colorbarTicks(0, 2), [0, 2]);
  assert.equal(colorbarTicks(1, 1), [1]);
  assert.is(textWidth('8', 1), 5);
  assert.is(textWidth('88', 2), 22);
});

test('colour bar figure: PNG decodes, expected size, bar runs from max (top) to min (bottom)', () => {
  const size = 128;
  const map = new Float32Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) map[y * size + x] = (x / (size - 1)) * 3 - 1; // -1 .. 2
  const fig = heatmapWithColorbar(map, size, { colormap: 'jet' });
  const png = rgbaPng(fig);
  const img = decodeImage(png, 'colorbar.png');
  assert.is(img.width, fig.width);
  assert.is(img.height, fig.height);
  assert.is(fig.height, size);
  assert.ok(fig.width > size + 10 + 10 && fig.width < size + 80, `width ${fig.width}`);
  // The bar's column: find the topmost and bottommost coloured pixel right of the heatmap.
  const barX = size + 6 + 5;
  const px = (x: number, y: number): number[] => {
    const p = y * img.width + x, n = img.width * img.height;
    return [img.data[p]!, img.data[n + p]!, img.data[2 * n + p]!];
  };
  const rows = [...Array(img.height).keys()].filter((y) => { const [r, g, b] = px(barX, y); return !(r === g && g === b); });
  const top = px(barX, rows[0]!), bottom = px(barX, rows[rows.length - 1]!);
  assert.equal(top, colormap('jet', 1), 'top of the bar is the max colour');
  assert.equal(bottom, colormap('jet', 0), 'bottom is the min colour');
  // Labels are drawn (black pixels right of the bar).
  let ink = 0;
  for (let y = 0; y < img.height; y++) for (let x = barX + 12; x < img.width; x++) if (px(x, y).every((v) => v < 60)) ink++;
  assert.ok(ink > 30, `label ink pixels: ${ink}`);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'colorbar.png'), png);
  // A larger one with exponent labels, to look at the font.
  const big = 384;
  const tiny = new Float32Array(big * big).map((_, p) => ((p % big) / big - 0.3) * 2e-4);
  writeFileSync(join(OUT, 'colorbar-exponent.png'), rgbaPng(heatmapWithColorbar(tiny, big, { colormap: 'turbo' })));
});

test('withColorbar checks the image size', () => {
  assert.throws(() => withColorbar({ width: 4, height: 4, rgba: new Uint8Array(10) }, { colormap: 'jet', range: [0, 1] }), /bytes/);
});

test.run();
