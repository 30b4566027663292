/**
 * The reference engine: onnxruntime-node on the CPU and TypeScript kernels. Batches are double
 * buffered: while onnxruntime scores batch k on its own threads, the next batch is built, so the
 * JavaScript work hides behind inference.
 */
import * as ort from 'onnxruntime-node';
import { CsmError, ModelError } from '../../errors.js';
import type { ResolvedModel } from '../../models/load.js';
import { channelsOf } from '../../models/spec.js';
import { accumulateCis } from '../../saliency/cis.js';
import { evaluatePairScores, evaluateScores } from '../../saliency/score.js';
import type { CisMap } from '../../saliency/types.js';
import type { CisRequest, Engine, EngineOptions, EngineSession } from '../types.js';
import { OccludedBatchBuffer, type TensorLayout } from './occlude.js';

/** Default batch: about 8 M input values per forward pass, between 1 and 256 copies. */
export function defaultBatch(valuesPerImage: number): number {
  return Math.max(1, Math.min(256, Math.floor(2 ** 23 / valuesPerImage)));
}

class CpuSession implements EngineSession {
  readonly engine = 'cpu';
  private readonly layout: TensorLayout;
  private readonly per: number;

  constructor(private readonly session: ort.InferenceSession, private readonly model: ResolvedModel, readonly batch: number) {
    const { input } = model.spec;
    this.layout = { layout: input.layout, channels: channelsOf(input), width: input.width, height: input.height };
    this.per = this.layout.channels * input.width * input.height;
  }

  private dims(rows: number): number[] {
    const { layout, channels: C, width: W, height: H } = this.layout;
    return layout === 'NCHW' ? [rows, C, H, W] : [rows, H, W, C];
  }

  async infer(inputs: Float32Array, rows: number, outputs: string[]): Promise<Record<string, Float32Array>> {
    if (inputs.length !== rows * this.per) throw new CsmError(`input holds ${inputs.length} values, ${rows} images need ${rows * this.per}`);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run({ [this.model.spec.input.name]: new ort.Tensor('float32', inputs, this.dims(rows)) }, outputs);
    } catch (e) {
      throw new ModelError(`[cpu] inference on "${this.model.path}" failed: ${(e as Error).message}`, { cause: e });
    }
    return Object.fromEntries(outputs.map((name) => [name, result[name]!.data as Float32Array]));
  }

  async timeInference(image: Float32Array, batches: number[], output: string): Promise<number> {
    const max = Math.max(...batches);
    const input = new Float32Array(max * this.per);
    for (let b = 0; b < max; b++) input.set(image, b * this.per);
    const t0 = performance.now();
    for (const rows of batches) await this.infer(input.subarray(0, rows * this.per), rows, [output]);
    return (performance.now() - t0) / 1000;
  }

  async computeCis(req: CisRequest): Promise<CisMap> {
    const { plan, score } = req;
    if (req.input.length !== this.per) throw new CsmError(`input tensor has ${req.input.length} values; the model takes ${this.per}`);
    if (req.pair && req.pair.plan.count !== plan.count) throw new CsmError('the two images of a pair need plans over the same canonical points');
    const sources = req.pair ? [req.input, req.pair.input] : [req.input];
    const plans = req.pair ? [plan, req.pair.plan] : [plan];
    const phi = async (batches: Float32Array[], rows: number): Promise<Float64Array> => {
      const outs = await Promise.all(batches.map((b) => this.infer(b, rows, [score.output])));
      const values = outs.map((o) => o[score.output]!);
      const result = req.pair ? evaluatePairScores(score, values[0]!, values[1]!, rows) : evaluateScores(score, values[0]!, rows);
      for (const v of result) if (!Number.isFinite(v)) throw new ModelError(`[cpu] the model gave a non-finite score (${v}) on output "${score.output}"`);
      return result;
    };
    const baseline = (await phi(sources, 1))[0]!;
    const drops = new Float32Array(plan.count);
    // Two sets of buffers: one being scored, one being filled.
    const capacity = Math.min(this.batch, Math.max(1, plan.count));
    const buffers = [0, 1].map(() => sources.map((src, i) => new OccludedBatchBuffer(src, plans[i]!, capacity, this.layout)));
    const build = (k: number, first: number): Float32Array[] => {
      const rows = Math.min(this.batch, plan.count - first);
      return buffers[k % 2]!.map((b) => b.fill(first, rows));
    };
    let first = 0;
    let k = 0;
    let pending = plan.count > 0 ? { first, rows: Math.min(this.batch, plan.count), run: phi(build(k, 0), Math.min(this.batch, plan.count)) } : undefined;
    while (pending) {
      first = pending.first + pending.rows;
      k++;
      const next = first < plan.count ? { first, rows: Math.min(this.batch, plan.count - first), batches: build(k, first) } : undefined;
      const scores = await pending.run;
      for (let r = 0; r < pending.rows; r++) drops[pending.first + r] = baseline - scores[r]!;
      pending = next ? { first: next.first, rows: next.rows, run: phi(next.batches, next.rows) } : undefined;
    }
    return accumulateCis(plan, drops, baseline);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

export const cpuEngine: Engine = {
  name: 'cpu',
  async open(model: ResolvedModel, options: EngineOptions = {}): Promise<EngineSession> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model.path, {
        graphOptimizationLevel: 'all',
        ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      });
    } catch (e) {
      throw new ModelError(`[cpu] onnxruntime cannot load "${model.path}": ${(e as Error).message}`, { cause: e });
    }
    const { input } = model.spec;
    const batch = options.batch ?? defaultBatch(channelsOf(input) * input.width * input.height);
    if (!Number.isInteger(batch) || batch < 1) throw new CsmError(`batch must be a positive whole number, got ${batch}`);
    return new CpuSession(session, model, batch);
  },
};
