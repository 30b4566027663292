/** Bootstrap intervals, quantiles, the sign test and the out-of-fold CMS, on hand-computed cases. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assignFolds, bootstrapMeans, foldCms, quantileSorted, signTest } from '../../src/index.js';

test('type-7 quantiles interpolate between order statistics', () => {
  assert.is(quantileSorted([1, 2, 3, 4, 5], 0.5), 3);
  assert.is(quantileSorted([0, 10], 0.25), 2.5);
  assert.ok(Math.abs(quantileSorted([0, 10, 20, 30], 0.975) - 29.25) < 1e-12);
});

test('exact two-sided sign test', () => {
  assert.is(signTest(0, 5), 2 / 32);
  assert.ok(Math.abs(signTest(9, 1) - (2 * (1 + 10)) / 1024) < 1e-15);
  assert.is(signTest(3, 3), 1);
  assert.is(signTest(0, 0), 1);
});

test('percentile bootstrap: a constant column has a point interval; seeded, so reproducible; all values inside the range', () => {
  const [c, v] = bootstrapMeans([[5, 5, 5, 5], [0, 100, 0, 100]], { resamples: 500, seed: 3 });
  assert.equal(c, { low: 5, high: 5 });
  assert.ok(v!.low >= 0 && v!.high <= 100 && v!.low < 50 && v!.high > 50, JSON.stringify(v));
  assert.equal(bootstrapMeans([[0, 100, 0, 100]], { resamples: 500, seed: 3 })[0], v, 'same seed, same interval');
});

test('folds follow sorted path order; each fold\'s CMS is the exact mean of the other folds\' CIS maps', async () => {
  const files = ['e', 'a', 'd', 'c', 'b'];
  assert.equal([...assignFolds(files, 2)], [['a', 0], ['b', 1], ['c', 0], ['d', 1], ['e', 0]]);
  // 1×1 maps: image x has CIS value v(x), covered once.
  const v: Record<string, number> = { a: 1, b: 2, c: 4, d: 8, e: 16 };
  const fold = await foldCms(files, async (f) => ({ map: Float32Array.of(v[f]!), count: Uint32Array.of(1) }), 1, 2);
  assert.is(fold.folds, 2);
  assert.equal(Array.from(fold.cmsFor('a')), [(2 + 8) / 2], 'fold 0 (a, c, e) gets the mean of b and d');
  assert.equal(Array.from(fold.cmsFor('b')), [(1 + 4 + 16) / 3], 'fold 1 (b, d) gets the mean of a, c and e');
  assert.equal(Array.from(fold.cisFor('c')), [4]);
  assert.equal(Array.from(fold.all.mean()), [Math.fround(31 / 5)]);
  const three = await foldCms(['x', 'y'], async (f) => ({ map: Float32Array.of(f === 'x' ? 1 : 3), count: Uint32Array.of(1) }), 1, 5);
  assert.is(three.folds, 2, 'no more folds than images');
  assert.equal(Array.from(three.cmsFor('x')), [3]);
});

test.run();
