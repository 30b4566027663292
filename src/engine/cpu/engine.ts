/**
 * The reference engine: onnxruntime-node and TypeScript kernels. Its occlusion primitives build
 * batches in host memory (OccludedBatchBuffer), score them with the CPU twins of the WGSL kernels
 * (saliency/score.ts) and paint the drops with accumulateCis; the shared loop builds batch k + 1
 * while onnxruntime scores batch k on its own threads, so the JavaScript work hides behind
 * inference. The execution-provider list is a parameter: the same folder serves onnxruntime-node
 * with any providers it was built with (engine/registry.ts registers "cpu").
 */
import * as ort from 'onnxruntime-node';
import { CsmError, FatalError, ModelError } from '../../errors.js';
import type { ResolvedModel } from '../../models/load.js';
import { channelsOf } from '../../models/spec.js';
import { accumulateCis } from '../../saliency/cis.js';
import { evaluatePairScores, evaluateScores } from '../../saliency/score.js';
import type { CisRequest, Engine, EngineOptions, EngineSession, GatheredCis, OcclusionRun } from '../types.js';
import { OccludedBatchBuffer, type TensorLayout } from './occlude.js';

/** Default batch: about 8 M input values per forward pass, between 1 and 256 copies. */
export function defaultBatch(valuesPerImage: number): number {
  return Math.max(1, Math.min(256, Math.floor(2 ** 23 / valuesPerImage)));
}

/** One image's occlusion in host memory: the CPU engine's primitives. */
class HostOcclusion implements OcclusionRun<Float32Array[]> {
  private readonly sources: Float32Array[];
  private readonly buffers: OccludedBatchBuffer[][];
  private readonly drops: Float32Array;
  private baseline = NaN;

  constructor(private readonly session: CpuSession, private readonly req: CisRequest) {
    const { plan } = req;
    this.sources = req.pair ? [req.input, req.pair.input] : [req.input];
    const plans = req.pair ? [plan, req.pair.plan] : [plan];
    const capacity = Math.min(session.batch, Math.max(1, plan.count));
    this.buffers = [0, 1].map(() => this.sources.map((src, i) => new OccludedBatchBuffer(src, plans[i]!, capacity, session.layout)));
    this.drops = new Float32Array(plan.count);
  }

  occlude(slot: 0 | 1, first: number, rows: number): void {
    for (const b of this.buffers[slot]!) b.fill(first, rows);
  }

  infer(slot: 'input' | 0 | 1, rows: number): Promise<Float32Array[]> {
    const per = this.session.valuesPerImage;
    const inputs = slot === 'input' ? this.sources : this.buffers[slot]!.map((b) => b.data.subarray(0, rows * per));
    const { output } = this.req.score;
    return Promise.all(inputs.map(async (x) => (await this.session.infer(x, rows, [output]))[output]!));
  }

  score(out: Float32Array[], target: 'baseline' | number, rows: number): void {
    const { score } = this.req;
    const phi = this.req.pair ? evaluatePairScores(score, out[0]!, out[1]!, rows) : evaluateScores(score, out[0]!, rows);
    if (target === 'baseline') this.baseline = phi[0]!;
    else for (let r = 0; r < rows; r++) this.drops[target + r] = this.baseline - phi[r]!;
  }

  async gather(): Promise<GatheredCis> {
    const { map, count } = accumulateCis(this.req.plan, this.drops, this.baseline);
    return { map, count, drops: this.drops, baseline: this.baseline };
  }

  release(): void {
    // Host buffers are garbage-collected.
  }
}

class CpuSession implements EngineSession {
  readonly engine: string;
  readonly layout: TensorLayout;
  readonly valuesPerImage: number;
  private released = false;

  constructor(private readonly source: Engine, private readonly session: ort.InferenceSession, private readonly model: ResolvedModel, readonly batch: number, private readonly threads?: number) {
    this.engine = source.name;
    const { input } = model.spec;
    this.layout = { layout: input.layout, channels: channelsOf(input), width: input.width, height: input.height };
    this.valuesPerImage = this.layout.channels * input.width * input.height;
  }

  private dims(rows: number): number[] {
    const { layout, channels: C, width: W, height: H } = this.layout;
    return layout === 'NCHW' ? [rows, C, H, W] : [rows, H, W, C];
  }

  async infer(inputs: Float32Array, rows: number, outputs: string[]): Promise<Record<string, Float32Array>> {
    // A released session can never run again: a batch run must stop, not skip every later image.
    if (this.released) throw new FatalError(`[${this.engine}] the inference session of "${this.model.path}" was released; the run stops here`);
    if (inputs.length !== rows * this.valuesPerImage) throw new CsmError(`input holds ${inputs.length} values, ${rows} images need ${rows * this.valuesPerImage}`);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run({ [this.model.spec.input.name]: new ort.Tensor('float32', inputs, this.dims(rows)) }, outputs);
    } catch (e) {
      throw new ModelError(`[${this.engine}] inference on "${this.model.path}" failed: ${(e as Error).message}`, { cause: e });
    }
    return Object.fromEntries(outputs.map((name) => [name, result[name]!.data as Float32Array]));
  }

  async timeInference(image: Float32Array, batches: number[], output: string): Promise<number> {
    const max = Math.max(...batches);
    const input = new Float32Array(max * this.valuesPerImage);
    for (let b = 0; b < max; b++) input.set(image, b * this.valuesPerImage);
    const t0 = performance.now();
    for (const rows of batches) await this.infer(input.subarray(0, rows * this.valuesPerImage), rows, [output]);
    return (performance.now() - t0) / 1000;
  }

  openModel(model: ResolvedModel, options: EngineOptions = {}): Promise<EngineSession> {
    return this.source.open(model, { ...(this.threads ? { threads: this.threads } : {}), ...options });
  }

  async prepare(request: CisRequest): Promise<OcclusionRun> {
    return new HostOcclusion(this, request);
  }

  async dispose(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}

/**
 * An onnxruntime-node engine with the given execution providers (onnxruntime-node's names, e.g.
 * ['cpu'], or ['cuda', 'cpu'] where its CUDA build is installed).
 */
export function onnxruntimeNodeEngine(name: string, executionProviders: string[]): Engine {
  const engine: Engine = {
    name,
    async open(model: ResolvedModel, options: EngineOptions = {}): Promise<EngineSession> {
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(model.path, {
          executionProviders,
          graphOptimizationLevel: 'all',
          ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
        });
      } catch (e) {
        throw new ModelError(`[${name}] onnxruntime cannot load "${model.path}": ${(e as Error).message}`, { cause: e });
      }
      const { input } = model.spec;
      const batch = options.batch ?? defaultBatch(channelsOf(input) * input.width * input.height);
      if (!Number.isInteger(batch) || batch < 1) throw new CsmError(`batch must be a positive whole number, got ${batch}`);
      return new CpuSession(engine, session, model, batch, options.threads);
    },
  };
  return engine;
}

export const cpuEngine: Engine = onnxruntimeNodeEngine('cpu', ['cpu']);
