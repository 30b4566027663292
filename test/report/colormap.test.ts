import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COLORMAP_NAMES, COLORMAPS, colormap, heatmapRgba, isColormapName, resolveRange } from '../../src/report/index.js';

const near = (a: number[], b: number[], tol: number): boolean => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

test('registry: names list is built from COLORMAPS', () => {
  assert.equal([...COLORMAP_NAMES], Object.keys(COLORMAPS));
  assert.ok(COLORMAP_NAMES.includes('jet') && COLORMAP_NAMES.includes('turbo'));
  assert.ok(isColormapName('jet'));
  assert.not.ok(isColormapName('viridis'));
  assert.not.ok(isColormapName('toString'), 'prototype names are not colour maps');
});

test('jet: dark blue at 0, dark red at 1, green-ish middle', () => {
  assert.equal(colormap('jet', 0), [0, 0, 128]);
  assert.equal(colormap('jet', 1), [128, 0, 0]);
  assert.equal(colormap('jet', 0.5), [128, 255, 128]);
  assert.equal(colormap('jet', 0.25), [0, 128, 255]);
  assert.equal(colormap('jet', 0.75), [255, 128, 0]);
});

test('turbo: the polynomial fit, close to the published table, dark ends, green middle', () => {
  const t0 = colormap('turbo', 0), t1 = colormap('turbo', 1), tm = colormap('turbo', 0.5);
  // The fit's own values at the ends (regression guard on the coefficients).
  assert.equal(t0, [35, 23, 27]);
  assert.equal(t1, [144, 13, 0]);
  // Turbo's lookup table has roughly (48, 18, 59) at 0 and (122, 4, 3) at 1; the fit drifts there.
  assert.ok(near(t0, [48, 18, 59], 35), `turbo(0) = ${t0}`);
  assert.ok(near(t1, [122, 4, 3], 25), `turbo(1) = ${t1}`);
  assert.ok(t0.every((v) => v < 70), 'turbo(0) is dark');
  assert.ok(t1[0] > 4 * Math.max(t1[1], t1[2]), 'turbo(1) is red');
  assert.ok(tm[1] > 200 && tm[1] > tm[0] && tm[1] > tm[2], `turbo(0.5) = ${tm} is green-dominant`);
  assert.ok(colormap('turbo', 0.2)[2] > 200, 'blue/cyan early');
  assert.ok(colormap('turbo', 0.8)[0] > 200 && colormap('turbo', 0.8)[2] < 80, 'orange late');
});

test('colour maps clamp t outside [0, 1] (and NaN to 0)', () => {
  for (const name of COLORMAP_NAMES) {
    assert.equal(colormap(name, -3), colormap(name, 0));
    assert.equal(colormap(name, 7), colormap(name, 1));
    assert.equal(colormap(name, NaN), colormap(name, 0));
    for (let t = 0; t <= 1; t += 0.01) assert.ok(colormap(name, t).every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
  }
});

test('heatmap: a signed map gets a symmetric range, 0 at the middle colour', () => {
  const map = new Float32Array([-1, 0, 0.5, 2]);
  const r = resolveRange(map);
  assert.equal(r, { lo: -2, hi: 2, symmetric: true });
  for (const name of COLORMAP_NAMES) {
    const rgba = heatmapRgba(map, 2, { colormap: name });
    assert.equal([...rgba.subarray(4, 8)], [...colormap(name, 0.5), 255], `${name}: 0 is the middle colour`);
    assert.equal([...rgba.subarray(12, 16)], [...colormap(name, 1), 255], `${name}: max is the last colour`);
    assert.equal([...rgba.subarray(0, 4)], [...colormap(name, 0.25), 255], `${name}: -1 of [-2, 2] is a quarter`);
  }
});

test('heatmap: non-negative maps start at 0; symmetric and range options override', () => {
  const map = new Float32Array([1, 2, 3, 4]);
  assert.equal(resolveRange(map), { lo: 0, hi: 4, symmetric: false });
  assert.equal(resolveRange(map, { symmetric: true }), { lo: -4, hi: 4, symmetric: true });
  assert.equal(resolveRange(new Float32Array([-1, 3]), { symmetric: false }), { lo: -1, hi: 3, symmetric: false });
  const rgba = heatmapRgba(map, 2, { colormap: 'jet', range: [2, 3] });
  assert.equal([...rgba.subarray(0, 4)], [...colormap('jet', 0), 255], 'below range clamps to the first colour');
  assert.equal([...rgba.subarray(12, 16)], [...colormap('jet', 1), 255], 'above range clamps to the last colour');
  assert.throws(() => resolveRange(map, { range: [3, 1] }), /lo ≤ hi/);
});

test('heatmap: masked-out pixels are transparent black and do not set the range', () => {
  const map = new Float32Array([-100, 1, 2, NaN]);
  const mask = new Uint8Array([0, 1, 1, 1]);
  assert.equal(resolveRange(map, { mask }), { lo: 0, hi: 2, symmetric: false });
  const rgba = heatmapRgba(map, 2, { colormap: 'turbo', mask });
  assert.equal([...rgba.subarray(0, 4)], [0, 0, 0, 0]);
  assert.equal([...rgba.subarray(12, 16)], [0, 0, 0, 0], 'NaN is left out too');
  assert.equal([...rgba.subarray(8, 12)], [...colormap('turbo', 1), 255]);
  // All zeros: a degenerate symmetric range paints the middle colour, not the end.
  const zeros = heatmapRgba(new Float32Array(4), 2, { colormap: 'jet', symmetric: true });
  assert.equal([...zeros.subarray(0, 4)], [...colormap('jet', 0.5), 255]);
});

test.run();
