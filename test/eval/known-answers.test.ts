/**
 * The whole evaluation on a tiny hand-built model with known answers. The model's class-0
 * probability is σ(z), z = Σ_p x_p u_p with u = [ln 3, ln 3, −ln 3, 0] over the 2×2 gray input.
 *
 * (The input's scale undoes the gray weights' sum, 0.9999, so a pixel value v gives x = v.)
 * Image A, x = [1, 1, 1, 1]: z = ln 3, φ(I) = 3/4. Image B, x = [1, 0, 0, 0]: z = ln 3, φ(I) = 3/4.
 * Each method marks one pixel (after Eq. 10 every map is one-hot with sum 1, so E darkens it fully):
 *   CMS → pixel 0 (a map with a support, negative on it, its background off the support),
 *   Q   → pixel 1 (a plain map),   R → pixel 2 (a negative map).
 * φ(E):            CMS     Q       R
 *   A            1/2     1/2     9/10   (z = 0, 0, 2 ln 3)
 *   B            1/2     3/4     3/4    (z = 0, ln 3, ln 3: pixels 1, 2 are black already)
 * Eq. 11 terms (×100): CMS 100/3, 100/3; Q 100/3, 0; R 0, 0 → Average Drop 33.33, 16.67, 0.
 * Eq. 12: only R on A → % Increase 0, 0, 50.
 * Win shares: A: CMS and Q tie → 50, 50, 0; B: CMS alone → 100, 0, 0 → Win % 75, 25, 0 (sum 100).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildPlan, evaluate, GRAY_WEIGHTS, toModelInput, evaluationMarkdown, headScore, type EvalSubject, type HeatmapLike, type MethodInput, type PreparedImage, type SaliencyMethod } from '../../src/index.js';
import { openTiny } from './tiny.js';

const LN3 = Math.log(3);
const PIXELS: Record<string, number[]> = { A: [1, 1, 1, 1], B: [1, 0, 0, 0] };

class Fixed implements SaliencyMethod {
  constructor(readonly name: string, private readonly map: HeatmapLike) {}
  async heatmap(_: MethodInput): Promise<HeatmapLike> { return this.map; }
}

test('Average Drop, % Increase and Win % (with a tie) equal the hand computation', async () => {
  const { spec, session } = await openTiny([[1, 1, 1, 1]], [LN3, LN3, -LN3, 0], 4, 1 / GRAY_WEIGHTS.reduce((a, b) => a + b, 0));
  const head = spec.heads[0]!;
  const corr = { image: Float32Array.of(1, 1), canonical: Float32Array.of(1, 1), count: 1, canonicalSize: 2 };
  const subject: EvalSubject = {
    head, spec, session,
    prepare: async (file: string) => {
      const gray = PIXELS[file]!;
      const image = { width: 2, height: 2, data: Float32Array.from([...gray, ...gray, ...gray]) };
      return { file, photo: image, image, tensor: toModelInput([image], spec.input), toInput: { a: 1, b: 0, c: 0, d: 0, e: 1, f: 0 }, correspondence: corr, warnings: [] } satisfies PreparedImage;
    },
    plan: () => buildPlan({ correspondence: corr, input: spec.input, patch: 1, fill: Float32Array.of(0), fillKind: 'black' }),
    predict: async () => ({ prediction: { head: head.name, classIndex: 0, label: 'yes' }, score: headScore(head, 0, 'logit') }),
  };
  const methods = [
    new Fixed('CMS', { values: Float32Array.of(-1, 7, 7, -4), support: Uint8Array.of(1, 0, 0, 1) }),
    new Fixed('Q', Float32Array.of(0, 2, 0, 0)),
    new Fixed('R', Float32Array.of(-5, -5, 3, -5)),
  ];
  const heatmaps: Float32Array[][] = [];
  const e = await evaluate(subject, methods, ['A', 'B'], { onHeatmaps: (_, h) => { heatmaps.push(h); } });
  assert.equal(heatmaps[0]!.map((h) => Array.from(h)), [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], 'one-hot maps after Eq. 10');
  const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);
  e.images.forEach((i) => close(i.original, 0.75, 'φ(I)'));
  [[0.5, 0.5, 0.9], [0.5, 0.75, 0.75]].forEach((row, n) => row.forEach((v, m) => close(e.images[n]!.explained[m]!, v, `φ(E) image ${n} method ${m}`)));
  const expected = [
    { method: 'CMS', averageDrop: 100 / 3, increase: 0, win: 75 },
    { method: 'Q', averageDrop: 50 / 3, increase: 0, win: 25 },
    { method: 'R', averageDrop: 0, increase: 50, win: 0 },
  ];
  expected.forEach((x, m) => {
    const s = e.scores[m]!;
    assert.is(s.method, x.method);
    close(s.averageDrop, x.averageDrop, `${x.method} Average Drop`);
    assert.is(s.increase, x.increase, `${x.method} % Increase`);
    assert.is(s.win, x.win, `${x.method} Win %`);
  });
  assert.is(e.scores.reduce((a, s) => a + s.win, 0), 100, 'Win % sums to 100');
  // Bootstrap over 2 images: a resample is AA, AB, BA or BB; CMS's Average Drop is 100/3 in each.
  close(e.scores[0]!.intervals.averageDrop.low, 100 / 3, 'CMS AD low');
  close(e.scores[0]!.intervals.averageDrop.high, 100 / 3, 'CMS AD high');
  close(e.scores[1]!.intervals.averageDrop.low, 0, 'Q AD low (BB)');
  close(e.scores[1]!.intervals.averageDrop.high, 100 / 3, 'Q AD high (AA)');
  assert.equal(e.scores[0]!.intervals.win, { low: 50, high: 100 }, 'CMS Win %: 50 (AA) to 100 (BB)');
  assert.equal(e.paired.map((c) => [c.baseline, c.wins, c.losses, c.ties, c.p]), [['Q', 1, 0, 1, 1], ['R', 2, 0, 0, 0.5]]);
  close(e.paired[1]!.dropDifference, 100 / 3, 'CMS − R Average Drop');
  assert.match(evaluationMarkdown(e), '| Win % (higher is better; ties split) | 75.0 [50.0, 100.0] | 25.0 [0.0, 50.0] | 0.0 [0.0, 0.0] |');
  await session.dispose();
});

test.run();
