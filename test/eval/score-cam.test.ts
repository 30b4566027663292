/**
 * Score-CAM's channel weights by hand. x = [1, 2, 3, 4] (2×2), A_0 = x ⊙ [1, 0, 0, 0] = [1, 0, 0, 0],
 * A_1 = x ⊙ [0, 0, 0, 1] = [0, 0, 0, 4]; logits = [Σ x, 0], so the class is 0 (logit 10).
 * Min-max normalised masks: M_0 = [1, 0, 0, 0], M_1 = [0, 0, 0, 1]; masked inputs x ⊙ M_0 = [1, 0, 0, 0]
 * (logit 1) and x ⊙ M_1 = [0, 0, 0, 4] (logit 4).
 * - softmax-logit (paper's Algorithm 1, pytorch-grad-cam): α = softmax(1, 4) = (1, e³) / (1 + e³),
 *   map = ReLU(α_0 A_0 + α_1 A_1) = [α_0, 0, 0, 4 α_1].
 * - linear-prob (authors' code): α_k = class probability of the masked input = σ(1), σ(4),
 *   map = [σ(1), 0, 0, 4 σ(4)].
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { headScore, ScoreCam, scoreCamWeights } from '../../src/index.js';
import { openTiny } from './tiny.js';

const close = (a: ArrayLike<number>, b: number[], what: string): void => {
  assert.is(a.length, b.length, what);
  for (let k = 0; k < b.length; k++) assert.ok(Math.abs(a[k]! - b[k]!) < 1e-6, `${what}: [${Array.from(a)}] vs [${b}]`);
};
const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

test('channel weights: softmax of logits, or the probabilities themselves', () => {
  close(scoreCamWeights([1, 4], 'softmax-logit'), [1 / (1 + Math.exp(3)), Math.exp(3) / (1 + Math.exp(3))], 'softmax');
  close(scoreCamWeights([0.25, 0.5], 'linear-prob'), [0.25, 0.5], 'linear');
});

test('Score-CAM on a tiny model, both published weightings, batches of one through runBatches', async () => {
  const { spec, session } = await openTiny([[1, 0, 0, 0], [0, 0, 0, 1]], [1, 1, 1, 1], 1);
  const head = spec.heads[0]!;
  const x = { tensor: Float32Array.of(1, 2, 3, 4), score: headScore(head, 0, 'prob'), logitScore: headScore(head, 0, 'logit') };
  const input = { ...x, file: 't', image: { width: 2, height: 2, data: new Float32Array(12) }, classIndex: 0, explainScore: x.logitScore, plan: undefined as never };
  const paper = new ScoreCam(session, spec.input, 'A', [1, 2, 2, 2]);
  assert.is(paper.name, 'Score-CAM');
  const scores = await paper.channelScores(x);
  close(scores.scores, [1, 4], 'S_k = the class logit of each masked input');
  const a0 = 1 / (1 + Math.exp(3));
  close(await paper.heatmap(input), [a0, 0, 0, 4 * (1 - a0)], 'softmax-logit map');
  const linear = new ScoreCam(session, spec.input, 'A', [1, 2, 2, 2], 'linear-prob');
  close((await linear.channelScores(x)).scores, [sigmoid(1), sigmoid(4)], 'S_k = the class probability');
  close(await linear.heatmap(input), [sigmoid(1), 0, 0, 4 * sigmoid(4)], 'linear-prob map');
  await session.dispose();
});

test.run();
