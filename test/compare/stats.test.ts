/**
 * The comparison statistics on synthetic per-image maps: power and interval coverage with a known
 * difference, and the family-wise false-positive rate with none (seeded null replications).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { benjaminiHochberg, compareMapSets, compareSamples, convergenceBand, holm, normaliseMap, regionSample, type CanonicalMapSet, type MapSample } from '../../src/index.js';
import { mulberry32 } from '../helpers/random.js';

/** Standard normal from a uniform generator (Box–Muller). */
function normal(r: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** size×size maps: smooth noise (3×3 box-blurred white noise, so pixels are correlated) + base + shift inside the square. */
function maps(count: number, size: number, seed: number, shift = 0, square = { x0: 4, y0: 4, side: 6 }, sd = 1): Float32Array[] {
  const g = normal(mulberry32(seed));
  const out: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const w = Float64Array.from({ length: size * size }, () => g());
    const m = new Float32Array(size * size);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      let s = 0, n = 0;
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy, xx = x + dx;
        if (yy >= 0 && yy < size && xx >= 0 && xx < size) { s += w[yy * size + xx]!; n++; }
      }
      const inSquare = x >= square.x0 && x < square.x0 + square.side && y >= square.y0 && y < square.y0 + square.side;
      m[y * size + x] = (sd * s) / Math.sqrt(n) + 0.5 + (inSquare ? shift : 0);
    }
    out.push(m);
  }
  return out;
}

const full = (count: number, size: number): Uint8Array[] => Array.from({ length: count }, () => new Uint8Array(size * size).fill(1));
const sample = (values: Float32Array[], size: number, valid = full(values.length, size)): MapSample => ({ columns: size * size, values, valid });
const inSq = (p: number, size: number, sq = { x0: 4, y0: 4, side: 6 }): boolean => {
  const x = p % size, y = Math.floor(p / size);
  return x >= sq.x0 && x < sq.x0 + sq.side && y >= sq.y0 && y < sq.y0 + sq.side;
};

test('paired: a square shifted by +δ in A is found (power) and its intervals cover δ', () => {
  const size = 16, n = 30, delta = 1;
  // Paired: B_i = A_i's image plus its own noise; A_i = shared image + δ in the square + noise.
  const shared = maps(n, size, 11, 0, undefined, 1);
  const noiseA = maps(n, size, 12, 0, undefined, 0.7), noiseB = maps(n, size, 13, 0, undefined, 0.7);
  const A = shared.map((s, i) => s.map((v, p) => v + noiseA[i]![p]! + (inSq(p, size) ? delta : 0)));
  const B = shared.map((s, i) => s.map((v, p) => v + noiseB[i]![p]!));
  const r = compareSamples('paired', sample(A, size), sample(B, size), { permutations: 500, bootstrap: 500, seed: 5 });
  let found = 0, falsePos = 0, covered = 0;
  for (let p = 0; p < size * size; p++) {
    if (inSq(p, size)) { found += r.significant[p]!; if (r.low[p]! <= delta && delta <= r.high[p]!) covered++; } else falsePos += r.significant[p]!;
  }
  assert.ok(found / 36 >= 0.9, `power ${found}/36`);
  assert.ok(falsePos <= 2, `false positives outside the square: ${falsePos}`);
  assert.ok(covered / 36 >= 0.85, `95 % intervals covering δ: ${covered}/36`);
  assert.ok(r.maxtThreshold > 2 && Number.isFinite(r.maxtThreshold), `threshold ${r.maxtThreshold}`);
  // Deterministic: same seed, same everything.
  const again = compareSamples('paired', sample(A, size), sample(B, size), { permutations: 500, bootstrap: 500, seed: 5 });
  assert.equal(Array.from(again.low), Array.from(r.low));
  assert.equal(Array.from(again.pFwer), Array.from(r.pFwer));
});

test('groups: a shifted square in group A is found; intervals cover δ; FDR finds at least as much as max-t', () => {
  const size = 16, delta = 2; // t ≈ δ / √(1/25 + 1/20) ≈ 6.7 against a max-t threshold near 4
  const A = maps(25, size, 21, delta), B = maps(20, size, 22, 0);
  const r = compareSamples('groups', sample(A, size), sample(B, size), { permutations: 400, bootstrap: 400, seed: 9 });
  let found = 0, falsePos = 0, covered = 0, fdr = 0;
  for (let p = 0; p < size * size; p++) {
    if (inSq(p, size)) { found += r.fwerMask[p]!; fdr += r.fdrMask[p]!; if (r.low[p]! <= delta && delta <= r.high[p]!) covered++; } else falsePos += r.significant[p]!;
  }
  assert.ok(found / 36 >= 0.9, `power ${found}/36`);
  assert.ok(fdr >= found, `fdr ${fdr} vs maxt ${found}`);
  assert.ok(falsePos <= 2, `false positives ${falsePos}`);
  assert.ok(covered / 36 >= 0.85, `coverage ${covered}/36`);
});

/**
 * Null replications: A and B from the same distribution. The family-wise error rate (share of
 * replications with any significant pixel) must be ≤ α plus a binomial margin: with R = 100 and
 * a true rate of 0.05, P(≥ 11 false families) ≈ 0.011, so "≤ 10" fails a correct method ~1 % of
 * the time at most (the seeds are fixed, so the test is deterministic).
 */
for (const design of ['paired', 'groups'] as const) {
  test(`null (${design}): family-wise false-positive rate ≤ α + binomial margin over 100 seeded replications`, () => {
    const size = 10, R = 100;
    let families = 0, fdrFamilies = 0;
    for (let rep = 0; rep < R; rep++) {
      const A = maps(design === 'paired' ? 12 : 10, size, 1000 + 2 * rep, 0, undefined);
      const B = maps(design === 'paired' ? 12 : 14, size, 1001 + 2 * rep, 0, undefined);
      const r = compareSamples(design, sample(A, size), sample(B, size), { permutations: 199, bootstrap: 20, seed: rep + 1 });
      if (r.fwerMask.some((v) => v)) families++;
      if (r.fdrMask.some((v) => v)) fdrFamilies++;
    }
    // BH on 100 pixels cannot reject anything with 199 permutations (min p = 1/200 > α/100), so
    // its null rate is measured on 3×3 maps, where α/9 ≈ 0.0056 is attainable.
    let bhSmall = 0;
    for (let rep = 0; rep < R; rep++) {
      const A = maps(design === 'paired' ? 12 : 10, 3, 5000 + 2 * rep);
      const B = maps(design === 'paired' ? 12 : 14, 3, 5001 + 2 * rep);
      const r = compareSamples(design, sample(A, 3), sample(B, 3), { permutations: 399, bootstrap: 20, seed: rep + 1, correction: 'fdr' });
      if (r.significant.some((v) => v)) bhSmall++;
    }
    console.log(`  null ${design}: FWER (max-t, 10×10) ${families}/${R}; any BH discovery 10×10 ${fdrFamilies}/${R}, 3×3 ${bhSmall}/${R}`);
    assert.ok(families <= 10, `family-wise false positives ${families}/${R}`);
    // Under the complete null every discovery is false, and BH's FDR equals its FWER: ≤ α.
    assert.ok(fdrFamilies <= 10, `BH false families ${fdrFamilies}/${R}`);
    assert.ok(bhSmall <= 10, `BH false families on 3×3 maps ${bhSmall}/${R}`);
  });
}

test('missing pixels are excluded, not counted as 0; untested pixels are NaN and never significant', () => {
  const size = 4, P = 16;
  const A = [new Float32Array(P).fill(2), new Float32Array(P).fill(4), new Float32Array(P).fill(6)];
  const B = [new Float32Array(P).fill(1), new Float32Array(P).fill(1), new Float32Array(P).fill(1)];
  const valid = full(3, size);
  valid[0]![0] = 0; // image 0 did not measure pixel 0 in A
  valid[1]![1] = 0; valid[2]![1] = 0; // pixel 1: only one image left
  const r = compareSamples('groups', { columns: P, values: A, valid }, sample(B, size), { permutations: 50, bootstrap: 50 });
  assert.is(r.meanA[0], 5); // (4 + 6) / 2, not (0 + 4 + 6) / 3
  assert.is(r.countA[0], 2);
  assert.is(r.tested[1], 0);
  assert.ok(Number.isNaN(r.diff[1]!) && Number.isNaN(r.low[1]!));
  assert.is(r.significant[1], 0);
  assert.is(r.meanA[2], 4);
  // Paired through map sets: an image is compared only where both of its maps are measured.
  const set = (m: Float32Array[], c: Uint8Array[]): CanonicalMapSet => ({ size, maps: m, covered: c, ids: ['a', 'b', 'c'] });
  const cb = full(3, size); cb[2]![3] = 0;
  const pr = compareMapSets('paired', set(A, valid), set(B, cb), { permutations: 8, bootstrap: 50 });
  assert.is(pr.pixels.countA[3], 2);
  assert.is(pr.pixels.meanA[3], 3); // images 0 and 1 only
  assert.is(pr.pixels.diff[3], 2);
  assert.ok(pr.pixels.exhaustive, 'all 2^3 sign flips enumerated');
  assert.is(pr.pixels.permutations, 8);
});

test('exact sign-flip enumeration: 5 images all positive give p = 2/32 (both all-same-sign flips reach |t|)', () => {
  const P = 1;
  const A = [1, 2, 3, 4, 5].map((v) => Float32Array.of(v + 10));
  const B = [1, 2, 3, 4, 5].map((v) => Float32Array.of(v + 10 - v * 0.5 - 1));
  const r = compareSamples('paired', { columns: P, values: A, valid: A.map(() => Uint8Array.of(1)) }, { columns: P, values: B, valid: B.map(() => Uint8Array.of(1)) }, { permutations: 1000, bootstrap: 10 });
  assert.ok(r.exhaustive);
  assert.is(r.permutations, 32);
  assert.is(r.p[0], 2 / 32);
  assert.is(r.pFwer[0], 2 / 32); // one column: max = itself
});

test('Benjamini–Hochberg and Holm on hand-computed cases', () => {
  // p sorted: 0.01 (≤ 0.0125), 0.03 (≤ 0.025? no), 0.04 (≤ 0.0375? no) → only the first.
  assert.equal(Array.from(benjaminiHochberg([0.01, 0.04, 0.03, 0.2], 0.05)), [1, 0, 0, 0]);
  assert.equal(Array.from(benjaminiHochberg([0.01, 0.02, 0.03, 0.04], 0.05)), [1, 1, 1, 1]);
  const h = holm([0.01, 0.04, 0.03, NaN]);
  assert.ok(Math.abs(h[0]! - 0.03) < 1e-12 && Math.abs(h[2]! - 0.06) < 1e-12 && Math.abs(h[1]! - 0.06) < 1e-12 && Number.isNaN(h[3]!));
});

test('region values are means over the measured pixels of each region', () => {
  const masks = { brows: Uint8Array.of(1, 1, 0, 0), eyes: Uint8Array.of(0, 0, 1, 1), nose: new Uint8Array(4), mouth: new Uint8Array(4), cheeks: new Uint8Array(4), forehead: new Uint8Array(4), chin_jaw: new Uint8Array(4) };
  const s = regionSample([Float32Array.of(1, 3, 5, 7)], [Uint8Array.of(1, 0, 1, 1)], masks);
  assert.equal(Array.from(s.values[0]!).slice(0, 3), [1, 6, 0]);
  assert.equal(Array.from(s.valid[0]!).slice(0, 3), [1, 1, 0]);
});

test('mean-abs normalisation: unit mean |value| over the measured pixels; all-zero maps stay 0', () => {
  const m = normaliseMap(Float32Array.of(2, -4, 100, 0), Uint8Array.of(1, 1, 0, 1), 'mean-abs');
  assert.equal(Array.from(m), [1, -2, 50, 0]); // mean |v| over measured = (2 + 4 + 0) / 3 = 2
  assert.equal(Array.from(normaliseMap(new Float32Array(3), Uint8Array.of(1, 1, 1), 'mean-abs')), [0, 0, 0]);
  const same = Float32Array.of(1, 2);
  assert.is(normaliseMap(same, Uint8Array.of(1, 1), 'none'), same);
});

test('convergence band: the first change is 1, the band narrows and shrinks as images are added; seeded', () => {
  const m = maps(30, 8, 77);
  const band = convergenceBand(m, { orderings: 100, seed: 2 });
  assert.is(band.length, 30);
  assert.is(band[0]!.median, 1);
  for (const b of band) assert.ok(b.low <= b.median && b.median <= b.high);
  assert.ok(band[29]!.high < band[4]!.low, `late ${band[29]!.high} vs early ${band[4]!.low}`);
  assert.equal(convergenceBand(m, { orderings: 100, seed: 2 }), band);
});

test.run();
