/**
 * The WebGPU engine: the occlusion primitives on the device. An image's input goes to the GPU once
 * (or is built there from the photo by the `preprocess` kernel); `occlude` writes each batch of
 * occluded copies into a buffer that onnxruntime-web reads in place (Tensor.fromGpuBuffer); its
 * outputs stay on the GPU (preferredOutputLocation 'gpu-buffer') where `score` turns them into
 * signed drops; `gather` paints the drops onto the canonical grid. The CPU reads back only the
 * finished map (and the per-point drops, a few KB). The loop that drives these primitives is the
 * shared one in saliency/loop.ts.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CsmError, FatalError, ModelError } from '../../errors.js';
import type { ResolvedModel } from '../../models/load.js';
import { channelsOf, normalisation } from '../../models/spec.js';
import { applyAffine } from '../../image/index.js';
import type { OcclusionPlan, ScoreSpec } from '../../saliency/types.js';
import type { CisRequest, Engine, EngineOptions, EngineSession, GatheredCis, ImageSource, OcclusionRun } from '../types.js';
import { encodeGather, encodeOcclude, encodePreprocess, encodeScore, SCORE_KIND } from './kernels.js';
import { loadOrtWeb, type Ort } from './ort.js';
import { readBack, storageBuffer } from './programs.js';
import { GpuRuntime } from './runtime.js';

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

function kindOf(score: ScoreSpec): { kind: number; index: number; sign: number } {
  const kind = score.pair ? SCORE_KIND.pair : SCORE_KIND[score.kind];
  return { kind, index: score.index, sign: score.sign ?? 1 };
}

/** One image's occlusion on the device: buffers made by WebGpuSession.prepare, freed by release. */
class DeviceOcclusion implements OcclusionRun<OrtTensor[]> {
  private readonly owned: GPUBuffer[] = [];
  private readonly bases: GPUBuffer[];
  private readonly rects: GPUBuffer[];
  private readonly fills: GPUBuffer[];
  private readonly batches: GPUBuffer[][];
  private readonly references: GPUBuffer;
  private readonly baseline: GPUBuffer;
  private readonly drops: GPUBuffer;
  private readonly map: GPUBuffer;

  constructor(private readonly session: WebGpuSession, private readonly req: CisRequest, private readonly coverage: Coverage) {
    const { device } = session.runtime;
    const { plan, score } = req;
    const plans = req.pair ? [plan, req.pair.plan] : [plan];
    const own = (b: GPUBuffer): GPUBuffer => { this.owned.push(b); return b; };
    // I itself, or built on the device from the photo (only the part the crop reads is uploaded).
    this.bases = req.source
      ? [own(session.preprocess(req.source, own))]
      : (req.pair ? [req.input, req.pair.input] : [req.input]).map((s, i) => own(storageBuffer(device, `input${i}`, s)));
    this.rects = plans.map((p, i) => own(storageBuffer(device, `rects${i}`, p.inputRects)));
    this.fills = plans.map((p, i) => own(storageBuffer(device, `fill${i}`, p.fill)));
    const refs = score.references?.length ? Float32Array.from(score.references.flatMap((r) => Array.from(r))) : new Float32Array(4);
    this.references = own(storageBuffer(device, 'references', refs));
    this.baseline = own(storageBuffer(device, 'baseline', 4));
    this.drops = own(storageBuffer(device, 'drops', Math.max(1, plan.count) * 4));
    this.map = own(storageBuffer(device, 'map', plan.canonicalSize ** 2 * 4));
    const rows = Math.min(session.batch, Math.max(1, plan.count));
    this.batches = [0, 1].map((k) => plans.map((_, i) => own(storageBuffer(device, `batch${k}.${i}`, rows * session.valuesPerImage * 4))));
  }

  occlude(slot: 0 | 1, first: number, rows: number): void {
    this.session.runtime.checkAlive();
    const { device } = this.session.runtime;
    const { input } = this.session.model.spec;
    const encoder = device.createCommandEncoder({ label: 'occlude' });
    this.bases.forEach((base, i) => this.owned.push(encodeOcclude(device, encoder, {
      rows, first, channels: channelsOf(input), height: input.height, width: input.width, nhwc: input.layout === 'NHWC',
      base, rects: this.rects[i]!, fill: this.fills[i]!, out: this.batches[slot]![i]!,
    })));
    device.queue.submit([encoder.finish()]);
  }

  infer(slot: 'input' | 0 | 1, rows: number): Promise<OrtTensor[]> {
    const buffers = slot === 'input' ? this.bases : this.batches[slot]!;
    return Promise.all(buffers.map((b) => this.session.run(b, rows, this.req.score.output)));
  }

  score(outs: OrtTensor[], target: 'baseline' | number, rows: number): void {
    this.session.runtime.checkAlive();
    const { device } = this.session.runtime;
    const { score } = this.req;
    const encoder = device.createCommandEncoder({ label: 'score' });
    this.owned.push(encodeScore(device, encoder, {
      // Values per row from the whole tensor, as the CPU twin does: a rank-1 output [batch] has 1.
      rows, width: outs[0]!.dims.reduce((a, b) => a * b, 1) / rows, ...kindOf(score), refs: score.references?.length ?? 0,
      first: target === 'baseline' ? 0 : target, mode: target === 'baseline' ? 'baseline' : 'drops',
      c: score.pair?.c ?? 1, tau: score.pair?.tau ?? 0,
      output: outs[0]!.gpuBuffer as GPUBuffer, output2: (outs[1] ?? outs[0]!).gpuBuffer as GPUBuffer,
      references: this.references, baseline: this.baseline, drops: this.drops,
    }));
    device.queue.submit([encoder.finish()]);
    // The score pass is queued before any later inference can reuse these buffers.
    for (const o of outs) o.dispose();
  }

  async gather(): Promise<GatheredCis> {
    const { runtime } = this.session;
    runtime.checkAlive();
    const { device } = runtime;
    const { plan } = this.req;
    const pixels = plan.canonicalSize ** 2;
    const encoder = device.createCommandEncoder({ label: 'gather' });
    this.owned.push(encodeGather(device, encoder, { pixels, offsets: this.coverage.offsets, points: this.coverage.points, drops: this.drops, map: this.map }));
    device.queue.submit([encoder.finish()]);
    let parts: ArrayBuffer[];
    try {
      parts = await readBack(device, [{ buffer: this.map, bytes: pixels * 4 }, { buffer: this.drops, bytes: plan.count * 4 }, { buffer: this.baseline, bytes: 4 }]);
    } catch (e) {
      runtime.checkAlive();
      throw e;
    }
    runtime.checkAlive();
    const [map, drops, base] = parts as [ArrayBuffer, ArrayBuffer, ArrayBuffer];
    return {
      map: new Float32Array(map, 0, pixels), count: Uint32Array.from(this.coverage.count),
      drops: new Float32Array(drops, 0, plan.count), baseline: new Float32Array(base)[0]!,
    };
  }

  release(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }
}

class WebGpuSession implements EngineSession {
  readonly engine: string;
  readonly valuesPerImage: number;
  private readonly dims: (rows: number) => number[];
  /** Coverage lists by canonical geometry: with csm's own alignment every image shares them. */
  private readonly coverage = new Map<string, Coverage>();
  private released = false;
  /**
   * onnxruntime-web runs one inference per session at a time (a second concurrent run on the same
   * session never settles), so the passes of a pair, or of the loop and a caller, queue here.
   */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(private readonly source: Engine, readonly runtime: GpuRuntime, private readonly ort: Ort, private readonly session: OrtSession, readonly model: ResolvedModel, public batch: number) {
    const { input } = model.spec;
    const C = channelsOf(input);
    this.valuesPerImage = C * input.width * input.height;
    this.dims = (rows) => (input.layout === 'NCHW' ? [rows, C, input.height, input.width] : [rows, input.height, input.width, C]);
    const a = runtime.adapter;
    this.engine = `webgpu (${a.vendor || '?'} ${a.device || a.architecture || ''}${a.fallback ? ', software' : ''})`.replace(/\s+\)/, ')');
  }

  /** Throws a FatalError when the device is lost or this session released: no later image can run. */
  checkUsable(): void {
    this.runtime.checkAlive();
    if (this.released) throw new FatalError(`[webgpu] the inference session of "${this.model.path}" was released; the run stops here`);
  }

  /** Runs `work` once the session's previous run has settled. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.turn.then(work, work);
    this.turn = next.catch(() => undefined);
    return next;
  }

  /** A forward pass on a device buffer; the output stays on the device. */
  async run(buffer: GPUBuffer, rows: number, output: string): Promise<OrtTensor> {
    this.checkUsable();
    const input = this.ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: this.dims(rows) });
    try {
      const result = await this.exclusive(() => this.session.run({ [this.model.spec.input.name]: input }, [output]));
      return result[output] as OrtTensor;
    } catch (e) {
      this.runtime.checkAlive();
      throw new ModelError(`[webgpu] inference on "${this.model.path}" failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async infer(inputs: Float32Array, rows: number, outputs: string[]): Promise<Record<string, Float32Array>> {
    this.checkUsable();
    if (inputs.length !== rows * this.valuesPerImage) throw new CsmError(`input holds ${inputs.length} values, ${rows} images need ${rows * this.valuesPerImage}`);
    const tensor = new this.ort.Tensor('float32', inputs, this.dims(rows));
    let result;
    try {
      result = await this.exclusive(() => this.session.run({ [this.model.spec.input.name]: tensor }, outputs));
    } catch (e) {
      this.runtime.checkAlive();
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
    const { device } = this.runtime;
    const max = Math.max(...batches);
    const input = new Float32Array(max * this.valuesPerImage);
    for (let b = 0; b < max; b++) input.set(image, b * this.valuesPerImage);
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
  preprocess(source: ImageSource, own: (b: GPUBuffer) => GPUBuffer): GPUBuffer {
    const { device } = this.runtime;
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
    const tensor = storageBuffer(device, 'input', this.valuesPerImage * 4);
    const { scale, offset } = normalisation(input);
    const encoder = device.createCommandEncoder({ label: 'preprocess' });
    own(encodePreprocess(device, encoder, {
      toSource, photoWidth: photo.width, photoHeight: photo.height, sub: { x: x0, y: y0, width: w, height: h },
      outWidth: input.width, outHeight: input.height, channels: channelsOf(input), nhwc: input.layout === 'NHWC', scale, offset,
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
      const { device } = this.runtime;
      c = { offsets: storageBuffer(device, 'coverage.offsets', offsets), points: storageBuffer(device, 'coverage.points', points), count };
      if (this.coverage.size > 16) this.dropCoverage();
      this.coverage.set(key, c);
    }
    return c;
  }

  private dropCoverage(): void {
    for (const old of this.coverage.values()) { old.offsets.destroy(); old.points.destroy(); }
    this.coverage.clear();
  }

  openModel(model: ResolvedModel, options: EngineOptions = {}): Promise<EngineSession> {
    return this.source.open(model, options);
  }

  async prepare(request: CisRequest): Promise<OcclusionRun> {
    this.checkUsable();
    return new DeviceOcclusion(this, request, this.coverageFor(request.plan)) as OcclusionRun;
  }

  async dispose(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.dropCoverage();
    await this.session.release();
  }
}

/** Default batch: up to 16 M input values (64 MiB) per batch and the device's binding limit, at most 256 copies. */
export function defaultGpuBatch(device: GPUDevice, valuesPerImage: number): number {
  return Math.max(1, Math.min(256, Math.floor(2 ** 24 / valuesPerImage), Math.floor(device.limits.maxStorageBufferBindingSize / (4 * valuesPerImage))));
}

export function webgpuEngine(allowFallback: boolean): Engine {
  const engine: Engine = {
    name: 'webgpu',
    async open(model: ResolvedModel, options: EngineOptions = {}): Promise<EngineSession> {
      const runtime = await GpuRuntime.acquire(allowFallback);
      const ort = await loadOrtWeb();
      let session: OrtSession;
      try {
        session = await ort.InferenceSession.create(await readFile(model.path), {
          executionProviders: [{ name: 'webgpu', device: runtime.device } as never],
          preferredOutputLocation: 'gpu-buffer',
        });
      } catch (e) {
        throw new ModelError(`[webgpu] onnxruntime-web cannot load "${model.path}": ${(e as Error).message}`, { cause: e });
      }
      const { input } = model.spec;
      const batch = options.batch ?? defaultGpuBatch(runtime.device, channelsOf(input) * input.width * input.height);
      if (!Number.isInteger(batch) || batch < 1) throw new CsmError(`batch must be a positive whole number, got ${batch}`);
      return new WebGpuSession(engine, runtime, ort, session, model, batch);
    },
  };
  return engine;
}

