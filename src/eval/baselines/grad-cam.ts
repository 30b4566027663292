/**
 * Grad-CAM (Selvaraju et al. 2017) and Grad-CAM++ (Chattopadhyay et al. 2018) with exact gradients
 * of φ with respect to the chosen feature map A (eval/gradients.ts):
 * - Grad-CAM: α_k = mean over positions of ∂φ/∂A_k; map = ReLU(Σ α_k A_k).
 * - Grad-CAM++ (their Eq. 19, with the exponential-score closed form): a_kij = g² / (2g² +
 *   Σ_ab A_kab · g³), g = ∂φ/∂A_kij (a = 0 where g = 0); w_k = Σ_ij a_kij · ReLU(g_kij).
 */
import { readFile } from 'node:fs/promises';
import type { EngineSession } from '../../engine/types.js';
import { CsmError } from '../../errors.js';
import type { ResolvedModel } from '../../models/load.js';
import { decodeModel, type OnnxModel } from '../../models/onnx/model.js';
import type { InputSpec } from '../../models/spec.js';
import type { ModelOpener } from '../../engine/types.js';
import type { ScoreSpec } from '../../saliency/types.js';
import { exposeTensors, inferShaped } from '../expose.js';
import { backward, initializerTensor, suffixNodes, type Tensor } from '../gradients.js';
import { camFromWeights, type MethodInput, type SaliencyMethod } from './base.js';

/** ∂φ/∂output row for a ScoreSpec (the seed of the backward pass). */
export function scoreGradient(score: ScoreSpec, row: Float64Array): Float64Array {
  const g = new Float64Array(row.length);
  const c = score.index;
  const v = row[c]!;
  switch (score.kind) {
    case 'index': g[c] = 1; break;
    case 'one-minus': g[c] = -1; break;
    case 'log': g[c] = 1 / v; break;
    case 'softmax': {
      const m = Math.max(...row);
      const e = Array.from(row, (x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      const p = e.map((x) => x / z);
      for (let j = 0; j < row.length; j++) g[j] = p[c]! * ((j === c ? 1 : 0) - p[j]!);
      break;
    }
    case 'sigmoid-logit': { const p = Math.min(Math.max(v, 1e-7), 1 - 1e-7); g[c] = (score.sign ?? 1) / (p * (1 - p)); break; }
    case 'cosine-max': {
      // ∂cos(x, r)/∂x = r / (|x||r|) − cos · x / |x|², r the most similar reference (the max
      // picks it); with `pair`, φ = c · (cos − τ), so the gradient is c times that.
      const refs = score.references;
      if (!refs?.length) throw new CsmError('cosine score without reference embeddings');
      let nx = 0;
      for (const x of row) nx += x * x;
      nx = Math.sqrt(nx);
      let best = -Infinity;
      let r: Float32Array = refs[0]!;
      for (const ref of refs) {
        let dot = 0;
        let nr = 0;
        for (let j = 0; j < row.length; j++) { dot += row[j]! * ref[j]!; nr += ref[j]! * ref[j]!; }
        const cos = dot / (nx * Math.sqrt(nr) || 1);
        if (cos > best) { best = cos; r = ref; }
      }
      let nr = 0;
      for (const x of r) nr += x * x;
      nr = Math.sqrt(nr);
      if (!(nx > 0 && nr > 0)) break;
      const sign = score.pair?.c ?? 1;
      for (let j = 0; j < row.length; j++) g[j] = sign * (r[j]! / (nx * nr) - (best * row[j]!) / (nx * nx));
      break;
    }
    default: throw new CsmError(`gradients of ${score.kind} scores are not supported`);
  }
  return g;
}

export class GradCam implements SaliencyMethod {
  readonly name: string;
  private sessions = new Map<string, Promise<{ session: EngineSession; suffix: ReturnType<typeof suffixNodes> }>>();

  private constructor(private readonly model: ResolvedModel, private readonly onnx: OnnxModel, private readonly input: InputSpec, readonly layer: string, private readonly plusPlus: boolean, private readonly open: ModelOpener) {
    this.name = plusPlus ? 'Grad-CAM++' : 'Grad-CAM';
  }

  /** `open` opens the model's rewrites on the run's engine (see eval/expose.ts). */
  static async create(model: ResolvedModel, layer: string, plusPlus: boolean, open: ModelOpener): Promise<GradCam> {
    return new GradCam(model, decodeModel(await readFile(model.path)), model.spec.input, layer, plusPlus, open);
  }

  /** A session exposing the layer and every tensor between it and `output`, with their shapes. */
  private sessionFor(output: string): Promise<{ session: EngineSession; suffix: ReturnType<typeof suffixNodes> }> {
    let s = this.sessions.get(output);
    if (!s) {
      s = (async () => {
        const suffix = suffixNodes(this.onnx, this.layer, output);
        const path = await exposeTensors(this.model.path, this.exposed(suffix), { shapes: true });
        return { session: await this.open({ ...this.model, path }, { batch: 1 }), suffix };
      })();
      this.sessions.set(output, s);
    }
    return s;
  }

  /** The layer and every tensor that the suffix computes. */
  private exposed(suffix: ReturnType<typeof suffixNodes>): string[] {
    return [...new Set([this.layer, ...suffix.flatMap((n) => n.outputs).filter((n) => n !== '')])];
  }

  /** ∂φ/∂A and A for one image (batch 1): dims [1, K, h, w]. */
  async gradient(x: { tensor: Float32Array; explainScore: ScoreSpec }): Promise<{ activations: Tensor; gradient: Float64Array }> {
    const score = x.explainScore;
    const { session, suffix } = await this.sessionFor(score.output);
    const result = await inferShaped(session, x.tensor, this.exposed(suffix));
    const value = (name: string): Tensor => {
      const t = result.get(name);
      if (t) return { dims: t.dims, data: Float64Array.from(t.data) };
      const init = initializerTensor(this.onnx, name);
      if (!init) throw new CsmError(`tensor "${name}" is neither exposed nor an initializer`);
      return init;
    };
    const out = value(score.output);
    const seed = scoreGradient(score, out.data);
    return { activations: value(this.layer), gradient: backward(suffix, this.layer, score.output, seed, value) };
  }

  async heatmap(x: MethodInput): Promise<Float32Array> {
    const { activations: A, gradient: g } = await this.gradient(x);
    const [, K, h, w] = A.dims as [number, number, number, number];
    const hw = h * w;
    const weights = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      if (!this.plusPlus) {
        let s = 0;
        for (let p = 0; p < hw; p++) s += g[k * hw + p]!;
        weights[k] = s / hw;
        continue;
      }
      let sumA = 0;
      for (let p = 0; p < hw; p++) sumA += A.data[k * hw + p]!;
      let wk = 0;
      for (let p = 0; p < hw; p++) {
        const gi = g[k * hw + p]!;
        if (gi === 0) continue;
        const denom = 2 * gi * gi + sumA * gi ** 3;
        const a = denom !== 0 ? (gi * gi) / denom : 0;
        wk += a * Math.max(0, gi);
      }
      weights[k] = wk;
    }
    return camFromWeights(Float32Array.from(A.data), K, h, w, weights, this.input.width, this.input.height);
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).session.dispose();
  }
}
