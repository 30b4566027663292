/** The faithfulness bar chart: error bars span the interval, and the legend and labels have no missing glyphs. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { intervalBarChart, textWidth } from '../../src/index.js';
import { LETTERS } from '../../src/report/letters.js';

test('error bars: ink from the interval\'s low to its high above the bar centre; bars in method colours', () => {
  const c = intervalBarChart([[50]], { width: 200, height: 200, max: 100, intervals: [[{ low: 25, high: 75 }]], legend: ['CMS'], groupLabels: ['Win %'], yLabel: '%' });
  const at = (x: number, y: number): number[] => Array.from(c.rgba.subarray((y * c.width + x) * 4, (y * c.width + x) * 4 + 3));
  // Geometry of intervalBarChart: left 44, top 28, bottom = height − 22 − 12 − 6 = 160, one group.
  const py = (v: number): number => Math.round(160 - (v / 100) * (160 - 28));
  const groupWidth = 200 - 10 - 44 - 4;
  const x0 = Math.round(44 + 4 + groupWidth * 0.1);
  const x1 = Math.round(x0 + groupWidth * 0.8 - 2);
  const mid = Math.round((x0 + x1) / 2);
  assert.equal(at(mid, py(85)), [255, 255, 255], 'nothing above the interval');
  assert.equal(at(mid, py(70)), [30, 30, 30], 'whisker above the bar');
  assert.equal(at(x0 + 1, py(40)), [214, 39, 40], 'bar in the first method colour');
  assert.equal(at(mid, py(30)), [30, 30, 30], 'whisker inside the bar, down to the low end');
  assert.equal(at(x0 + 1, py(60)), [255, 255, 255], 'no bar above its value');
});

test('labels and legend names draw with real glyphs (no missing-glyph boxes)', () => {
  // A missing glyph is 5 wide; letters such as "l", "i", "(" are narrower, so widths tell them apart.
  assert.is(textWidth('l'), 3);
  assert.is(textWidth('('), 3);
  const font = new Set([...'0123456789-+.eEaimnxN ', ...Object.keys(LETTERS)]);
  for (const label of ['CMS', 'Grad-CAM', 'Grad-CAM++', 'Score-CAM', 'Score-CAM (linear)', 'Occlusion', 'CIS', 'Average Drop %', '% Increase', 'Win %', '% (whiskers: 95 % bootstrap intervals)']) {
    for (const ch of label) assert.ok(font.has(ch), `"${ch}" of "${label}" has a glyph`);
  }
});

test.run();
