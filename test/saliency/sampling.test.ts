/**
 * Stratified sampling (issue 14): the strata partition the dense points evenly over the face, an
 * image's stratum follows from its id alone, and the stratified CMS (sum / coverage) equals the
 * dense CMS where the sampling is balanced. Drops come from the tiny model's linear score
 * (test/helpers/tiny-model.ts: weight x + 10·y per pixel, fill 0), computed by hand, so no engine
 * runs; the runs use runCms with a stand-in explainer, as resume.test.ts does.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  accumulateCis, adaptiveSample, buildPlan, CmsAccumulator, fingerprintDiff, imageStratum, parseKeep, pointStrata, runCms, samplePlan, samplingParams, stratumIndices, tileShape,
  type CisResult, type OcclusionPlan, type Sampling,
} from '../../src/index.js';
import { createHash } from 'node:crypto';
import { mulberry32 } from '../helpers/random.js';
import { TINY_SPEC } from '../helpers/tiny-model.js';

const F = 64; // canonical size = input size, so canonical squares equal input squares
const STRIDE = 2;
const PATCH = 8;

/** A dense grid correspondence as csm's own mesh lays it out (first = ⌊s/2⌋, centres at +0.5). */
function densePlan(): OcclusionPlan {
  const pts: number[] = [];
  for (let y = Math.floor(STRIDE / 2); y < F; y += STRIDE) for (let x = Math.floor(STRIDE / 2); x < F; x += STRIDE) pts.push(x + 0.5, y + 0.5);
  const xy = Float32Array.from(pts);
  return buildPlan({ correspondence: { image: xy, canonical: xy, count: xy.length / 2, canonicalSize: F }, input: { ...TINY_SPEC.input, width: F, height: F }, patch: PATCH, fill: new Float32Array([0]), fillKind: 'black' });
}

/** The tiny linear model's drop for each plan point: Σ over the occluded pixels of w·x, w = x + 10y, x = the image. */
function linearDrops(plan: OcclusionPlan, image: (x: number, y: number) => number): Float32Array {
  const drops = new Float32Array(plan.count);
  for (let n = 0; n < plan.count; n++) {
    const [x0, y0, x1, y1] = plan.inputRects.subarray(4 * n, 4 * n + 4) as unknown as number[];
    let s = 0;
    for (let y = y0!; y < y1!; y++) for (let x = x0!; x < x1!; x++) s += (x + 10 * y) * image(x, y);
    drops[n] = s / 1000;
  }
  return drops;
}

const DENSE = densePlan();
const GRAY = (x: number, y: number): number => 100 + ((x * 37 + y * 11) % 50);
const DROPS = linearDrops(DENSE, GRAY);

/** The drops of a plan's points, looked up from the dense plan by canonical position. */
function dropsOf(plan: OcclusionPlan, dense: Float32Array): Float32Array {
  const index = new Map<string, number>();
  for (let n = 0; n < DENSE.count; n++) index.set(`${DENSE.canonical[2 * n]},${DENSE.canonical[2 * n + 1]}`, n);
  return Float32Array.from({ length: plan.count }, (_, k) => dense[index.get(`${plan.canonical[2 * k]},${plan.canonical[2 * k + 1]}`)!]!);
}

/** Ids whose stratum (SHA-256 mod k) is each of 0..k−1 exactly `per` times. */
function balancedIds(k: number, per: number): string[] {
  const byStratum: string[][] = Array.from({ length: k }, () => []);
  for (let i = 0; byStratum.some((b) => b.length < per); i++) {
    const id = `img-${i}.jpg`;
    const b = byStratum[imageStratum(id, k)]!;
    if (b.length < per) b.push(id);
  }
  return byStratum.flat();
}

test('--keep parses 1/k and k; tiles are a × b = k', () => {
  assert.is(parseKeep('1/4'), 4);
  assert.is(parseKeep('16'), 16);
  assert.throws(() => parseKeep('1/3'), /--keep takes 1\/k/);
  assert.throws(() => parseKeep('0.25'), /--keep/);
  assert.equal([2, 4, 8, 16].map(tileShape), [[2, 1], [2, 2], [4, 2], [4, 4]]);
});

test('strata partition the dense points: k equal shares, one point per stratum in every tile', () => {
  for (const k of [2, 4, 8, 16]) {
    const strata = pointStrata(DENSE.canonical, DENSE.count, k, STRIDE);
    const [a, b] = tileShape(k);
    const sizes = Array.from({ length: k }, (_, s) => stratumIndices(strata, s).length);
    assert.ok(sizes.every((n) => n === DENSE.count / k), `k=${k}: ${sizes}`);
    // every a×b tile of grid cells holds each stratum once
    const tiles = new Map<string, Set<number>>();
    for (let n = 0; n < DENSE.count; n++) {
      const cx = Math.round((DENSE.canonical[2 * n]! - 1.5) / STRIDE), cy = Math.round((DENSE.canonical[2 * n + 1]! - 1.5) / STRIDE);
      const key = `${Math.floor(cx / a)},${Math.floor(cy / b)}`;
      const set = tiles.get(key) ?? new Set<number>();
      set.add(strata[n]!);
      tiles.set(key, set);
    }
    for (const set of tiles.values()) assert.is(set.size, k);
  }
});

test('an image\'s stratum is a function of its id; the sampled plan is that stratum of the dense plan', () => {
  const s: Sampling = { kind: 'stratified', keep: 4 };
  const p1 = samplePlan(DENSE, s, 'photos/a.jpg', STRIDE);
  const p2 = samplePlan(DENSE, s, 'photos/a.jpg', STRIDE);
  assert.equal(p1, p2);
  assert.is(p1.count, DENSE.count / 4);
  assert.is(imageStratum('a.jpg', 4), createStratum('a.jpg', 4));
  // the key is the file name: the folder's spelling does not change the stratum
  assert.equal(samplePlan(DENSE, s, '/abs/photos/a.jpg', STRIDE), p1);
  assert.equal(samplePlan(DENSE, s, 'C:\\photos\\a.jpg', STRIDE), p1);
  assert.is(samplePlan(DENSE, { kind: 'grid' }, 'x', STRIDE), DENSE);
  // the ids spread over the strata
  const counts = new Array(8).fill(0);
  for (let i = 0; i < 800; i++) counts[imageStratum(`img-${i}.jpg`, 8)]++;
  assert.ok(counts.every((c) => c > 60 && c < 140), String(counts));
});

/** The documented rule, written out: the first 4 bytes of SHA-256 as a big-endian number, mod k. */
function createStratum(id: string, k: number): number {
  return Number(BigInt(`0x${createHash('sha256').update(`csm-stratum:${id}`).digest('hex').slice(0, 8)}`) % BigInt(k));
}

test('stratified CMS (sum / coverage) equals the dense CMS where covered, for balanced images', () => {
  for (const k of [2, 4, 8, 16]) {
    const sampling: Sampling = { kind: 'stratified', keep: k };
    const dense = new CmsAccumulator(F);
    const strat = new CmsAccumulator(F);
    const ids = balancedIds(k, 3);
    for (const id of ids) {
      dense.add(accumulateCis(DENSE, DROPS, 0), id);
      const plan = samplePlan(DENSE, sampling, id, STRIDE);
      strat.add(accumulateCis(plan, dropsOf(plan, DROPS), 0), id);
    }
    const d = dense.mean64();
    const m = strat.meanCovered64();
    // Exact where every stratum covers the pixel with the same number of points (balanced):
    // mean over strata of (mean over a stratum's m points) = mean over all k·m points.
    const strata = pointStrata(DENSE.canonical, DENSE.count, k, STRIDE);
    let balanced = 0, covered = 0, worst = 0;
    for (let p = 0; p < F * F; p++) {
      if (!dense.coverage[p]) continue;
      covered++;
      const per = new Array(k).fill(0);
      const [x, y] = [p % F, Math.floor(p / F)];
      for (let n = 0; n < DENSE.count; n++) {
        const [x0, y0, x1, y1] = DENSE.canonicalRects.subarray(4 * n, 4 * n + 4) as unknown as number[];
        if (x >= x0! && x < x1! && y >= y0! && y < y1!) per[strata[n]!]++;
      }
      if (per.every((c) => c === per[0] && c > 0)) {
        balanced++;
        worst = Math.max(worst, Math.abs(m[p]! - d[p]!) / Math.max(1e-9, Math.abs(d[p]!)));
      }
    }
    assert.ok(worst < 1e-6, `k=${k}: relative difference ${worst}`);
    assert.ok(balanced / covered > (k <= 4 ? 0.7 : 0.5), `k=${k}: only ${balanced} of ${covered} covered pixels balanced`);
    // every stratum's patches still cover the face here (a·s ≤ patch): coverage = images in the interior
    assert.is(strat.coverage[(F / 2) * F + F / 2], ids.length);
  }
});

/** A stand-in explainer: each id's image is GRAY scaled by an id-seeded factor, run through the stratified plan. */
function stratifiedExplain(sampling: Sampling): (file: string) => Promise<CisResult> {
  return async (file) => {
    const rand = mulberry32([...file].reduce((h, c) => h * 31 + c.charCodeAt(0), 7));
    const f = 0.5 + rand();
    const plan = samplePlan(DENSE, sampling, file, STRIDE);
    const drops = dropsOf(plan, DROPS).map((v) => v * f);
    return { cis: accumulateCis(plan, drops, 0), prepared: { warnings: [] } } as unknown as CisResult;
  };
}

test('stratified runs resume and merge to the same bytes as one run; a different sampling is named on resume', async () => {
  const sampling: Sampling = { kind: 'stratified', keep: 4 };
  const files = Array.from({ length: 10 }, (_, i) => `f${i}.jpg`);
  const fingerprint = { model: { name: 'tiny' }, stride: STRIDE, sampling: samplingParams(sampling) };
  const dirs = await Promise.all([0, 1, 2, 3].map(() => mkdtemp(join(tmpdir(), 'csm-sampling-'))));
  try {
    const opts = (dir: string) => ({ checkpointDir: join(dir, 'checkpoint'), checkpointEvery: 1, resume: false, fingerprint });
    const whole = await runCms(files, stratifiedExplain(sampling), F, opts(dirs[0]!));
    // killed after 4 images, resumed
    await runCms(files, stratifiedExplain(sampling), F, { ...opts(dirs[1]!), onImage: (_, i) => { if (i >= 4) throw new Error('killed'); } }).then(() => assert.unreachable(), () => undefined);
    const resumed = await runCms(files, stratifiedExplain(sampling), F, { ...opts(dirs[1]!), resume: true });
    assert.is(resumed.resumedAt, 4);
    assert.ok(Buffer.from(resumed.acc.sum.buffer).equals(Buffer.from(whole.acc.sum.buffer)));
    assert.ok(Buffer.from(resumed.acc.meanCovered().buffer).equals(Buffer.from(whole.acc.meanCovered().buffer)));
    // two shards merged
    const a = await runCms(files.slice(0, 6), stratifiedExplain(sampling), F, opts(dirs[2]!));
    const b = await runCms(files.slice(6), stratifiedExplain(sampling), F, opts(dirs[3]!));
    const merged = a.acc.merge(b.acc);
    assert.ok(Buffer.from(merged.sum.buffer).equals(Buffer.from(whole.acc.sum.buffer)));
    assert.equal([...merged.coverage], [...whole.acc.coverage]);
    assert.ok(Buffer.from(merged.meanCovered().buffer).equals(Buffer.from(whole.acc.meanCovered().buffer)));
    // a different sampling is a different fingerprint: resume and merge name it
    const other = { ...fingerprint, sampling: samplingParams({ kind: 'stratified', keep: 8 }) };
    assert.match(fingerprintDiff(fingerprint, other).join('; '), /sampling/);
    const { sampling: _s, ...grid } = fingerprint;
    assert.match(fingerprintDiff(fingerprint, grid).join('; '), /sampling/);
    let refused = '';
    await runCms(files, stratifiedExplain(sampling), F, { ...opts(dirs[0]!), resume: true, fingerprint: other }).catch((e: Error) => { refused = e.message; });
    assert.match(refused, /sampling/);
  } finally {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
});

test('adaptive sampling: coarse stratum first, full rounds up to the budget, refined around the large drops', async () => {
  // one salient spot: drops are large near (40, 20) only
  const drops = Float32Array.from({ length: DENSE.count }, (_, n) => Math.exp(-((DENSE.canonical[2 * n]! - 40) ** 2 + (DENSE.canonical[2 * n + 1]! - 20) ** 2) / 50));
  const calls: number[] = [];
  const measure = (idx: number[]): Float32Array => { calls.push(idx.length); return Float32Array.from(idx, (n) => drops[n]!); };
  const r = await adaptiveSample(DENSE, STRIDE, 300, measure, { coarse: 16, batch: 64 });
  assert.is(r.indices.length, 300);
  assert.is(new Set(r.indices).size, 300);
  assert.is(calls[0], DENSE.count / 16);
  assert.ok(calls.slice(1, -1).every((c) => c === 64), String(calls));
  assert.equal([...r.drops], r.indices.map((n) => drops[n]!));
  // the refined points lie near the spot
  const refined = r.indices.slice(DENSE.count / 16);
  const near = refined.filter((n) => Math.hypot(DENSE.canonical[2 * n]! - 40, DENSE.canonical[2 * n + 1]! - 20) < 16).length;
  assert.ok(near / refined.length > 0.5, `${near} of ${refined.length} near the spot`);
  const again = await adaptiveSample(DENSE, STRIDE, 300, measure, { coarse: 16, batch: 64 });
  assert.equal(again.indices, r.indices);
});

test.run();
