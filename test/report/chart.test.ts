/** Charts: round ticks, axis titles, legends; the bitmap font behind their labels. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BAR_COLORS, barChart, drawText, drawTextUp, GLYPH_HEIGHT, lineChart, niceTicks, textWidth, type RgbaImage } from '../../src/report/index.js';

/** Whether any pixel of the region has exactly this colour. */
function has(img: RgbaImage, rgb: readonly number[], x0 = 0, y0 = 0, x1 = img.width, y1 = img.height): boolean {
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const o = (y * img.width + x) * 4;
      if (img.rgba[o] === rgb[0] && img.rgba[o + 1] === rgb[1] && img.rgba[o + 2] === rgb[2]) return true;
    }
  }
  return false;
}

/** Whether any pixel of the region is not white. */
const inked = (img: RgbaImage, x0: number, y0: number, x1: number, y1: number): boolean => {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (img.rgba[(y * img.width + x) * 4]! < 255) return true;
  return false;
};

test('niceTicks: round steps of 1, 2, 2.5 or 5 × 10^k inside the range', () => {
  assert.equal(niceTicks(0, 100, 4), [0, 25, 50, 75, 100]);
  assert.equal(niceTicks(0.35, 1, 4), [0.4, 0.6, 0.8, 1]);
  assert.equal(niceTicks(1, 54, 6), [10, 20, 30, 40, 50]);
  assert.equal(niceTicks(-1, 1, 4), [-1, -0.5, 0, 0.5, 1]);
  assert.equal(niceTicks(3, 3), [3]);
});

test('the font draws every printable ASCII character and the symbols of figure labels, none as the missing-glyph box', () => {
  const draw = (ch: string): string => {
    const w = textWidth(ch) + 2;
    const rgba = new Uint8Array(w * 11 * 4).fill(255);
    drawText(rgba, w, 11, 1, 1, ch, [0, 0, 0, 255]);
    return Buffer.from(rgba).toString('base64');
  };
  const tofu = draw('\u20ac');
  const chars = [...Array.from({ length: 95 }, (_, k) => String.fromCharCode(32 + k)), ...'ρφτ×·−±‖'];
  for (const ch of chars) assert.is.not(draw(ch), tofu, `"${ch}" has a glyph`);
  // Descenders hang below the line: 'p' inks rows 7–8, 'o' does not.
  const below = (ch: string): boolean => {
    const rgba = new Uint8Array(8 * 12 * 4).fill(255);
    drawText(rgba, 8, 12, 1, 1, ch, [0, 0, 0, 255]);
    return inked({ width: 8, height: 12, rgba }, 0, 1 + GLYPH_HEIGHT, 8, 12);
  };
  assert.ok(below('p'));
  assert.not.ok(below('o'));
});

test('drawTextUp turns text a quarter left: its box is GLYPH_HEIGHT wide and textWidth tall, reading upwards', () => {
  const text = 'L';
  const w = GLYPH_HEIGHT, h = textWidth(text);
  const rgba = new Uint8Array(w * h * 4).fill(255);
  drawTextUp(rgba, w, h, 0, 0, text, [0, 0, 0, 255]);
  const ink = (x: number, y: number): boolean => rgba[(y * w + x) * 4] === 0;
  // 'L' upright: a column down the left, a row along the bottom. Turned left: a row along the
  // bottom (the upright's left column) and a column on the right (its bottom row).
  for (let x = 0; x < w; x++) assert.ok(ink(x, h - 1), `bottom row ${x}`);
  for (let y = 0; y < h; y++) assert.ok(ink(w - 1, y), `right column ${y}`);
  assert.not.ok(ink(0, 0));
});

test('lineChart: axis titles where asked, a legend entry in each series colour, PNG-ready RGBA', () => {
  const plain = lineChart([[1, 1], [2, 0.5], [3, 0.2]], { logY: true });
  assert.is(plain.rgba.length, plain.width * plain.height * 4);
  assert.not.ok(inked(plain, 0, 0, 7, plain.height), 'no y title without yLabel');
  const titled = lineChart([{ label: 'Spearman ρ', points: [[0, 1], [3, 0.2]] }, { label: 'SSIM', points: [[0, 1], [3, 0.6]] }], { xLabel: 'layers randomised', yLabel: 'similarity' });
  assert.ok(inked(titled, 6, 0, 6 + GLYPH_HEIGHT, titled.height), 'y title up the left edge');
  assert.ok(inked(titled, 0, titled.height - 16, titled.width, titled.height), 'x title along the bottom');
  // Legend above the plot: a swatch of each series' colour in the top rows.
  for (const c of BAR_COLORS.slice(0, 2)) assert.ok(has(titled, c, 0, 0, titled.width, 20), `legend colour ${c}`);
});

test('barChart: a legend of every series colour, group labels under the groups, value axis ticks', () => {
  const methods = ['CMS', 'Grad-CAM', 'Grad-CAM++', 'Score-CAM', 'Occlusion'];
  const img = barChart([[10, 20, 30, 40, 50], [5, 0, 0, 100, 1], [20, 20, 20, 20, 20]], { max: 100, groupLabels: ['Average Drop %', '% Increase', 'Win %'], seriesLabels: methods, yLabel: 'percent' });
  for (const c of BAR_COLORS.slice(0, methods.length)) assert.ok(has(img, c, 0, 0, img.width, 20), `legend colour ${c}`);
  assert.ok(inked(img, 0, img.height - 20, img.width, img.height - 6), 'group labels under the bars');
  assert.ok(inked(img, 6, 0, 6 + GLYPH_HEIGHT, img.height), 'y title');
  const bare = barChart([[1, 2]]);
  assert.not.ok(has(bare, BAR_COLORS[0]!, 0, 0, bare.width, 20), 'no legend without series labels');
});

test.run();
