/**
 * Score-CAM (Wang et al. 2020), forward passes only. Channel k of the chosen layer's activations,
 * upsampled to I and min-max normalised into M_k, masks the input (I ⊙ M_k), and the map is
 * ReLU(Σ α_k A_k), with one of the two published channel weightings:
 * - `softmax-logit` (default): the paper's Algorithm 1, as pytorch-grad-cam implements it:
 *   S_k = the class logit of I ⊙ M_k, α = softmax over the channels of S. The paper subtracts the
 *   baseline image's score from S_k first; a constant shift does not change a softmax, so it is
 *   not computed. For a softmax head without a logits output the log-probability stands in.
 * - `linear-prob`: the authors' released code: α_k = the class probability of I ⊙ M_k, used
 *   directly as a linear weight.
 * The default is the paper's form because it is the method as published (and as the CMS paper's
 * reference [14] describes it) and what the widely used implementation does; the released code's
 * linear probabilities saturate near 1 on confident models, which makes α almost uniform.
 * The masked inputs go through the engine in batches (runBatches), like every other forward pass.
 */
import type { EngineSession } from '../../engine/types.js';
import { normalisation, type InputSpec } from '../../models/spec.js';
import { checkFinite, runBatches } from '../../saliency/loop.js';
import { evaluateScores } from '../../saliency/score.js';
import { minMax } from '../metrics.js';
import { camFromWeights, resizePlane, type MethodInput, type SaliencyMethod } from './base.js';

export type ScoreCamWeighting = 'softmax-logit' | 'linear-prob';

/** α from the channel scores: softmax across channels (logits) or the scores themselves (probabilities). */
export function scoreCamWeights(scores: ArrayLike<number>, weighting: ScoreCamWeighting): number[] {
  const s = Array.from(scores);
  if (weighting === 'linear-prob') return s;
  const m = Math.max(...s);
  const e = s.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

export class ScoreCam implements SaliencyMethod {
  readonly name: string;

  /** `session` must run a model that also outputs `layer` (see eval/expose.ts). */
  constructor(private readonly session: EngineSession, private readonly input: InputSpec, readonly layer: string, private readonly dims: number[], readonly weighting: ScoreCamWeighting = 'softmax-logit') {
    this.name = weighting === 'softmax-logit' ? 'Score-CAM' : 'Score-CAM (linear)';
  }

  /** The channel scores S_k (logits or probabilities, by the weighting) and the activations. */
  async channelScores(x: Pick<MethodInput, 'tensor' | 'score' | 'logitScore'>): Promise<{ activations: Float32Array; scores: Float64Array }> {
    const { width: W, height: H } = this.input;
    const [, K, h, w] = this.dims as [number, number, number, number];
    const A = (await this.session.infer(x.tensor, 1, [this.layer]))[this.layer]!;
    const score = this.weighting === 'softmax-logit' ? x.logitScore : x.score;
    const { offset } = normalisation(this.input);
    const per = x.tensor.length;
    const C = per / (W * H);
    // Masking pixels: tensor value t = p·scale + offset, so (p·m)·scale + offset = m·(t − offset) + offset.
    const masked = (m: Float32Array): Float32Array => Float32Array.from(x.tensor, (t, i) => {
      const c = this.input.layout === 'NCHW' ? Math.floor(i / (W * H)) : i % C;
      const p = this.input.layout === 'NCHW' ? i % (W * H) : Math.floor(i / C);
      return m[p]! * (t - offset[c]!) + offset[c]!;
    });
    const scores = new Float64Array(K);
    const B = Math.min(this.session.batch, K);
    const slots = [new Float32Array(B * per), new Float32Array(B * per)];
    // The same double-buffered schedule as the occlusion loop: masks for batch k + 1 are built
    // while batch k is scored.
    await runBatches(K, B, {
      build: (slot, first, rows) => {
        for (let r = 0; r < rows; r++) {
          const k = first + r;
          slots[slot]!.set(masked(minMax(resizePlane(A.subarray(k * h * w, (k + 1) * h * w), w, h, W, H))), r * per);
        }
      },
      infer: async (slot, rows) => (await this.session.infer(slots[slot]!.subarray(0, rows * per), rows, [score.output]))[score.output]!,
      consume: (out, first, rows) => {
        const phi = evaluateScores(score, out, rows);
        checkFinite(phi, `output "${score.output}" (Score-CAM)`, this.session.engine);
        phi.forEach((s, r) => { scores[first + r] = s; });
      },
    });
    return { activations: A, scores };
  }

  async heatmap(x: MethodInput): Promise<Float32Array> {
    const [, K, h, w] = this.dims as [number, number, number, number];
    const { activations, scores } = await this.channelScores(x);
    return camFromWeights(activations, K, h, w, scoreCamWeights(scores, this.weighting), this.input.width, this.input.height);
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
