/**
 * The WebGPU engine: the whole occlusion loop on the device. An image's input tensor goes to the
 * GPU once; the `occlude` kernel writes each batch of occluded copies into a buffer that
 * onnxruntime-web reads in place (Tensor.fromGpuBuffer); its outputs stay on the GPU
 * (preferredOutputLocation 'gpu-buffer') where the `score` kernel turns them into signed drops;
 * the `gather` kernel paints the drops onto the canonical grid. The CPU reads back only the finished
 * map (and the per-point drops, a few KB). Batches are double buffered: batch k+1 is built while
 * batch k is scored.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CsmError, ModelError } from '../../errors.js';
import type { ResolvedModel } from '../../models/load.js';
import { channelsOf, normalisation } from '../../models/spec.js';
import { applyAffine } from '../../image/index.js';
import type { CisMap, OcclusionPlan, ScoreSpec } from '../../saliency/types.js';
import type { CisRequest, Engine, EngineOptions, EngineSession, ImageSource } from '../types.js';
import { acquireGpu, checkAlive, GpuLostError, type GpuContext } from './device.js';
import { encodeGather, encodeOcclude, encodePreprocess, encodeScore, SCORE_KIND } from './kernels.js';
import { loadOrtWeb, type Ort } from './ort.js';
import { readBack, storageBuffer } from './programs.js';

type OrtSession = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
type OrtTensor = InstanceType<Ort['Tensor']>;

/** For each canonical pixel, the plan points whose canonical square covers it, in plan order (CSR). */
export function coverageLists(plan: OcclusionPlan): { offsets: Uint32Array; points: Uint32Array } {
  const size = plan.canonicalSize;
  const offsets = new Uint32Array(size * size + 1);
  const rects = plan.canonicalRects;
  for (let n = 0; n < plan.count; n++) {
    for (let y = rects[4 * n + 1]!; y < rects[4 * n + 3]!; y++) for (let x = rects[4 * n]!; x < rects[4 * n + 2]!; x++) offsets[y * size + x + 1]!++;
  }
  for (let p = 0; p < size * size; p++) offsets[p + 1]! += offsets[p]!;
  const points = new Uint32Array(offsets[size * size]!);
  const fillAt = offsets.slice(0, size * size);
  for (let n = 0; n < plan.count; n++) {
    for (let y = rects[4 * n + 1]!; y < rects[4 * n + 3]!; y++) for (let x = rects[4 * n]!; x < rects[4 * n + 2]!; x++) points[fillAt[y * size + x]!++] = n;
  }
  return { offsets, points };
}

interface Coverage { offsets: GPUBuffer; points: GPUBuffer; count: Uint32Array }

class WebGpuSession implements EngineSession {
  readonly engine: string;
  private readonly per: number;
  private readonly dims: (rows: number) => number[];
  /** Coverage lists by canonical geometry: with csm's own alignment every image shares them. */
  private readonly coverage = new Map<string, Coverage>();

  constructor(private readonly ctx: GpuContext, private readonly ort: Ort, private readonly session: OrtSession, private readonly model: ResolvedModel, readonly batch: number) {
    const { input } = model.spec;
    const C = channelsOf(input);
    this.per = C * input.width * input.height;
    this.dims = (rows) => (input.layout === 'NCHW' ? [rows, C, input.height, input.width] : [rows, input.height, input.width, C]);
    this.engine = `webgpu (${ctx.adapter.vendor || '?'} ${ctx.adapter.device || ctx.adapter.architecture || ''}${ctx.adapter.fallback ? ', software' : ''})`.replace(/\s+\)/, ')');
  }

  private async run(buffer: GPUBuffer, rows: number, output: string): Promise<OrtTensor> {
    checkAlive(this.ctx);
    const input = this.ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: this.dims(rows) });
    try {
      const result = await this.session.run({ [this.model.spec.input.name]: input }, [output]);
      return result[output] as OrtTensor;
    } catch (e) {
      checkAlive(this.ctx);
      throw new ModelError(`[webgpu] inference on "${this.model.path}" failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async infer(inputs: Float32Array, rows: number, outputs: string[]): Promise<Record<string, Float32Array>> {
    checkAlive(this.ctx);
    if (inputs.length !== rows * this.per) throw new CsmError(`input holds ${inputs.length} values, ${rows} images need ${rows * this.per}`);
    const tensor = new this.ort.Tensor('float32', inputs, this.dims(rows));
    let result;
    try {
      result = await this.session.run({ [this.model.spec.input.name]: tensor }, outputs);
    } catch (e) {
      checkAlive(this.ctx);
      throw new ModelError(`[webgpu] inference on "${this.model.path}" failed: ${(e as Error).message}`, { cause: e });
    }
    const out: Record<string, Float32Array> = {};
    for (const name of outputs) {
      const t = result[name] as OrtTensor;
      out[name] = Float32Array.from((await t.getData()) as Float32Array);
      t.dispose();
    }
    return out;
  }

  async timeInference(image: Float32Array, batches: number[], output: string): Promise<number> {
    const { device } = this.ctx;
    const max = Math.max(...batches);
    const input = new Float32Array(max * this.per);
    for (let b = 0; b < max; b++) input.set(image, b * this.per);
    const buffer = storageBuffer(device, 'bench.input', input);
    await device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    for (const rows of batches) (await this.run(buffer, rows, output)).dispose();
    await device.queue.onSubmittedWorkDone();
    const seconds = (performance.now() - t0) / 1000;
    buffer.destroy();
    return seconds;
  }

  /** The model input built by the preprocess kernel from the photo region that the crop covers. */
  private preprocess(source: ImageSource, own: (b: GPUBuffer) => GPUBuffer): GPUBuffer {
    const { device } = this.ctx;
    const { input } = this.model.spec;
    const { photo, toSource } = source;
    const corners = [[0, 0], [input.width, 0], [0, input.height], [input.width, input.height]].map(([x, y]) => applyAffine(toSource, x!, y!));
    const clampX = (v: number): number => Math.min(Math.max(v, 0), photo.width);
    const clampY = (v: number): number => Math.min(Math.max(v, 0), photo.height);
    // One pixel of margin on each side covers the bilinear neighbours.
    const x0 = clampX(Math.floor(Math.min(...corners.map((c) => c[0])) - 1));
    const y0 = clampY(Math.floor(Math.min(...corners.map((c) => c[1])) - 1));
    const x1 = Math.max(x0 + 1, clampX(Math.ceil(Math.max(...corners.map((c) => c[0])) + 1)));
    const y1 = Math.max(y0 + 1, clampY(Math.ceil(Math.max(...corners.map((c) => c[1])) + 1)));
    const [w, h] = [Math.min(x1, photo.width) - x0, Math.min(y1, photo.height) - y0];
    const pixels = new Float32Array(3 * w * h);
    const plane = photo.width * photo.height;
    for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) {
      const from = c * plane + (y0 + y) * photo.width + x0;
      pixels.set(photo.data.subarray(from, from + w), (c * h + y) * w);
    }
    const C = channelsOf(input);
    const tensor = storageBuffer(device, 'input', this.per * 4);
    const { scale, offset } = normalisation(input);
    const encoder = device.createCommandEncoder({ label: 'preprocess' });
    own(encodePreprocess(device, encoder, {
      toSource, photoWidth: photo.width, photoHeight: photo.height, sub: { x: x0, y: y0, width: w, height: h },
      outWidth: input.width, outHeight: input.height, channels: C, nhwc: input.layout === 'NHWC', scale, offset,
      photo: own(storageBuffer(device, 'photo', pixels)), tensor,
    }));
    device.queue.submit([encoder.finish()]);
    return tensor;
  }

  private coverageFor(plan: OcclusionPlan): Coverage {
    const key = `${plan.canonicalSize}:${createHash('sha1').update(new Uint8Array(plan.canonicalRects.buffer, plan.canonicalRects.byteOffset, plan.canonicalRects.byteLength)).digest('hex')}`;
    let c = this.coverage.get(key);
    if (!c) {
      const { offsets, points } = coverageLists(plan);
      const count = new Uint32Array(plan.canonicalSize ** 2);
      for (let p = 0; p < count.length; p++) count[p] = offsets[p + 1]! - offsets[p]!;
      c = { offsets: storageBuffer(this.ctx.device, 'coverage.offsets', offsets), points: storageBuffer(this.ctx.device, 'coverage.points', points), count };
      if (this.coverage.size > 16) { for (const old of this.coverage.values()) { old.offsets.destroy(); old.points.destroy(); } this.coverage.clear(); }
      this.coverage.set(key, c);
    }
    return c;
  }

  async computeCis(req: CisRequest): Promise<CisMap> {
    checkAlive(this.ctx);
    const { device } = this.ctx;
    const { plan, score } = req;
    if (req.input.length !== this.per) throw new CsmError(`input tensor has ${req.input.length} values; the model takes ${this.per}`);
    if (req.pair && req.pair.plan.count !== plan.count) throw new CsmError('the two images of a pair need plans over the same canonical points');
    const { input } = this.model.spec;
    const C = channelsOf(input);
    const sources = req.pair ? [req.input, req.pair.input] : [req.input];
    const plans = req.pair ? [plan, req.pair.plan] : [plan];
    const owned: GPUBuffer[] = [];
    const own = (b: GPUBuffer): GPUBuffer => { owned.push(b); return b; };
    try {
      // I itself, or built on the device from the photo (only the part the crop reads is uploaded).
      const bases = req.source && !req.pair
        ? [own(this.preprocess(req.source, own))]
        : sources.map((s, i) => own(storageBuffer(device, `input${i}`, s)));
      const rects = plans.map((p, i) => own(storageBuffer(device, `rects${i}`, p.inputRects)));
      const fills = plans.map((p, i) => own(storageBuffer(device, `fill${i}`, p.fill)));
      const refs = score.references?.length ? Float32Array.from(score.references.flatMap((r) => Array.from(r))) : new Float32Array(4);
      const references = own(storageBuffer(device, 'references', refs));
      const baseline = own(storageBuffer(device, 'baseline', 4));
      const drops = own(storageBuffer(device, 'drops', Math.max(1, plan.count) * 4));
      const map = own(storageBuffer(device, 'map', plan.canonicalSize ** 2 * 4));
      const batches = [0, 1].map((k) => sources.map((_, i) => own(storageBuffer(device, `batch${k}.${i}`, this.batch * this.per * 4))));
      const coverage = this.coverageFor(plan);

      const scoreArgs = (outs: OrtTensor[], rows: number, mode: 'baseline' | 'drops', first: number) => ({
        rows, width: outs[0]!.dims[outs[0]!.dims.length - 1]!, ...kindOf(score), refs: score.references?.length ?? 0, first, mode,
        c: score.pair?.c ?? 1, tau: score.pair?.tau ?? 0,
        output: outs[0]!.gpuBuffer as GPUBuffer, output2: (outs[1] ?? outs[0]!).gpuBuffer as GPUBuffer, references, baseline, drops,
      });
      const submitScore = (outs: OrtTensor[], rows: number, mode: 'baseline' | 'drops', first: number): void => {
        const encoder = device.createCommandEncoder({ label: 'score' });
        own(encodeScore(device, encoder, scoreArgs(outs, rows, mode, first)));
        device.queue.submit([encoder.finish()]);
        // The score pass is queued before any later inference can reuse these buffers.
        for (const o of outs) o.dispose();
      };

      // φ(I) of the unoccluded image(s).
      submitScore(await Promise.all(bases.map((b) => this.run(b, 1, score.output))), 1, 'baseline', 0);

      const occlude = (k: number, first: number, rows: number): void => {
        const encoder = device.createCommandEncoder({ label: 'occlude' });
        sources.forEach((_, i) => own(encodeOcclude(device, encoder, {
          rows, first, channels: C, height: input.height, width: input.width, nhwc: input.layout === 'NHWC',
          base: bases[i]!, rects: rects[i]!, fill: fills[i]!, out: batches[k % 2]![i]!,
        })));
        device.queue.submit([encoder.finish()]);
      };
      const start = (k: number, first: number): { first: number; rows: number; outs: Promise<OrtTensor[]> } => {
        const rows = Math.min(this.batch, plan.count - first);
        return { first, rows, outs: Promise.all(batches[k % 2]!.map((b) => this.run(b, rows, score.output))) };
      };
      if (plan.count > 0) {
        occlude(0, 0, Math.min(this.batch, plan.count));
        let pending: ReturnType<typeof start> | undefined = start(0, 0);
        for (let k = 0; pending; k++) {
          const nextFirst: number = pending.first + pending.rows;
          if (nextFirst < plan.count) occlude(k + 1, nextFirst, Math.min(this.batch, plan.count - nextFirst));
          submitScore(await pending.outs, pending.rows, 'drops', pending.first);
          pending = nextFirst < plan.count ? start(k + 1, nextFirst) : undefined;
        }
      }

      const encoder = device.createCommandEncoder({ label: 'gather' });
      own(encodeGather(device, encoder, { pixels: plan.canonicalSize ** 2, offsets: coverage.offsets, points: coverage.points, drops, map }));
      device.queue.submit([encoder.finish()]);
      const [mapBytes, dropBytes, baseBytes] = await readBack(device, [
        { buffer: map, bytes: plan.canonicalSize ** 2 * 4 }, { buffer: drops, bytes: plan.count * 4 }, { buffer: baseline, bytes: 4 },
      ]);
      checkAlive(this.ctx);
      const mapValues = new Float32Array(mapBytes!, 0, plan.canonicalSize ** 2);
      const dropValues = new Float32Array(dropBytes!, 0, plan.count);
      const base = new Float32Array(baseBytes!)[0]!;
      if (!Number.isFinite(base) || !dropValues.every(Number.isFinite)) throw new ModelError(`[webgpu] the model gave a non-finite score on output "${score.output}"`);
      const sum = Float64Array.from(mapValues, (v, p) => v * coverage.count[p]!);
      return { size: plan.canonicalSize, map: Float32Array.from(mapValues), sum, count: Uint32Array.from(coverage.count), baseline: base, drops: Float32Array.from(dropValues) };
    } catch (e) {
      if (this.ctx.lost && !(e instanceof GpuLostError)) checkAlive(this.ctx);
      throw e;
    } finally {
      for (const b of owned) b.destroy();
    }
  }

  async dispose(): Promise<void> {
    for (const c of this.coverage.values()) { c.offsets.destroy(); c.points.destroy(); }
    this.coverage.clear();
    await this.session.release();
  }
}

function kindOf(score: ScoreSpec): { kind: number; index: number; sign: number } {
  const kind = score.pair ? SCORE_KIND.pair : SCORE_KIND[score.kind];
  return { kind, index: score.index, sign: score.sign ?? 1 };
}

/** Default batch: up to 16 M input values (64 MiB) per batch and the device's binding limit, at most 256 copies. */
export function defaultGpuBatch(device: GPUDevice, valuesPerImage: number): number {
  return Math.max(1, Math.min(256, Math.floor(2 ** 24 / valuesPerImage), Math.floor(device.limits.maxStorageBufferBindingSize / (4 * valuesPerImage))));
}

export function webgpuEngine(allowFallback: boolean): Engine {
  return {
    name: 'webgpu',
    async open(model: ResolvedModel, options: EngineOptions = {}): Promise<EngineSession> {
      const ctx = await acquireGpu(allowFallback);
      const ort = await loadOrtWeb();
      let session: OrtSession;
      try {
        session = await ort.InferenceSession.create(await readFile(model.path), {
          executionProviders: [{ name: 'webgpu', device: ctx.device } as never],
          preferredOutputLocation: 'gpu-buffer',
        });
      } catch (e) {
        throw new ModelError(`[webgpu] onnxruntime-web cannot load "${model.path}": ${(e as Error).message}`, { cause: e });
      }
      const { input } = model.spec;
      const per = channelsOf(input) * input.width * input.height;
      const batch = options.batch ?? defaultGpuBatch(ctx.device, per);
      if (!Number.isInteger(batch) || batch < 1) throw new CsmError(`batch must be a positive whole number, got ${batch}`);
      return new WebGpuSession(ctx, ort, session, model, batch);
    },
  };
}
