/**
 * The engine interface. An engine runs models and supplies the small primitives of the occlusion
 * loop (prepare the input, occlude a batch, infer, score, gather); the loop itself lives once, in
 * src/saliency/loop.ts, and no engine owns one (design.md, "One loop, many engines"). The CPU
 * engine (onnxruntime-node + TypeScript kernels) is the reference; every other engine must equal it
 * on the same plan within a stated tolerance (test/engine/conformance.test.ts).
 */
import type { Affine, RgbImage } from '../image/index.js';
import type { ResolvedModel } from '../models/load.js';
import type { OcclusionPlan, ScoreSpec } from '../saliency/types.js';

/** The photo that I is cut from, so that an engine can build I itself from the photo. */
export interface ImageSource {
  photo: RgbImage;
  /** I's pixel coordinates → the photo's. */
  toSource: Affine;
}

export interface CisRequest {
  /** The unoccluded input image I as one model-input tensor (the model's layout, normalised). */
  input: Float32Array;
  /**
   * Optional: the photo I comes from. The WebGPU engine then uploads (the needed part of) the
   * photo and builds I on the device with its preprocess kernel; the CPU engine uses `input`.
   */
  source?: ImageSource;
  plan: OcclusionPlan;
  score: ScoreSpec;
  /**
   * Verification (Eq. 8): the pair's other image and its plan, whose points are the same canonical
   * points in the same order; point n is occluded in both images at once.
   */
  pair?: { input: Float32Array; plan: OcclusionPlan };
}

/** What an engine hands back when one image's occlusion is done. */
export interface GatheredCis {
  /** P / N on the canonical grid (0 where N = 0). */
  map: Float32Array;
  /** N: patches covering each canonical pixel. */
  count: Uint32Array;
  /** s_n per plan point. */
  drops: Float32Array;
  /** φ(I). */
  baseline: number;
}

/**
 * One image's occlusion on an engine: the primitives that the shared loop drives. `Out` is the
 * engine's handle for a forward pass's outputs (host arrays on the CPU, GPU buffers on WebGPU);
 * the loop never looks inside it. Two batch slots (0 and 1) let the loop build batch k + 1 while
 * batch k is being scored.
 */
export interface OcclusionRun<Out = unknown> {
  /** Writes occluded copies of plan points [first, first + rows) into batch slot `slot`. */
  occlude(slot: 0 | 1, first: number, rows: number): void;
  /** Starts a forward pass of the unoccluded input(s) (`'input'`, one row) or of a batch slot. */
  infer(slot: 'input' | 0 | 1, rows: number): Promise<Out>;
  /**
   * Turns outputs into φ: `'baseline'` keeps φ(I); a number `first` keeps the drops
   * s_n = φ(I) − φ(I*_n) of points first … first + rows − 1. Must not wait for the device.
   */
  score(out: Out, target: 'baseline' | number, rows: number): void;
  /** Paints the kept drops onto the canonical grid and returns the finished map. */
  gather(): Promise<GatheredCis>;
  /** Frees what `prepare` made (always called, also after an error). */
  release(): void;
}

export interface EngineSession {
  /** The engine's name with its device, e.g. "cpu" or "webgpu (nvidia …)". */
  readonly engine: string;
  /** Occluded copies scored per forward pass (set by `--batch`, or measured: engine/batch.ts). */
  batch: number;
  /** Values in one model-input tensor (one image). */
  readonly valuesPerImage: number;
  /** Forward pass of `rows` whole images (concatenated tensors); returns the named outputs on the host. */
  infer(inputs: Float32Array, rows: number, outputs: string[]): Promise<Record<string, Float32Array>>;
  /**
   * Benchmark hook: seconds for pure inference of `image` repeated in batches of the given sizes,
   * the way this engine's primitives feed the model (device-resident for the GPU engine), with no
   * occlusion, scoring or accumulation: the floor the loop's overhead is measured against.
   */
  timeInference(image: Float32Array, batches: number[], output: string): Promise<number>;
  /**
   * Opens another model on the same engine and device (the detector, the mesh network, CAM graphs),
   * so that the whole pipeline runs where the user chose.
   */
  openModel(model: ResolvedModel, options?: EngineOptions): Promise<EngineSession>;
  /** Uploads / allocates what one image's occlusion needs; the request is already validated. */
  prepare(request: CisRequest): Promise<OcclusionRun>;
  dispose(): Promise<void>;
}

export interface EngineOptions {
  /** Occluded copies per forward pass; engines pick a default from the model and device. */
  batch?: number;
  /** CPU threads for inference (onnxruntime intra-op threads). */
  threads?: number;
}

export interface Engine {
  readonly name: string;
  open(model: ResolvedModel, options?: EngineOptions): Promise<EngineSession>;
}

/** Opens a model on an engine that the caller has chosen: how every stage runs its models. */
export type ModelOpener = (model: ResolvedModel, options?: EngineOptions) => Promise<EngineSession>;
