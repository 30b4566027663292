/**
 * Identity through the verification confidence (Eq. 8), with known answers. The "descriptor" of a
 * 2×2 gray input is the input itself, so every cosine is worked out by hand; τ = 0.5.
 *   P1: I₁ = [1,1,1,1], I₂ = [1,1,1,0]: cos = √3/2 ≥ τ, genuine, φ(I) = √3/2 − 1/2.
 *   P2: I₁ = [1,1,0,0], I₂ = [1,0,0,0]: cos = 1/√2, genuine, φ(I) = 1/√2 − 1/2.
 *   P3: I₁ = [0,0,1,1], I₂ = [1,1,0,0]: cos = 0, impostor (c = −1), φ(I) = 1/2.
 * Each method darkens one pixel of I₁ fully: CMS pixel 3, Q pixel 0, R pixel 1. φ(E):
 *        CMS                Q                          R
 *   P1   cos 1 → 1/2        cos 2/3 → 1/6              cos 2/3 → 1/6
 *   P2   unchanged          cos 0 → −1/2, flipped → 0  cos 1 → 1/2
 *   P3   cos 0 → 1/2        unchanged 1/2              unchanged 1/2
 * Eq. 11 (×100): Q: d1 = (φ1 − 1/6)/φ1, 100 on P2 (flipped), 0 → (d1 + 100) / 3; R: d1 / 3; CMS 0.
 * Eq. 12: CMS on P1, R on P2 → 33.3, 0, 33.3. Win shares: P1 Q, R tie; P2 Q; P3 all three tie
 * → CMS 100/9, Q (50 + 100 + 100/3)/3, R (50 + 100/3)/3.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuEngine } from '../../src/engine/cpu/engine.js';
import {
  buildPlan, decisionMarkdown, encodeModel, evaluatePairs, GRAY_WEIGHTS, parseSpec, preparePairs, resolveModel, resolveThreshold, toModelInput,
  type EvalSubject, type HeatmapLike, type MethodInput, type PreparedImage, type SaliencyMethod,
} from '../../src/index.js';

const PIXELS: Record<string, number[]> = { a1: [1, 1, 1, 1], b1: [1, 1, 1, 0], a2: [1, 1, 0, 0], b2: [1, 0, 0, 0], a3: [0, 0, 1, 1], b3: [1, 1, 0, 0] };

class Fixed implements SaliencyMethod {
  constructor(readonly name: string, private readonly map: HeatmapLike) {}
  async heatmap(_: MethodInput): Promise<HeatmapLike> { return this.map; }
}

async function subject() {
  const path = join(mkdtempSync(join(tmpdir(), 'csm-verify-')), 'flat.onnx');
  writeFileSync(path, encodeModel({
    opset: 13, producer: 'test', producerVersion: '0', metadata: {},
    graph: {
      name: 'flat', inputs: [{ name: 'x', elemType: 1, shape: ['batch', 1, 2, 2] }], outputs: [{ name: 'emb', elemType: 1, shape: ['batch', 4] }], initializers: [],
      nodes: [{ name: 'flat', opType: 'Flatten', inputs: ['x'], outputs: ['emb'], attributes: [{ name: 'axis', kind: 'int', value: 1 }] }],
    },
  }));
  const spec = parseSpec({
    name: 'flat', task: 'identity', input: { name: 'x', width: 2, height: 2, layout: 'NCHW', color: 'gray', normalise: { scale: 1 / GRAY_WEIGHTS.reduce((a, b) => a + b, 0), offset: 0 } },
    heads: [{ name: 'emb', task: 'identity', output: 'emb', confidence: 'embedding' }],
  }, 'test');
  const session = await cpuEngine.open(await resolveModel(path, spec), { batch: 4 });
  const head = spec.heads[0]!;
  const corr = { image: Float32Array.of(1, 1), canonical: Float32Array.of(1, 1), count: 1, canonicalSize: 2 };
  const s: EvalSubject & { embed(p: PreparedImage): Promise<Float32Array> } = {
    head, spec, session,
    prepare: async (file: string) => {
      const gray = PIXELS[file];
      if (!gray) throw new (await import('../../src/index.js')).CsmError(`no photo "${file}"`);
      const image = { width: 2, height: 2, data: Float32Array.from([...gray, ...gray, ...gray]) };
      return { file, photo: image, image, tensor: toModelInput([image], spec.input), toInput: { a: 1, b: 0, c: 0, d: 0, e: 1, f: 0 }, correspondence: corr, warnings: [] } satisfies PreparedImage;
    },
    plan: () => buildPlan({ correspondence: corr, input: spec.input, patch: 1, fill: Float32Array.of(0), fillKind: 'black' }),
    predict: async () => { throw new Error('not used for pairs'); },
    embed: async (p) => Float32Array.from((await session.infer(p.tensor, 1, ['emb']))['emb']!),
  };
  return s;
}

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);

test('Average Drop, % Increase and Win % of verification pairs equal the hand computation', async () => {
  const s = await subject();
  const listed = [{ a: 'a1', b: 'b1', same: true }, { a: 'a2', b: 'b2', same: true }, { a: 'a3', b: 'b3', same: false }, { a: 'a1', b: 'missing', same: false }];
  const { pairs, skipped } = await preparePairs(s, listed);
  assert.is(pairs.length, 3);
  assert.equal(skipped.map((x) => x.file), ['a1|missing|0'], 'a pair whose photo fails is skipped with its id');
  const methods = [new Fixed('CMS', Float32Array.of(0, 0, 0, 1)), new Fixed('Q', Float32Array.of(1, 0, 0, 0)), new Fixed('R', Float32Array.of(0, 1, 0, 0))];
  const e = await evaluatePairs(s, methods, pairs, 0.5);
  const phi1 = Math.sqrt(3) / 2 - 0.5;
  const phi2 = Math.SQRT1_2 - 0.5;
  [phi1, phi2, 0.5].forEach((v, n) => close(e.images[n]!.original, v, `φ(I) of pair ${n + 1}`));
  assert.equal(e.images.map((i) => i.label), ['genuine', 'genuine', 'impostor'], 'c is the model\'s decision');
  [[0.5, 1 / 6, 1 / 6], [phi2, 0, 0.5], [0.5, 0.5, 0.5]].forEach((row, n) => row.forEach((v, m) => close(e.images[n]!.explained[m]!, v, `φ(E) pair ${n + 1} method ${m}`)));
  const d1 = (100 * (phi1 - 1 / 6)) / phi1;
  const expected = [
    { averageDrop: 0, increase: 100 / 3, win: 100 / 9 },
    { averageDrop: (d1 + 100) / 3, increase: 0, win: (50 + 100 + 100 / 3) / 3 },
    { averageDrop: d1 / 3, increase: 100 / 3, win: (50 + 100 / 3) / 3 },
  ];
  expected.forEach((x, m) => {
    const sc = e.scores[m]!;
    close(sc.averageDrop, x.averageDrop, `${sc.method} Average Drop`);
    close(sc.increase, x.increase, `${sc.method} % Increase`);
    close(sc.win, x.win, `${sc.method} Win %`);
  });
  assert.match(e.phi, /max\(0, c·\(cos/);
  assert.match(e.statistics.intervals, /over pairs/, 'the intervals are over pairs, not images');
  assert.match(e.statistics.paired, /per-pair difference/);
  // Split by decision. Genuine (P1, P2): Q's drops d1 and 100 (flipped), R's d1 and 0 (P2 rose),
  // CMS 0 and 0; rises: CMS on P1, R on P2; wins: P1 Q/R tie, P2 Q. Impostor (P3): all unchanged.
  assert.equal(e.byDecision.map((d) => [d.decision, d.images.length]), [['genuine', 2], ['impostor', 1]]);
  const [genuine, impostor] = e.byDecision;
  [{ averageDrop: 0, increase: 50, win: 0 }, { averageDrop: (d1 + 100) / 2, increase: 0, win: 75 }, { averageDrop: d1 / 2, increase: 50, win: 25 }].forEach((x, m) => {
    const sc = genuine!.scores[m]!;
    close(sc.averageDrop, x.averageDrop, `genuine ${sc.method} Average Drop`);
    close(sc.increase, x.increase, `genuine ${sc.method} % Increase`);
    close(sc.win, x.win, `genuine ${sc.method} Win %`);
  });
  impostor!.scores.forEach((sc) => { close(sc.averageDrop, 0, 'impostor Average Drop'); close(sc.increase, 0, 'impostor % Increase'); close(sc.win, 100 / 3, 'impostor Win %'); });
  assert.equal(genuine!.paired.map((c) => [c.baseline, c.wins, c.losses, c.ties]), [['Q', 0, 2, 0], ['R', 1, 1, 0]], 'CMS against each baseline, pair by pair, on the genuine side (P2: CMS leaves φ, R raises it)');
  const md = decisionMarkdown(e.byDecision);
  assert.match(md, /^Genuine pairs only \([^]*\(2 pairs; 95 % intervals\)[^]*\nImpostor pairs only \([^]*\(1 pair; 95 % intervals\)/);
  assert.not.match(md, /\*\*/, 'no markdown emphasis: the HTML report prints it as it is');
  const one = await evaluatePairs(s, methods, pairs.slice(0, 2), 0.5);
  assert.equal(one.byDecision, [], 'pairs of one decision get no split');
  await s.session.dispose();
});

test('τ: given, fitted on mixed pairs, the zoo\'s for one kind, else a clear error', async () => {
  const s = await subject();
  const { pairs } = await preparePairs(s, [{ a: 'a1', b: 'b1', same: true }, { a: 'a3', b: 'b3', same: false }, { a: 'a2', b: 'b2', same: false }]);
  assert.equal(resolveThreshold(pairs, 0.3), { tau: 0.3, source: 'given' });
  const fitted = resolveThreshold(pairs);
  assert.is(fitted.source, 'fitted on the pairs');
  assert.is(fitted.accuracy, 1);
  close(fitted.tau, (Math.sqrt(3) / 2 + Math.SQRT1_2) / 2, 'τ midway between the genuine pair and the closest impostor');
  const impostors = pairs.slice(1);
  assert.equal(resolveThreshold(impostors, undefined, 0.72), { tau: 0.72, source: 'the zoo model\'s verification record' });
  assert.throws(() => resolveThreshold(impostors), /all impostor, so τ cannot be fitted on them: give --tau/);
  assert.throws(() => resolveThreshold(pairs, 2), /τ is a cosine similarity/);
  await s.session.dispose();
});

test.run();
