/**
 * The engine interface: what runs an occlusion plan. The CPU engine (onnxruntime-node + TypeScript
 * kernels) is the reference; the WebGPU engine must equal it on the same plan within a stated
 * tolerance. Engines receive fully built plans and score specs: they never re-derive geometry.
 */
import type { Affine, RgbImage } from '../image/index.js';
import type { ResolvedModel } from '../models/load.js';
import type { CisMap, OcclusionPlan, ScoreSpec } from '../saliency/types.js';

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

export interface EngineSession {
  readonly engine: string;
  /** Occluded copies scored per forward pass. */
  readonly batch: number;
  /** Forward pass of `rows` whole images (concatenated tensors); returns the named outputs. */
  infer(inputs: Float32Array, rows: number, outputs: string[]): Promise<Record<string, Float32Array>>;
  /**
   * Benchmark hook: seconds for pure inference of `image` repeated in batches of the given sizes,
   * the way this engine's own loop feeds the model (device-resident for the GPU engine), with no
   * occlusion, scoring or accumulation: the floor the engine's overhead is measured against.
   */
  timeInference(image: Float32Array, batches: number[], output: string): Promise<number>;
  /** Algorithm 1 for one image: every plan point occluded, scored and painted on the canonical grid. */
  computeCis(request: CisRequest): Promise<CisMap>;
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
