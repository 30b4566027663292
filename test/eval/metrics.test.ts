/** The faithfulness metrics on hand-computed cases (paper Eq. 9–12, method.md). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { averageDrop, equalSumHeatmaps, increaseInConfidence, minMax, negativeExplanation, winPercent, winShares } from '../../src/eval/metrics.js';
import { camFromWeights, resizePlane } from '../../src/eval/baselines/base.js';

test('min-max normalisation, and a constant map is all zeros (no NaN)', () => {
  assert.equal(Array.from(minMax(Float32Array.of(2, 4, 6))), [0, 0.5, 1]);
  assert.equal(Array.from(minMax(Float32Array.of(3, 3, 3))), [0, 0, 0]);
});

test('equal-sum heatmaps: same sum for every method, within [0, 1]; with a fraction, clamped', () => {
  const [a, b] = equalSumHeatmaps([Float32Array.of(0, 1, 2, 3), Float32Array.of(0, 0, 0, 8)]);
  const sum = (m: Float32Array): number => m.reduce((x, y) => x + y, 0);
  assert.ok(Math.abs(sum(a!) - 1) < 1e-6 && Math.abs(sum(b!) - 1) < 1e-6, 'the smaller normalised sum (1) is the common s');
  assert.equal(Array.from(b!), [0, 0, 0, 1]);
  const [c] = equalSumHeatmaps([Float32Array.of(0, 1, 2, 3)], 0.75);
  assert.equal(Array.from(c!), [0, 0.5, 1, 1], 's = 3 → 0, 0.5, 1, 1.5 clamped to 1');
});

test('equal-sum heatmaps: an all-zero map stays zero and does not set the common sum', () => {
  const [a, zero, b] = equalSumHeatmaps([Float32Array.of(0, 1, 2, 3), Float32Array.of(5, 5, 5, 5), Float32Array.of(0, 0, 0, 8)]);
  assert.equal(Array.from(zero!), [0, 0, 0, 0], 'a constant map marks nothing');
  assert.equal(Array.from(b!), [0, 0, 0, 1], 'the others still share s = 1');
  assert.ok(Math.abs(a!.reduce((x, y) => x + y, 0) - 1) < 1e-6);
});

test('negative explanation image E = (1 − H) ⊙ I, per channel', () => {
  const e = negativeExplanation(Float32Array.of(10, 20, 30, 40, 50, 60), Float32Array.of(0.5, 1));
  assert.equal(Array.from(e), [5, 0, 15, 0, 25, 0]);
});

test('Average Drop, % Increase and Win % by hand', () => {
  const original = [0.8, 0.5, 0.9, 0.4];
  const explained = [0.4, 0.6, 0.0, 0.4];
  // drops: 0.5, max(0, −0.2) = 0, 1, 0 → mean 0.375
  assert.ok(Math.abs(averageDrop(original, explained) - 37.5) < 1e-9);
  assert.is(increaseInConfidence(original, explained), 25);
  // image 1: A wins; 2: B wins; 3 and 4: tied, each gets half → A 1 + 0.5 + 0.5 = 2 of 4 images.
  assert.equal(winPercent([[0.4, 0.6, 0.0, 0.3], [0.5, 0.1, 0.0, 0.3]]), [50, 50], 'ties split the win');
  assert.equal(winShares([0.2, 0.2, 0.2, 0.9]), [100 / 3, 100 / 3, 100 / 3, 0], 'three tied methods get a third each');
  const wins = winPercent([[0.1, 0.5, 0.3], [0.1, 0.2, 0.3], [0.4, 0.2, 0.3]]);
  assert.ok(Math.abs(wins.reduce((a, b) => a + b, 0) - 100) < 1e-9, `Win % sums to 100: ${wins}`);
});

test('a map with a support: off-support pixels are 0 and do not use the equal-sum budget, whatever the sign', () => {
  // A reprojected map: pixels 0 and 3 are off the face (no patch reached them, value 0 there); on
  // the face the map is negative. Plain min-max would lift the zeros to the top of the range.
  const values = Float32Array.of(0, -4, -2, 0);
  assert.equal(Array.from(minMax(values)), [1, 0, 0.5, 1], 'without the support the background is the maximum');
  const support = Uint8Array.of(0, 1, 1, 0);
  assert.equal(Array.from(minMax(values, support)), [0, 0, 1, 0], 'over the support: −4 → 0, −2 → 1, background 0');
  const [a, b] = equalSumHeatmaps([{ values, support }, Float32Array.of(0, 1, 2, 3)]);
  assert.equal(Array.from(a!), [0, 0, 1, 0], 'the supported map sums to 1, the common s');
  assert.equal(Array.from(b!), [0, 1 / 6, 2 / 6, 3 / 6].map((v) => Math.fround(v)), 'the plain map (sum 2) scaled to s = 1');
});

test('CAM: ReLU of the weighted channel sum, resized', () => {
  const A = Float32Array.of(1, 2, 3, 4, /* channel 2 */ 4, 3, 2, 1);
  const cam = camFromWeights(A, 2, 2, 2, [1, -1], 2, 2);
  assert.equal(Array.from(cam), [0, 0, 1, 3]);
  assert.equal(Array.from(resizePlane(Float32Array.of(0, 4), 2, 1, 4, 1)), [0, 1, 3, 4]);
});

test.run();
