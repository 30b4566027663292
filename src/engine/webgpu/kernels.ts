/**
 * Typed launchers for the WGSL kernels: each packs its uniform block exactly as the shader's
 * `Params` struct lays it out (stride_x included: the kernels rebuild their linear index from a
 * dispatch folded into 2-D) and records one dispatch. The table KERNELS lists them all.
 */
import type { Affine } from '../../image/index.js';
import { dispatchSize, encodeKernel, pipeline, type KernelName } from './programs.js';

/** Launcher option shared by every kernel. */
export interface DispatchOptions {
  /** Workgroups per dispatch dimension (default and ceiling: the device's limit); small values force a 2-D fold. */
  maxGroupsPerDimension?: number;
}

export interface OccludeArgs extends DispatchOptions { rows: number; first: number; channels: number; height: number; width: number; nhwc: boolean; base: GPUBuffer; rects: GPUBuffer; fill: GPUBuffer; out: GPUBuffer }

export function encodeOcclude(device: GPUDevice, encoder: GPUCommandEncoder, a: OccludeArgs): GPUBuffer {
  const per = a.channels * a.height * a.width;
  const size = dispatchSize(device, a.rows * per, pipeline(device, 'occlude').workgroup, a.maxGroupsPerDimension);
  // Params: rows, first, channels, height, width, nhwc, per, stride_x (8 × u32, 32 bytes).
  const u = new Uint32Array([a.rows, a.first, a.channels, a.height, a.width, a.nhwc ? 1 : 0, per, size.strideX]);
  return encodeKernel(device, encoder, 'occlude', u.buffer, [a.base, a.rects, a.fill, a.out], size);
}

/** Score kinds, numbered as in shaders/score.wgsl. */
export const SCORE_KIND = { index: 0, 'one-minus': 1, log: 2, softmax: 3, 'sigmoid-logit': 4, 'cosine-max': 5, pair: 6 } as const;

export interface ScoreArgs extends DispatchOptions {
  rows: number; width: number; kind: number; index: number; sign: number; refs: number; first: number;
  mode: 'baseline' | 'drops'; c: number; tau: number;
  output: GPUBuffer; output2: GPUBuffer; references: GPUBuffer; baseline: GPUBuffer; drops: GPUBuffer;
}

export function encodeScore(device: GPUDevice, encoder: GPUCommandEncoder, a: ScoreArgs): GPUBuffer {
  const size = dispatchSize(device, a.rows, pipeline(device, 'score').workgroup, a.maxGroupsPerDimension);
  // Params: rows, width, kind, index, sign (f32), refs, first, mode, c (f32), tau (f32), stride_x, pad (48 bytes).
  const buf = new ArrayBuffer(48);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  u[0] = a.rows; u[1] = a.width; u[2] = a.kind; u[3] = a.index; f[4] = a.sign; u[5] = a.refs; u[6] = a.first;
  u[7] = a.mode === 'baseline' ? 0 : 1; f[8] = a.c; f[9] = a.tau; u[10] = size.strideX;
  return encodeKernel(device, encoder, 'score', buf, [a.output, a.output2, a.references, a.baseline, a.drops], size);
}

export interface GatherArgs extends DispatchOptions { pixels: number; offsets: GPUBuffer; points: GPUBuffer; drops: GPUBuffer; map: GPUBuffer }

export function encodeGather(device: GPUDevice, encoder: GPUCommandEncoder, a: GatherArgs): GPUBuffer {
  const size = dispatchSize(device, a.pixels, pipeline(device, 'gather').workgroup, a.maxGroupsPerDimension);
  // Params: pixels, stride_x, pad, pad (16 bytes).
  return encodeKernel(device, encoder, 'gather', new Uint32Array([a.pixels, size.strideX, 0, 0]).buffer, [a.offsets, a.points, a.drops, a.map], size);
}

export interface PreprocessArgs extends DispatchOptions {
  toSource: Affine; photoWidth: number; photoHeight: number;
  sub: { x: number; y: number; width: number; height: number };
  outWidth: number; outHeight: number; channels: number; nhwc: boolean; scale: number[]; offset: number[];
  photo: GPUBuffer; tensor: GPUBuffer;
}

export function encodePreprocess(device: GPUDevice, encoder: GPUCommandEncoder, a: PreprocessArgs): GPUBuffer {
  const size = dispatchSize(device, a.outWidth * a.outHeight, pipeline(device, 'preprocess').workgroup, a.maxGroupsPerDimension);
  // Params: a…f, photo_w, photo_h (8 × f32, bytes 0–31); sub_x…nhwc (8 × u32, 32–63); scale
  // (vec4, 64–79); offset (vec4, 80–95); stride_x (u32, 96) and 3 pads: 112 bytes, as the struct
  // rounds up to its 16-byte alignment.
  const buf = new ArrayBuffer(112);
  const f = new Float32Array(buf);
  const u = new Uint32Array(buf);
  const m = a.toSource;
  f.set([m.a, m.b, m.c, m.d, m.e, m.f, a.photoWidth, a.photoHeight], 0);
  u.set([a.sub.x, a.sub.y, a.sub.width, a.sub.height, a.outWidth, a.outHeight, a.channels, a.nhwc ? 1 : 0], 8);
  f.set([...a.scale, 0, 0, 0, 0].slice(0, 4), 16);
  f.set([...a.offset, 0, 0, 0, 0].slice(0, 4), 20);
  u[24] = size.strideX;
  return encodeKernel(device, encoder, 'preprocess', buf, [a.photo, a.tensor], size);
}

export interface ReprojectArgs extends DispatchOptions { width: number; height: number; size: number; count: number; map: GPUBuffer; centres: GPUBuffer; rects: GPUBuffer; values: GPUBuffer }

export function encodeReproject(device: GPUDevice, encoder: GPUCommandEncoder, a: ReprojectArgs): GPUBuffer {
  const size = dispatchSize(device, a.width * a.height, pipeline(device, 'reproject').workgroup, a.maxGroupsPerDimension);
  // Params: width, height, size, count, stride_x, pad × 3 (8 × u32, 32 bytes).
  return encodeKernel(device, encoder, 'reproject', new Uint32Array([a.width, a.height, a.size, a.count, size.strideX, 0, 0, 0]).buffer, [a.map, a.centres, a.rects, a.values], size);
}

/** Every kernel, with its CPU twin (the reference the tests compare it to). */
export const KERNELS: Record<KernelName, { twin: string }> = {
  occlude: { twin: 'src/engine/cpu/occlude.ts buildOccludedBatch' },
  score: { twin: 'src/saliency/score.ts scoreRow / evaluatePairScores' },
  gather: { twin: 'src/saliency/cis.ts accumulateCis' },
  preprocess: { twin: 'src/image/affine.ts warpAffine + src/models/preprocess.ts toModelInput' },
  reproject: { twin: 'src/saliency/cis.ts reprojectToInput' },
};
