/**
 * Algorithm 1 on a case computed by hand on the CPU reference engine: a tiny ONNX model whose
 * `score` is a known linear function of the pixels, φ(I) = Σ w(x, y) · I(x, y), so every drop and
 * every canonical pixel is known (the same case runs on every engine in conformance.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuEngine } from '../../src/engine/cpu/engine.js';
import { buildOccludedBatch, OccludedBatchBuffer } from '../../src/engine/cpu/occlude.js';
import { computeCis, resolveModel } from '../../src/index.js';
import { accumulateCis, reprojectToInput } from '../../src/saliency/cis.js';
import { buildPlan, defaultPatch, fillValues } from '../../src/saliency/plan.js';
import { CORR, H, IMAGE, LINEAR, TINY_SPEC, tinyModelBytes, W } from '../helpers/tiny-model.js';

const weights = LINEAR;
const spec = TINY_SPEC;
const corr = CORR;
const image = IMAGE;

async function session(batch: number) {
  const dir = mkdtempSync(join(tmpdir(), 'csm-alg1-'));
  writeFileSync(join(dir, 'linear.onnx'), tinyModelBytes());
  return cpuEngine.open(await resolveModel(join(dir, 'linear.onnx'), spec), { batch });
}

test('plan geometry: sz pixels per side, fsz = sz·H_F/H_I, clipped, outside points dropped', () => {
  const plan = buildPlan({ correspondence: corr, input: spec.input, patch: 3, fill: Float32Array.of(0), fillKind: 'black' });
  assert.is(plan.count, 4, 'the point at x = 9 lies outside the 8-px input');
  assert.is(plan.canonicalPatch, 6);
  assert.equal(Array.from(plan.inputRects.subarray(0, 4)), [1, 1, 4, 4], 'centre 2 → [round(0.5), +3)');
  assert.equal(Array.from(plan.inputRects.subarray(12, 16)), [0, 6, 3, 8], 'centre (1, 7): x0 = round(-0.5) = 0, clipped at the bottom');
  assert.equal(Array.from(plan.canonicalRects.subarray(0, 4)), [1, 1, 7, 7]);
  assert.is(defaultPatch(224), 15);
  assert.is(defaultPatch(64), 4);
  assert.is(defaultPatch(112), 8);
});

test('drops and the density-normalised CIS equal the hand computation', async () => {
  const s = await session(3);
  const fill = 20;
  const plan = buildPlan({ correspondence: corr, input: spec.input, patch: 3, fill: Float32Array.of(fill), fillKind: 'black' });
  const cis = await computeCis(s, { input: image, plan, score: { output: 'score', kind: 'index', index: 0 } });
  const base = weights.reduce((a, w, p) => a + w * image[p]!, 0);
  assert.ok(Math.abs(cis.baseline - base) <= 1e-6 * base, `baseline ${cis.baseline} vs ${base}`);
  const expectedDrops: number[] = [];
  for (let n = 0; n < plan.count; n++) {
    const [x0, y0, x1, y1] = Array.from(plan.inputRects.subarray(4 * n, 4 * n + 4));
    let drop = 0;
    for (let y = y0!; y < y1!; y++) for (let x = x0!; x < x1!; x++) drop += weights[y * W + x]! * (image[y * W + x]! - fill);
    expectedDrops.push(drop);
  }
  expectedDrops.forEach((d, n) => assert.ok(Math.abs(cis.drops[n]! - d) <= 1e-6 * Math.abs(base), `drop ${n}: ${cis.drops[n]} vs ${d}`));
  // Canonical map by direct definition: mean of the drops of the squares covering each pixel.
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
    const covering = expectedDrops.filter((_, n) => {
      const [cx0, cy0, cx1, cy1] = Array.from(plan.canonicalRects.subarray(4 * n, 4 * n + 4));
      return x >= cx0! && x < cx1! && y >= cy0! && y < cy1!;
    });
    const want = covering.length ? covering.reduce((a, b) => a + b, 0) / covering.length : 0;
    assert.is(cis.count[y * 16 + x], covering.length);
    assert.ok(Math.abs(cis.map[y * 16 + x]! - want) <= 1e-6 * Math.abs(base), `pixel (${x}, ${y}): ${cis.map[y * 16 + x]} vs ${want}`);
  }
  // Points 1 and 2 overlap on the canonical grid: their shared pixels hold the mean of both drops.
  assert.is(cis.count[10 * 16 + 10], 2);
  await s.dispose();
});

test('the map is the same bytes for batch sizes 1, 3 and 64, and on a second run', async () => {
  const plan = buildPlan({ correspondence: corr, input: spec.input, patch: 3, fill: fillValues(spec.input, 'gray', [0, 0, 0]), fillKind: 'gray' });
  const maps: Buffer[] = [];
  for (const batch of [1, 3, 64, 3]) {
    const s = await session(batch);
    const cis = await computeCis(s, { input: image, plan, score: { output: 'score', kind: 'index', index: 0 } });
    maps.push(Buffer.from(cis.map.buffer));
    await s.dispose();
  }
  for (const m of maps.slice(1)) assert.ok(m.equals(maps[0]!));
});

test('density normalisation: a constant drop gives a constant map wherever N > 0, whatever the overlap', () => {
  const plan = buildPlan({ correspondence: corr, input: spec.input, patch: 3, fill: Float32Array.of(0), fillKind: 'black' });
  const cis = accumulateCis(plan, Float32Array.from({ length: plan.count }, () => 2.5), 0);
  for (let p = 0; p < cis.map.length; p++) assert.is(cis.map[p], cis.count[p] ? 2.5 : 0);
  const back = reprojectToInput(cis.map, plan);
  for (let p = 0; p < back.values.length; p++) if (back.count[p]) assert.ok(Math.abs(back.values[p]! - 2.5) < 1e-6);
});

test('incremental batch buffers give the same bytes as building every copy afresh', () => {
  for (const layout of ['NCHW', 'NHWC'] as const) {
    const t = { layout, channels: 3, width: W, height: H };
    const input = Float32Array.from({ length: 3 * W * H }, (_, k) => Math.sin(k));
    const plan = buildPlan({ correspondence: { ...corr, count: 4 }, input: { ...spec.input, color: 'rgb', layout }, patch: 3, fill: Float32Array.of(-1, 0, 1), fillKind: 'black' });
    const buffer = new OccludedBatchBuffer(input, plan, 3, t);
    for (const [first, rows] of [[0, 3], [3, 1], [1, 3], [0, 2]] as const) {
      const want = buildOccludedBatch(input, plan, first, rows, t, new Float32Array(rows * input.length));
      assert.equal(Array.from(buffer.fill(first, rows)), Array.from(want), `${layout} batch at ${first}`);
    }
  }
});

test.run();
