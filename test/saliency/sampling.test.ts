/**
 * Sampling (issue 14): the stratified order spreads every share evenly over the face and follows
 * from the item's name alone; the reconstruction keeps measured drops and is exact where the drop
 * field is constant; adaptive rounds are whole batches up to the budget and refine where the drops
 * change. Drops come from the tiny model's linear score (test/helpers/tiny-model.ts: weight
 * x + 10·y per pixel, fill 0), computed by hand; the real loop and sampling code run on a session
 * that replays them (test/helpers/replay-session.ts), and runs use runCms with a stand-in
 * explainer, as resume.test.ts does.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  accumulateCis, ADAPTIVE_FIRST_SHARE, bayerMatrix, buildPlan, fingerprintDiff, imageOffset, parseKeep, parsePoints, pointRanks, reconstructCis, runCms, sampledCis, samplingParams, stratifiedIndices,
  stratumKey, type CisResult, type OcclusionPlan, type Sampling,
} from '../../src/index.js';
import { createHash } from 'node:crypto';
import { mulberry32 } from '../helpers/random.js';
import { replaySession } from '../helpers/replay-session.js';
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

/** Runs the real loop and sampling code on `drops` (replayed) for item `id`. */
async function run(sampling: Sampling, id: string, drops = DROPS, batch = 16): Promise<Awaited<ReturnType<typeof sampledCis>> & { counted: number; sizes: number[] }> {
  const session = replaySession(DENSE, drops, 0, batch);
  const r = await sampledCis(session, { input: new Float32Array(1), plan: DENSE, score: { output: 'y', kind: 'index', index: 0 } }, sampling, id, STRIDE);
  return { ...r, counted: session.passes, sizes: session.rounds };
}

const cellOf = (n: number): [number, number] => [Math.round((DENSE.canonical[2 * n]! - 1.5) / STRIDE), Math.round((DENSE.canonical[2 * n + 1]! - 1.5) / STRIDE)];

test('--keep parses 1/k and k, --points a whole number', () => {
  assert.is(parseKeep('1/4'), 4);
  assert.is(parseKeep('16'), 16);
  assert.throws(() => parseKeep('1/3'), /--keep takes 1\/k/);
  assert.throws(() => parseKeep('0.25'), /--keep/);
  assert.is(parsePoints('528'), 528);
  for (const bad of ['0', '-3', '2.5', 'many', '']) assert.throws(() => parsePoints(bad), /--points takes a whole number/);
});

test('the Bayer ranks spread every share 1/k as a regular lattice: k = 4 is every second cell, k = 2 the quincunx', () => {
  const b = bayerMatrix(8);
  assert.equal([...b].sort((x, y) => x - y), Array.from({ length: 64 }, (_, i) => i));
  for (const k of [2, 4, 8, 16, 32, 64]) {
    const kept = [...b.keys()].filter((p) => b[p]! < 64 / k);
    assert.is(kept.length, 64 / k);
    // a lattice as sparse as the share allows: the nearest two kept cells (on the torus of the
    // repeating tile) are √k apart: k = 4 every second cell, k = 2 and 8 the quincunxes between
    let near = Infinity;
    for (const p of kept) for (const q of kept) {
      if (p === q) continue;
      const dx = Math.abs((p % 8) - (q % 8)), dy = Math.abs(Math.floor(p / 8) - Math.floor(q / 8));
      near = Math.min(near, Math.min(dx, 8 - dx) ** 2 + Math.min(dy, 8 - dy) ** 2);
    }
    if (k < 64) assert.is(near, k, `k=${k}`);
  }
  const k4 = [...b.keys()].filter((p) => b[p]! < 16);
  assert.ok(k4.every((p) => p % 2 === 0 && Math.floor(p / 8) % 2 === 0), String(k4));
  const k2 = [...b.keys()].filter((p) => b[p]! < 32);
  assert.ok(k2.every((p) => (p % 8 + Math.floor(p / 8)) % 2 === 0), String(k2));
});

test('an image\'s points follow from its file name: 1/k of every tile, --points N a prefix of the same order', () => {
  for (const k of [2, 4, 8, 16]) {
    const idx = stratifiedIndices(DENSE, { kind: 'stratified', keep: k }, STRIDE, 'a.jpg');
    assert.is(idx.length, DENSE.count / k);
    // 1/k of each 8 × 8 tile of cells (the tiles shifted by the image's offset)
    const [ox, oy] = imageOffset('a.jpg');
    const tiles = new Map<string, number>();
    for (const n of idx) { const [x, y] = cellOf(n); const key = `${Math.floor((x - ox) / 8)},${Math.floor((y - oy) / 8)}`; tiles.set(key, (tiles.get(key) ?? 0) + 1); }
    const full = [...tiles.entries()].filter(([key]) => { const [tx, ty] = key.split(',').map(Number); return tx! * 8 + ox >= 0 && (tx! + 1) * 8 + ox <= 32 && ty! * 8 + oy >= 0 && (ty! + 1) * 8 + oy <= 32; });
    assert.ok(full.every(([, c]) => c === 64 / k), `k=${k}: ${full}`);
    // --points with the same count is the same set; a smaller N a prefix
    const points = stratifiedIndices(DENSE, { kind: 'stratified', points: idx.length }, STRIDE, 'a.jpg');
    assert.equal(new Set(points), new Set(idx));
    assert.equal(stratifiedIndices(DENSE, { kind: 'stratified', points: 37 }, STRIDE, 'a.jpg'), points.slice(0, 37));
  }
  // the key is the file name: the folder's spelling does not change the points
  assert.is(stratumKey('/abs/photos/a.jpg'), 'a.jpg');
  assert.is(stratumKey('C:\\photos\\a.jpg'), 'a.jpg');
  const h = createHash('sha256').update('csm-stratum:a.jpg').digest();
  assert.equal(imageOffset('a.jpg'), [h[0]! % 8, h[1]! % 8]);
  // the offsets spread over the 64 positions of a tile
  const seen = new Map<string, number>();
  for (let i = 0; i < 640; i++) { const o = imageOffset(`img-${i}.jpg`).join(','); seen.set(o, (seen.get(o) ?? 0) + 1); }
  assert.is(seen.size, 64);
  assert.ok(Math.max(...seen.values()) < 25, String([...seen.values()]));
  const ranks = pointRanks(DENSE.canonical, DENSE.count, STRIDE, [0, 0]);
  assert.is(ranks[0], 0);
});

test('reconstruction: measured drops kept, a constant drop field exact, a linear one close to the dense CIS', async () => {
  const constant = new Float32Array(DENSE.count).fill(0.7);
  const denseConst = accumulateCis(DENSE, constant, 0);
  for (const k of [2, 4, 8, 16]) {
    const r = await run({ kind: 'stratified', keep: k }, 'a.jpg', constant);
    assert.is(r.passes, DENSE.count / k + 1);
    assert.is(r.counted, r.passes);
    assert.equal([...r.cis.count], [...denseConst.count], 'the dense coverage');
    assert.ok(r.cis.map.every((v, q) => Math.abs(v - denseConst.map[q]!) < 1e-6), `k=${k}: constant field not exact`);
  }
  // a linear field (the tiny model's drops on a uniform image): the reconstruction is a local mean, so close in the interior
  const linear = linearDrops(DENSE, () => 100);
  const dense = accumulateCis(DENSE, linear, 0);
  const r = await run({ kind: 'stratified', keep: 4 }, 'a.jpg', linear);
  assert.equal([...r.cis.drops], r.plan.count ? Array.from({ length: r.plan.count }, (_, k) => linear[DENSE_INDEX.get(`${r.plan.canonical[2 * k]},${r.plan.canonical[2 * k + 1]}`)!]!) : []);
  let worst = 0;
  for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) worst = Math.max(worst, Math.abs(r.cis.map[y * F + x]! - dense.map[y * F + x]!) / Math.abs(dense.map[y * F + x]!));
  assert.ok(worst < 0.02, `interior relative error ${worst}`);
  // the measured patches alone (no reconstruction) are further off than the reconstruction
  const bare = accumulateCis(r.plan, r.cis.drops, 0);
  const err = (m: Float32Array): number => { let s = 0; for (let q = 0; q < F * F; q++) if (dense.count[q]) s += (m[q]! - dense.map[q]!) ** 2; return s; };
  assert.ok(err(r.cis.map) < err(bare.map), `reconstructed ${err(r.cis.map)}, bare ${err(bare.map)}`);
  assert.throws(() => reconstructCis(DENSE, STRIDE, [0, 1], new Float32Array(3), 0), /2 points but 3 drops/);
});

const DENSE_INDEX = new Map<string, number>(Array.from({ length: DENSE.count }, (_, n) => [`${DENSE.canonical[2 * n]},${DENSE.canonical[2 * n + 1]}`, n]));

test('adaptive: 3/4 of the budget in stratified order, then whole batches up to the budget, refined where the drops change', async () => {
  // one salient spot: drops are large near (40, 20) only
  const spot = Float32Array.from({ length: DENSE.count }, (_, n) => Math.exp(-((DENSE.canonical[2 * n]! - 40) ** 2 + (DENSE.canonical[2 * n + 1]! - 20) ** 2) / 50));
  const budget = 250;
  const r = await run({ kind: 'adaptive', points: budget }, 'a.jpg', spot, 16);
  assert.is(r.plan.count, budget);
  assert.is(new Set(Array.from({ length: budget }, (_, k) => `${r.plan.canonical[2 * k]},${r.plan.canonical[2 * k + 1]}`)).size, budget);
  assert.is(r.passes, budget + r.rounds);
  assert.is(r.counted, r.passes);
  // round 1: 3/4 of the budget in whole batches; then whole batches, the last one what is left
  const firstSize = Math.round((ADAPTIVE_FIRST_SHARE * budget) / 16) * 16;
  assert.is(r.sizes[0], firstSize);
  assert.ok(r.sizes.slice(0, -1).every((c) => c % 16 === 0), String(r.sizes));
  assert.is(r.sizes.length, r.rounds);
  assert.ok(r.rounds >= 3, `rounds ${r.rounds}`);
  const first = stratifiedIndices(DENSE, { kind: 'stratified', points: firstSize }, STRIDE, 'a.jpg');
  const order = Array.from({ length: budget }, (_, k) => DENSE_INDEX.get(`${r.plan.canonical[2 * k]},${r.plan.canonical[2 * k + 1]}`)!);
  assert.equal(order.slice(0, firstSize), first);
  // the refined points lie near the spot's edge and centre, not spread over the face
  const refined = order.slice(firstSize);
  const near = refined.filter((n) => Math.hypot(DENSE.canonical[2 * n]! - 40, DENSE.canonical[2 * n + 1]! - 20) < 16).length;
  assert.ok(near / refined.length > 0.6, `${near} of ${refined.length} near the spot`);
  // deterministic
  const again = await run({ kind: 'adaptive', points: budget }, 'a.jpg', spot, 16);
  assert.equal([...again.cis.map], [...r.cis.map]);
  // a budget past the dense plan runs every point
  const all = await run({ kind: 'adaptive', points: 10 * DENSE.count }, 'a.jpg', spot, 64);
  assert.is(all.plan.count, DENSE.count);
  assert.ok(all.cis.map.every((v, q) => Math.abs(v - accumulateCis(DENSE, spot, 0).map[q]!) < 1e-6));
});

/** A stand-in explainer: each id's image is GRAY scaled by an id-seeded factor, run through the real sampling code. */
function sampledExplain(sampling: Sampling): (file: string) => Promise<CisResult> {
  return async (file) => {
    const rand = mulberry32([...file].reduce((h, c) => h * 31 + c.charCodeAt(0), 7));
    const f = 0.5 + rand();
    const r = await run(sampling, stratumKey(file), DROPS.map((v) => v * f));
    return { cis: r.cis, plan: r.plan, prepared: { warnings: [] } } as unknown as CisResult;
  };
}

for (const sampling of [{ kind: 'stratified', keep: 4 }, { kind: 'stratified', points: 100 }, { kind: 'adaptive', points: 120 }] as Sampling[]) {
  test(`${JSON.stringify(sampling)}: resumed and merged runs give the same bytes as one run; another sampling is named on resume`, async () => {
    const files = Array.from({ length: 10 }, (_, i) => `f${i}.jpg`);
    const fingerprint = { model: { name: 'tiny' }, stride: STRIDE, sampling: samplingParams(sampling) };
    const dirs = await Promise.all([0, 1, 2, 3].map(() => mkdtemp(join(tmpdir(), 'csm-sampling-'))));
    try {
      const opts = (dir: string) => ({ checkpointDir: join(dir, 'checkpoint'), checkpointEvery: 1, resume: false, fingerprint });
      const whole = await runCms(files, sampledExplain(sampling), F, opts(dirs[0]!));
      // killed after 4 images, resumed
      await runCms(files, sampledExplain(sampling), F, { ...opts(dirs[1]!), onImage: (_, i) => { if (i >= 4) throw new Error('killed'); } }).then(() => assert.unreachable(), () => undefined);
      const resumed = await runCms(files, sampledExplain(sampling), F, { ...opts(dirs[1]!), resume: true });
      assert.is(resumed.resumedAt, 4);
      assert.ok(Buffer.from(resumed.acc.mean().buffer).equals(Buffer.from(whole.acc.mean().buffer)));
      // two shards merged
      const a = await runCms(files.slice(0, 6), sampledExplain(sampling), F, opts(dirs[2]!));
      const b = await runCms(files.slice(6), sampledExplain(sampling), F, opts(dirs[3]!));
      const merged = a.acc.merge(b.acc);
      assert.ok(Buffer.from(merged.sum.buffer).equals(Buffer.from(whole.acc.sum.buffer)));
      assert.ok(Buffer.from(merged.mean().buffer).equals(Buffer.from(whole.acc.mean().buffer)));
      // a different sampling is a different fingerprint: resume and merge name it
      const other = { ...fingerprint, sampling: samplingParams({ kind: 'stratified', keep: 8 }) };
      assert.match(fingerprintDiff(fingerprint, other).join('; '), /sampling/);
      const { sampling: _s, ...grid } = fingerprint;
      assert.match(fingerprintDiff(fingerprint, grid).join('; '), /sampling/);
      let refused = '';
      await runCms(files, sampledExplain(sampling), F, { ...opts(dirs[0]!), resume: true, fingerprint: other }).catch((e: Error) => { refused = e.message; });
      assert.match(refused, /sampling/);
    } finally {
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    }
  });
}

test.run();
