/** Each WGSL kernel against its CPU twin, on the same inputs. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildOccludedBatch } from '../../src/engine/cpu/occlude.js';
import { coverageLists } from '../../src/engine/webgpu/engine.js';
import { encodeGather, encodeOcclude, encodePreprocess, encodeReproject, encodeScore, SCORE_KIND } from '../../src/engine/webgpu/kernels.js';
import { readBack, storageBuffer } from '../../src/engine/webgpu/programs.js';
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

test('occlude equals buildOccludedBatch (NCHW and NHWC, 1 and 3 channels, clipped and empty rectangles)', async () => {
  if (!gpu) return;
  const r = rng(1);
  for (const [C, layout] of [[1, 'NCHW'], [3, 'NCHW'], [3, 'NHWC']] as const) {
    const [W, H, rows, first] = [13, 9, 7, 5];
    const plan = randomPlan(r, first + rows, W, H, 32, C);
    plan.inputRects.set([4, 4, 4, 6], 4 * (first + 2)); // an empty rectangle: the copy is the input
    const base = Float32Array.from({ length: C * W * H }, () => r() * 2 - 1);
    const want = buildOccludedBatch(base, plan, first, rows, { layout, channels: C, width: W, height: H }, new Float32Array(rows * base.length));
    const out = storageBuffer(gpu.device, 'out', rows * base.length * 4);
    const [got] = await run((device, encoder) => encodeOcclude(device, encoder, {
      rows, first, channels: C, height: H, width: W, nhwc: layout === 'NHWC',
      base: storageBuffer(device, 'base', base), rects: storageBuffer(device, 'rects', plan.inputRects), fill: storageBuffer(device, 'fill', plan.fill), out,
    }), [{ buffer: out, bytes: want.byteLength }]);
    assert.equal(Array.from(new Float32Array(got!)), Array.from(want), `${C} channels ${layout}`);
  }
});

test('score equals scoreRow / evaluatePairScores for every kind, baseline and drops', async () => {
  if (!gpu) return;
  const r = rng(2);
  const [rows, width] = [6, 5];
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
    const want = spec.pair ? evaluatePairScores(spec, data, other, rows) : Float64Array.from({ length: rows }, (_, k) => scoreRow(spec, data.subarray(k * width, (k + 1) * width)));
    const device = gpu.device;
    const output = storageBuffer(device, 'output', data);
    const output2 = storageBuffer(device, 'output2', spec.pair ? other : data);
    const refs = storageBuffer(device, 'refs', spec.references ? Float32Array.from(spec.references.flatMap((x) => Array.from(x))) : new Float32Array(4));
    const baseline = storageBuffer(device, 'baseline', Float32Array.of(0));
    const drops = storageBuffer(device, 'drops', (rows + 2) * 4);
    const common = { width, kind: spec.pair ? SCORE_KIND.pair : SCORE_KIND[spec.kind], index: spec.index, sign: spec.sign ?? 1, refs: spec.references?.length ?? 0, c: spec.pair?.c ?? 1, tau: spec.pair?.tau ?? 0, output, output2, references: refs, baseline, drops };
    // Baseline from row 0 alone, then drops of all rows written from plan index 2.
    const [base, dr] = await run((d, encoder) => {
      encodeScore(d, encoder, { ...common, rows: 1, first: 0, mode: 'baseline' });
      encodeScore(d, encoder, { ...common, rows, first: 2, mode: 'drops' });
    }, [{ buffer: baseline, bytes: 4 }, { buffer: drops, bytes: (rows + 2) * 4 }]);
    const b = new Float32Array(base!)[0]!;
    const tol = (v: number): number => 2e-5 * Math.max(1, Math.abs(v));
    assert.ok(Math.abs(b - want[0]!) <= tol(want[0]!), `${spec.kind}${spec.pair ? ' pair' : ''}: baseline ${b} vs ${want[0]}`);
    const got = new Float32Array(dr!);
    for (let k = 0; k < rows; k++) assert.ok(Math.abs(got[k + 2]! - (want[0]! - want[k]!)) <= tol(want[k]!), `${spec.kind}: drop ${k} ${got[k + 2]} vs ${want[0]! - want[k]!}`);
  }
});

test('gather equals accumulateCis (density-normalised map, overlaps and empty pixels)', async () => {
  if (!gpu) return;
  const r = rng(3);
  const plan = randomPlan(r, 300, 20, 20, 40, 1);
  const drops = Float32Array.from({ length: plan.count }, () => r() * 10 - 5);
  const want = accumulateCis(plan, drops, 0);
  const { offsets, points } = coverageLists(plan);
  const map = storageBuffer(gpu.device, 'map', 40 * 40 * 4);
  const [got] = await run((device, encoder) => encodeGather(device, encoder, {
    pixels: 1600, offsets: storageBuffer(device, 'offsets', offsets), points: storageBuffer(device, 'points', points), drops: storageBuffer(device, 'drops', drops), map,
  }), [{ buffer: map, bytes: 1600 * 4 }]);
  const g = new Float32Array(got!);
  for (let p = 0; p < 1600; p++) {
    assert.is(offsets[p + 1]! - offsets[p]!, want.count[p]);
    assert.ok(Math.abs(g[p]! - want.map[p]!) <= 1e-5 * Math.max(1, Math.abs(want.map[p]!)), `pixel ${p}: ${g[p]} vs ${want.map[p]}`);
  }
});

test('preprocess equals warpAffine + toModelInput (rotated crop, off-photo samples, gray and NHWC)', async () => {
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
    const tensor = storageBuffer(gpu.device, 'tensor', want.length * 4);
    const [got] = await run((device, encoder) => encodePreprocess(device, encoder, {
      toSource, photoWidth: PW, photoHeight: PH, sub, outWidth: 24, outHeight: 20, channels: color === 'gray' ? 1 : 3, nhwc: layout === 'NHWC',
      scale: color === 'gray' ? [2 / 255] : [2 / 255, 2 / 255, 2 / 255], offset: color === 'gray' ? [-1] : [-1, -1, -1],
      photo: storageBuffer(device, 'photo', photo.data), tensor,
    }), [{ buffer: tensor, bytes: want.length * 4 }]);
    const g = new Float32Array(got!);
    let worst = 0;
    for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(g[k]! - want[k]!));
    assert.ok(worst <= 1e-4, `${color} ${layout}: max |GPU − CPU| ${worst}`);
  }
});

test('reproject equals reprojectToInput (bilinear samples at canonical centres, count normalisation)', async () => {
  if (!gpu) return;
  const r = rng(5);
  const [W, H, F] = [21, 17, 32];
  const plan = randomPlan(r, 120, W, H, F, 1);
  for (let n = 0; n < plan.count; n++) { plan.canonical[2 * n] = r() * F; plan.canonical[2 * n + 1] = r() * F; }
  const map = Float32Array.from({ length: F * F }, () => r() * 4 - 2);
  const want = reprojectToInput(map, plan);
  const values = storageBuffer(gpu.device, 'values', W * H * 4);
  const [got] = await run((device, encoder) => encodeReproject(device, encoder, {
    width: W, height: H, size: F, count: plan.count, map: storageBuffer(device, 'map', map), centres: storageBuffer(device, 'centres', plan.canonical), rects: storageBuffer(device, 'rects', plan.inputRects), values,
  }), [{ buffer: values, bytes: W * H * 4 }]);
  const g = new Float32Array(got!);
  for (let p = 0; p < W * H; p++) assert.ok(Math.abs(g[p]! - want.values[p]!) <= 1e-5 * Math.max(1, Math.abs(want.values[p]!)), `pixel ${p}: ${g[p]} vs ${want.values[p]}`);
});

test.run();
