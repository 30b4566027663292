/**
 * Score-CAM (Wang et al. 2020), forward passes only: each channel k of the chosen layer's
 * activations, upsampled to I and min-max normalised, masks the input; the class confidence of the
 * masked input, S_k = φ(I ⊙ M_k) − φ(0 ⊙ I) (the paper's baseline image is black), is softmaxed over
 * the channels into weights α_k, and the map is ReLU(Σ α_k A_k). The masked inputs go through the
 * engine in batches, like every other forward pass in csm.
 */
import type { EngineSession } from '../../engine/types.js';
import { normalisation, type InputSpec } from '../../models/spec.js';
import { checkFinite, runBatches } from '../../saliency/loop.js';
import { evaluateScores } from '../../saliency/score.js';
import { minMax } from '../metrics.js';
import { camFromWeights, resizePlane, type MethodInput, type SaliencyMethod } from './base.js';

export class ScoreCam implements SaliencyMethod {
  readonly name = 'Score-CAM';

  /** `session` must run a model that also outputs `layer` (see eval/expose.ts). */
  constructor(private readonly session: EngineSession, private readonly input: InputSpec, readonly layer: string, private readonly dims: number[]) {}

  async heatmap(x: MethodInput): Promise<Float32Array> {
    const { width: W, height: H } = this.input;
    const [, K, h, w] = this.dims as [number, number, number, number];
    const A = (await this.session.infer(x.tensor, 1, [this.layer]))[this.layer]!;
    const { offset } = normalisation(this.input);
    const per = x.tensor.length;
    const C = per / (W * H);
    // Masking pixels: tensor value t = p·scale + offset, so (p·m)·scale + offset = m·(t − offset) + offset.
    const masked = (m: Float32Array): Float32Array => Float32Array.from(x.tensor, (t, i) => {
      const c = this.input.layout === 'NCHW' ? Math.floor(i / (W * H)) : i % C;
      const p = this.input.layout === 'NCHW' ? i % (W * H) : Math.floor(i / C);
      return m[p]! * (t - offset[c]!) + offset[c]!;
    });
    const black = (await this.session.infer(masked(new Float32Array(W * H)), 1, [x.score.output]))[x.score.output]!;
    const base = evaluateScores(x.score, black, 1)[0]!;
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
      infer: async (slot, rows) => (await this.session.infer(slots[slot]!.subarray(0, rows * per), rows, [x.score.output]))[x.score.output]!,
      consume: (out, first, rows) => {
        const phi = evaluateScores(x.score, out, rows);
        checkFinite(phi, `output "${x.score.output}" (Score-CAM)`, this.session.engine);
        phi.forEach((s, r) => { scores[first + r] = s - base; });
      },
    });
    const m = Math.max(...scores);
    const e = Array.from(scores, (s) => Math.exp(s - m));
    const z = e.reduce((a, b) => a + b, 0);
    return camFromWeights(A, K, h, w, e.map((v) => v / z), W, H);
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
