/**
 * Each WGSL kernel against its CPU twin, on the same inputs, dispatched twice: as the device allows
 * (one row of workgroups) and folded into 2-D by a tiny per-dimension limit, with a partial last
 * row. Both runs must match the twin and each other bit for bit, and write nothing past the end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOccludedBatch } from '../../src/engine/cpu/occlude.js';
import { coverageLists } from '../../src/engine/webgpu/engine.js';
import { encodeGather, encodeOcclude, encodePreprocess, encodeReproject, encodeScore, SCORE_KIND } from '../../src/engine/webgpu/kernels.js';
import { dispatchSize, pipeline, readBack, storageBuffer, type KernelName } from '../../src/engine/webgpu/programs.js';
import { accumulateCis, reprojectToInput } from '../../src/saliency/cis.js';
import { evaluatePairScores, scoreRow } from '../../src/saliency/score.js';
import { toModelInput } from '../../src/models/preprocess.js';
import { warpAffine, type Affine } from '../../src/image/index.js';
import type { OcclusionPlan, ScoreSpec } from '../../src/saliency/types.js';
import type { GpuRuntime } from '../../src/engine/webgpu/runtime.js';
import { gpuOrSkip } from '../helpers/gpu.js';
import { mulberry32 as rng } from '../helpers/random.js';

let gpu: GpuRuntime | undefined;
test.before(async () => { gpu = await gpuOrSkip('WebGPU kernels'); });


/**
 * The smallest per-dimension workgroup limit that folds `invocations` of `name` into y > 1 rows
 * whose last row is only partly used (so the kernel must both rebuild gid.x + gid.y · stride_x and
 * bounds-check it).
 */
function foldLimit(name: KernelName, invocations: number): number {
  const device = gpu!.device;
  const workgroup = pipeline(device, name).workgroup;
  for (let m = 1; m < Math.ceil(invocations / workgroup); m++) {
    let s: { x: number; y: number; strideX: number };
    try { s = dispatchSize(device, invocations, workgroup, m); } catch { continue; } // y would exceed m
    if (s.y > 1 && s.x <= m && s.y <= m && (s.y - 1) * s.strideX < invocations && invocations < s.y * s.strideX) return m;
  }
  throw new Error(`${name}: no limit folds ${invocations} invocations with a partial last row`);
}

/** The dispatch variants every kernel runs: unfolded, then folded by foldLimit. */
function variants(name: KernelName, invocations: number): { label: string; maxGroupsPerDimension?: number }[] {
  const m = foldLimit(name, invocations);
  const s = dispatchSize(gpu!.device, invocations, pipeline(gpu!.device, name).workgroup, m);
  assert.is(dispatchSize(gpu!.device, invocations, pipeline(gpu!.device, name).workgroup).y, 1);
  return [{ label: 'unfolded' }, { label: `folded ${s.x}×${s.y} (limit ${m})`, maxGroupsPerDimension: m }];
}

/** Values past an output's end that no kernel may touch. */
const GUARD = 37;

/** An output buffer of `count` floats plus GUARD, all NaN, bound whole (so a stray write lands in the guard). */
function sentinelBuffer(device: GPUDevice, label: string, count: number): GPUBuffer {
  return storageBuffer(device, label, new Float32Array(count + GUARD).fill(NaN));
}

/** Asserts the guard is still NaN and returns the first `count` values. */
function unguard(got: ArrayBuffer, count: number, what: string): Float32Array {
  const all = new Float32Array(got);
  for (let k = count; k < count + GUARD; k++) assert.ok(Number.isNaN(all[k]!), `${what}: wrote past the end (value ${k - count} of the guard is ${all[k]})`);
  return all.subarray(0, count);
}

/** Asserts two runs gave the same bits. */
function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)), Array.from(new Uint32Array(b.buffer, b.byteOffset, b.length)), what);
}

async function run(encode: (device: GPUDevice, encoder: GPUCommandEncoder) => void, read: { buffer: GPUBuffer; bytes: number }[]): Promise<ArrayBuffer[]> {
  const device = gpu!.device;
  const encoder = device.createCommandEncoder();
  encode(device, encoder);
  device.queue.submit([encoder.finish()]);
  return readBack(device, read);
}

function randomPlan(r: () => number, count: number, W: number, H: number, F: number, C: number): OcclusionPlan {
  const inputRects = new Int32Array(4 * count);
  const canonicalRects = new Int32Array(4 * count);
  for (let n = 0; n < count; n++) {
    const x0 = Math.floor(r() * (W + 4)) - 2;
    const y0 = Math.floor(r() * (H + 4)) - 2;
    inputRects.set([Math.max(0, x0), Math.max(0, y0), Math.min(W, x0 + 1 + Math.floor(r() * 5)), Math.min(H, y0 + 1 + Math.floor(r() * 5))], 4 * n);
    const u0 = Math.floor(r() * F);
    const v0 = Math.floor(r() * F);
    canonicalRects.set([u0, v0, Math.min(F, u0 + 1 + Math.floor(r() * 9)), Math.min(F, v0 + 1 + Math.floor(r() * 9))], 4 * n);
  }
  return {
    inputWidth: W, inputHeight: H, patch: 3, canonicalSize: F, canonicalPatch: 6, count, centres: new Float32Array(2 * count), canonical: new Float32Array(2 * count),
    inputRects, canonicalRects, fill: Float32Array.from({ length: C }, (_, c) => -1 + c), fillKind: 'black',
  };
}

test('occlude equals buildOccludedBatch (NCHW and NHWC, 1 and 3 channels, clipped and empty rectangles), unfolded and folded', async () => {
  if (!gpu) return;
  const r = rng(1);
  for (const [C, layout] of [[1, 'NCHW'], [3, 'NCHW'], [3, 'NHWC']] as const) {
    const [W, H, rows, first] = [13, 9, 7, 5];
    const plan = randomPlan(r, first + rows, W, H, 32, C);
    plan.inputRects.set([4, 4, 4, 6], 4 * (first + 2)); // an empty rectangle: the copy is the input
    const base = Float32Array.from({ length: C * W * H }, () => r() * 2 - 1);
    const want = buildOccludedBatch(base, plan, first, rows, { layout, channels: C, width: W, height: H }, new Float32Array(rows * base.length));
    const results: Float32Array[] = [];
    for (const v of variants('occlude', want.length)) {
      const out = sentinelBuffer(gpu.device, 'out', want.length);
      const [got] = await run((device, encoder) => encodeOcclude(device, encoder, {
        rows, first, channels: C, height: H, width: W, nhwc: layout === 'NHWC', maxGroupsPerDimension: v.maxGroupsPerDimension,
        base: storageBuffer(device, 'base', base), rects: storageBuffer(device, 'rects', plan.inputRects), fill: storageBuffer(device, 'fill', plan.fill), out,
      }), [{ buffer: out, bytes: (want.length + GUARD) * 4 }]);
      const g = unguard(got!, want.length, `${C} channels ${layout} ${v.label}`);
      assert.equal(Array.from(g), Array.from(want), `${C} channels ${layout} ${v.label}`);
      results.push(g);
    }
    sameBits(results[0]!, results[1]!, `${C} channels ${layout}: folded vs unfolded`);
  }
});

test('score equals scoreRow / evaluatePairScores for every kind, baseline and drops, unfolded and folded', async () => {
  if (!gpu) return;
  const r = rng(2);
  // Enough rows for the drops dispatch to span several workgroups (and so to fold).
  const [rows, width] = [150, 5];
  const probs = Float32Array.from({ length: rows * width }, () => 0.05 + 0.9 * r());
  const raw = Float32Array.from({ length: rows * width }, () => r() * 8 - 4);
  const other = Float32Array.from({ length: rows * width }, () => r() * 2 - 1);
  const references = [0, 1].map(() => Float32Array.from({ length: width }, () => r() * 2 - 1));
  const cases: [ScoreSpec, Float32Array][] = [
    [{ output: 'o', kind: 'index', index: 2 }, raw],
    [{ output: 'o', kind: 'one-minus', index: 0 }, probs],
    [{ output: 'o', kind: 'log', index: 3 }, probs],
    [{ output: 'o', kind: 'softmax', index: 1 }, raw],
    [{ output: 'o', kind: 'sigmoid-logit', index: 0, sign: 1 }, probs],
    [{ output: 'o', kind: 'sigmoid-logit', index: 0, sign: -1 }, probs],
    [{ output: 'o', kind: 'cosine-max', index: 0, references }, raw],
    [{ output: 'o', kind: 'cosine-max', index: 0, pair: { c: -1, tau: 0.3 } }, raw],
  ];
  for (const [spec, data] of cases) {
    const name = `${spec.kind}${spec.pair ? ' pair' : ''}${spec.sign !== undefined ? ` sign ${spec.sign}` : ''}`;
    const want = spec.pair ? evaluatePairScores(spec, data, other, rows) : Float64Array.from({ length: rows }, (_, k) => scoreRow(spec, data.subarray(k * width, (k + 1) * width)));
    const tol = (v: number): number => 2e-5 * Math.max(1, Math.abs(v));
    const results: Float32Array[] = [];
    for (const v of variants('score', rows)) {
      const device = gpu.device;
      const output = storageBuffer(device, 'output', data);
      const output2 = storageBuffer(device, 'output2', spec.pair ? other : data);
      const refs = storageBuffer(device, 'refs', spec.references ? Float32Array.from(spec.references.flatMap((x) => Array.from(x))) : new Float32Array(4));
      const baseline = storageBuffer(device, 'baseline', Float32Array.of(0));
      const drops = sentinelBuffer(device, 'drops', rows + 2);
      const common = {
        width, kind: spec.pair ? SCORE_KIND.pair : SCORE_KIND[spec.kind], index: spec.index, sign: spec.sign ?? 1, refs: spec.references?.length ?? 0, c: spec.pair?.c ?? 1, tau: spec.pair?.tau ?? 0,
        output, output2, references: refs, baseline, drops, maxGroupsPerDimension: v.maxGroupsPerDimension,
      };
      // Baseline from row 0 alone, then drops of all rows written from plan index 2.
      const [base, dr] = await run((d, encoder) => {
        encodeScore(d, encoder, { ...common, rows: 1, first: 0, mode: 'baseline' });
        encodeScore(d, encoder, { ...common, rows, first: 2, mode: 'drops' });
      }, [{ buffer: baseline, bytes: 4 }, { buffer: drops, bytes: (rows + 2 + GUARD) * 4 }]);
      const b = new Float32Array(base!)[0]!;
      assert.ok(Math.abs(b - want[0]!) <= tol(want[0]!), `${name} ${v.label}: baseline ${b} vs ${want[0]}`);
      const got = unguard(dr!, rows + 2, `${name} ${v.label}`);
      assert.ok(Number.isNaN(got[0]!) && Number.isNaN(got[1]!), `${name} ${v.label}: wrote before plan index 2`);
      for (let k = 0; k < rows; k++) assert.ok(Math.abs(got[k + 2]! - (want[0]! - want[k]!)) <= tol(want[k]!), `${name} ${v.label}: drop ${k} ${got[k + 2]} vs ${want[0]! - want[k]!}`);
      results.push(got);
    }
    sameBits(results[0]!, results[1]!, `${name}: folded vs unfolded`);
  }
});

test('gather equals accumulateCis (density-normalised map, overlaps and empty pixels), unfolded and folded', async () => {
  if (!gpu) return;
  const r = rng(3);
  const plan = randomPlan(r, 300, 20, 20, 40, 1);
  const drops = Float32Array.from({ length: plan.count }, () => r() * 10 - 5);
  const want = accumulateCis(plan, drops, 0);
  const { offsets, points } = coverageLists(plan);
  for (let p = 0; p < 1600; p++) assert.is(offsets[p + 1]! - offsets[p]!, want.count[p]);
  const results: Float32Array[] = [];
  for (const v of variants('gather', 1600)) {
    const map = sentinelBuffer(gpu.device, 'map', 1600);
    const [got] = await run((device, encoder) => encodeGather(device, encoder, {
      pixels: 1600, offsets: storageBuffer(device, 'offsets', offsets), points: storageBuffer(device, 'points', points), drops: storageBuffer(device, 'drops', drops), map,
      maxGroupsPerDimension: v.maxGroupsPerDimension,
    }), [{ buffer: map, bytes: (1600 + GUARD) * 4 }]);
    const g = unguard(got!, 1600, `gather ${v.label}`);
    for (let p = 0; p < 1600; p++) {
      assert.ok(Math.abs(g[p]! - want.map[p]!) <= 1e-5 * Math.max(1, Math.abs(want.map[p]!)), `${v.label} pixel ${p}: ${g[p]} vs ${want.map[p]}`);
    }
    results.push(g);
  }
  sameBits(results[0]!, results[1]!, 'gather: folded vs unfolded');
});

test('preprocess equals warpAffine + toModelInput (rotated crop, off-photo samples, gray and NHWC), unfolded and folded', async () => {
  if (!gpu) return;
  const r = rng(4);
  const [PW, PH] = [57, 43];
  const photo = { width: PW, height: PH, data: Float32Array.from({ length: 3 * PW * PH }, () => Math.round(r() * 255)) };
  const angle = 0.3;
  const toSource: Affine = { a: 1.7 * Math.cos(angle), b: -1.7 * Math.sin(angle), c: 10, d: 1.7 * Math.sin(angle), e: 1.7 * Math.cos(angle), f: -8 };
  for (const [color, layout] of [['rgb', 'NCHW'], ['gray', 'NCHW'], ['rgb', 'NHWC']] as const) {
    const spec = { name: 'x', width: 24, height: 20, layout, color, normalise: { scale: 2 / 255, offset: -1 } } as const;
    const want = toModelInput([warpAffine(photo, toSource, 24, 20)], spec);
    // Upload only a sub-rectangle that holds every pixel the crop reads (here: the whole photo minus nothing).
    const sub = { x: 0, y: 0, width: PW, height: PH };
    const results: Float32Array[] = [];
    for (const v of variants('preprocess', 24 * 20)) {
      const tensor = sentinelBuffer(gpu.device, 'tensor', want.length);
      const [got] = await run((device, encoder) => encodePreprocess(device, encoder, {
        toSource, photoWidth: PW, photoHeight: PH, sub, outWidth: 24, outHeight: 20, channels: color === 'gray' ? 1 : 3, nhwc: layout === 'NHWC',
        scale: color === 'gray' ? [2 / 255] : [2 / 255, 2 / 255, 2 / 255], offset: color === 'gray' ? [-1] : [-1, -1, -1],
        photo: storageBuffer(device, 'photo', photo.data), tensor, maxGroupsPerDimension: v.maxGroupsPerDimension,
      }), [{ buffer: tensor, bytes: (want.length + GUARD) * 4 }]);
      const g = unguard(got!, want.length, `${color} ${layout} ${v.label}`);
      let worst = 0;
      for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(g[k]! - want[k]!));
      assert.ok(worst <= 1e-4, `${color} ${layout} ${v.label}: max |GPU − CPU| ${worst}`);
      results.push(g);
    }
    sameBits(results[0]!, results[1]!, `${color} ${layout}: folded vs unfolded`);
  }
});

test('reproject equals reprojectToInput (bilinear samples at canonical centres, count normalisation), unfolded and folded', async () => {
  if (!gpu) return;
  const r = rng(5);
  const [W, H, F] = [21, 17, 32];
  const plan = randomPlan(r, 120, W, H, F, 1);
  for (let n = 0; n < plan.count; n++) { plan.canonical[2 * n] = r() * F; plan.canonical[2 * n + 1] = r() * F; }
  const map = Float32Array.from({ length: F * F }, () => r() * 4 - 2);
  const want = reprojectToInput(map, plan);
  const results: Float32Array[] = [];
  for (const v of variants('reproject', W * H)) {
    const values = sentinelBuffer(gpu.device, 'values', W * H);
    const [got] = await run((device, encoder) => encodeReproject(device, encoder, {
      width: W, height: H, size: F, count: plan.count, map: storageBuffer(device, 'map', map), centres: storageBuffer(device, 'centres', plan.canonical), rects: storageBuffer(device, 'rects', plan.inputRects), values,
      maxGroupsPerDimension: v.maxGroupsPerDimension,
    }), [{ buffer: values, bytes: (W * H + GUARD) * 4 }]);
    const g = unguard(got!, W * H, `reproject ${v.label}`);
    for (let p = 0; p < W * H; p++) assert.ok(Math.abs(g[p]! - want.values[p]!) <= 1e-5 * Math.max(1, Math.abs(want.values[p]!)), `${v.label} pixel ${p}: ${g[p]} vs ${want.values[p]}`);
    results.push(g);
  }
  sameBits(results[0]!, results[1]!, 'reproject: folded vs unfolded');
});

test.run();
