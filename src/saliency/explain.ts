/**
 * Explaining one photo: face → model input I → correspondence in I → plan → engine → CIS. The
 * correspondence comes from csm's own mesh (dense canonical grid points mapped through the face's
 * 468-point mesh) or from external dense alignments (PRNet-style, the paper's setup).
 */
import { existsSync } from 'node:fs';
import { CsmError } from '../errors.js';
import { FaceAligner, type FaceChoice } from '../face/align.js';
import { canonicalFrame, loadCanonicalFaceModel } from '../face/canonical.js';
import { densePoints, mapPoints, meshXYFromXYZ, type DensePoints } from '../face/correspondence.js';
import type { ExternalAlignment } from '../face/external.js';
import type { CanonicalFrame, Correspondence } from '../face/types.js';
import { applyAffine, invertAffine, printableName, readImage, warpAffine, type Affine, type RgbImage } from '../image/index.js';
import type { EngineSession } from '../engine/types.js';
import { toModelInput } from '../models/preprocess.js';
import { selectHead, type HeadSpec, type ModelSpec } from '../models/spec.js';
import { computeCis } from './loop.js';
import { buildPlan, fillValues } from './plan.js';
import { meanSpacing, samplePlan, stratumKey, type Sampling } from './sampling.js';
import { classProbabilities, headScore, resolveClass } from './score.js';
import type { CisMap, FillKind, OcclusionPlan, ScoreKind, ScoreSpec } from './types.js';

export interface ExplainOptions {
  head?: string;
  /** Class to explain (name or index); default: the predicted class of each image. */
  className?: string;
  score: ScoreKind;
  fill: FillKind;
  /** Patch side in input pixels (default 15 at 224, scaled). */
  patch?: number;
  /** Own mesh: canonical grid spacing in canonical pixels; external: every stride-th vertex. */
  stride: number;
  /** H_F for csm's own canonical face. External alignments bring their own F. */
  canonicalSize: number;
  /** face: a square around the face, `cropScale` × its size; full: the whole photo resized (the release). */
  crop: 'face' | 'full';
  cropScale: number;
  face: FaceChoice;
  /** Which dense points each image runs (sampling.ts); default grid: all of them. */
  sampling?: Sampling;
}

export const DEFAULT_EXPLAIN: ExplainOptions = { score: 'logit', fill: 'black', stride: 4, canonicalSize: 256, crop: 'face', cropScale: 1.2, face: 'largest' };

/** A photo made ready for occlusion: the model input and the correspondence in its pixels. */
export interface PreparedImage {
  file: string;
  photo: RgbImage;
  /** The input image I (pixels 0..255, model size). */
  image: RgbImage;
  /** I as the model's normalised input tensor. */
  tensor: Float32Array;
  /** Photo pixels → I pixels. */
  toInput: Affine;
  correspondence: Correspondence;
  /** The face mesh in photo pixels (own alignment only). */
  meshXYZ?: Float32Array;
  warnings: string[];
}

export interface Prediction {
  head: string;
  classIndex?: number;
  label?: string;
  /** Class probabilities (classification heads) or the value (regression). */
  probabilities?: number[];
  value?: number;
}

export interface CisResult {
  prepared: PreparedImage;
  plan: OcclusionPlan;
  score: ScoreSpec;
  prediction: Prediction;
  cis: CisMap;
}

/** The affine map taking photo pixels to I's pixels for a crop of the photo. */
function cropToInput(points: Float32Array, photo: RgbImage, W: number, H: number, crop: 'face' | 'full', scale: number): Affine {
  if (crop === 'full') return { a: W / photo.width, b: 0, c: 0, d: 0, e: H / photo.height, f: 0 };
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let k = 0; k < points.length; k += 2) {
    minX = Math.min(minX, points[k]!); maxX = Math.max(maxX, points[k]!);
    minY = Math.min(minY, points[k + 1]!); maxY = Math.max(maxY, points[k + 1]!);
  }
  const side = Math.max(maxX - minX, maxY - minY) * scale;
  const x0 = (minX + maxX) / 2 - side / 2;
  const y0 = (minY + maxY) / 2 - side / 2;
  return { a: W / side, b: 0, c: (-x0 * W) / side, d: 0, e: H / side, f: (-y0 * H) / side };
}

export class Explainer {
  readonly head: HeadSpec;
  private constructor(
    readonly spec: ModelSpec,
    readonly session: EngineSession,
    readonly options: ExplainOptions,
    private readonly aligner: FaceAligner | undefined,
    readonly frame: CanonicalFrame | undefined,
    private readonly points: DensePoints | undefined,
    readonly external: ExternalAlignment | undefined,
  ) {
    this.head = selectHead(spec, options.head);
  }

  /** With csm's own alignment (detector + mesh + canonical face), or with external alignments. */
  static async create(spec: ModelSpec, session: EngineSession, options: ExplainOptions, external?: ExternalAlignment): Promise<Explainer> {
    if (external) return new Explainer(spec, session, options, undefined, undefined, undefined, external);
    const frame = canonicalFrame(await loadCanonicalFaceModel(), options.canonicalSize);
    const points = densePoints(frame, options.stride);
    // The detector and the mesh network run on the same engine as the explained model.
    return new Explainer(spec, session, options, await FaceAligner.create((m, o) => session.openModel(m, o)), frame, points, undefined);
  }

  /** Where each network of the pipeline runs: the explained model, the detector, the mesh network. */
  get engines(): { model: string; detector?: string; mesh?: string } {
    return { model: this.session.engine, ...(this.aligner ? { detector: this.aligner.detector.engine, mesh: this.aligner.mesher.engine } : {}) };
  }

  /** H_F of the maps this explainer makes. */
  get canonicalSize(): number {
    return this.external ? this.external.canonicalImage.height : this.options.canonicalSize;
  }

  /**
   * Reads the photo, finds the face and builds I with its correspondence. An item written
   * "PHOTO#N" (no such file on disk) means face N of PHOTO, so group photos can give several items.
   */
  async prepare(item: string, photo?: RgbImage): Promise<PreparedImage> {
    const ranked = /^(.*)#(\d+)$/.exec(item);
    const [file, faceChoice] = ranked && !existsSync(item) ? [ranked[1]!, Number(ranked[2])] : [item, this.options.face === 'all' ? 'largest' as const : this.options.face];
    photo ??= await readImage(file);
    const { input } = this.spec;
    let photoPoints: Float32Array;
    let canonical: Float32Array;
    let meshXYZ: Float32Array | undefined;
    const warnings: string[] = [];
    if (this.external) {
      const c = await this.external.correspondenceFor(this.external.meshPathFor(file));
      photoPoints = c.image;
      canonical = c.canonical;
    } else {
      const faces = await this.aligner!.align(photo, file, { face: faceChoice });
      const face = faces[0]!;
      warnings.push(...face.warnings);
      meshXYZ = face.mesh.points;
      photoPoints = mapPoints(meshXYFromXYZ(meshXYZ), this.points!);
      canonical = this.points!.canonical;
    }
    // The crop follows the whole mesh (or the whole external alignment), never the sampled points,
    // so that I, and the prediction, do not change with the stride.
    const extent = meshXYZ ? meshXYFromXYZ(meshXYZ) : photoPoints;
    const toInput = cropToInput(extent, photo, input.width, input.height, this.options.crop, this.options.cropScale);
    const image = warpAffine(photo, invertAffine(toInput), input.width, input.height);
    const inputPoints = new Float32Array(photoPoints.length);
    for (let k = 0; k < photoPoints.length; k += 2) {
      const [x, y] = applyAffine(toInput, photoPoints[k]!, photoPoints[k + 1]!);
      inputPoints[k] = x;
      inputPoints[k + 1] = y;
    }
    return {
      file: item, photo, image, tensor: toModelInput([image], input), toInput, meshXYZ, warnings,
      correspondence: { image: inputPoints, canonical, count: inputPoints.length / 2, canonicalSize: this.canonicalSize },
    };
  }

  /**
   * The plan for a prepared image (fill from its mean colour when asked), thinned by the sampling
   * (stratified: the stratum of `id`, by default the image's item).
   */
  plan(prepared: PreparedImage, id: string = prepared.file): OcclusionPlan {
    const { image } = prepared;
    const plane = image.width * image.height;
    const mean = [0, 1, 2].map((c) => image.data.subarray(c * plane, (c + 1) * plane).reduce((a, b) => a + b, 0) / plane) as [number, number, number];
    const dense = buildPlan({ correspondence: prepared.correspondence, input: this.spec.input, patch: this.options.patch, fill: fillValues(this.spec.input, this.options.fill, mean), fillKind: this.options.fill });
    if (!this.options.sampling || this.options.sampling.kind === 'grid') return dense;
    const c = prepared.correspondence;
    return samplePlan(dense, this.options.sampling, id, this.external ? meanSpacing(c.canonical, c.count) : this.options.stride);
  }

  /** The model's prediction on the unoccluded I, and the score spec φ that explains it. */
  async predict(prepared: PreparedImage): Promise<{ prediction: Prediction; score: ScoreSpec }> {
    const row = (await this.session.infer(prepared.tensor, 1, [this.head.output]))[this.head.output]!;
    if (!Array.from(row).every(Number.isFinite)) throw new CsmError(`the model gives non-finite outputs for "${prepared.file}"`);
    if (this.head.confidence === 'value') {
      return { prediction: { head: this.head.name, value: row[0]! }, score: headScore(this.head, 0, this.options.score) };
    }
    const classIndex = resolveClass(this.head, row, this.options.className);
    const prediction: Prediction = { head: this.head.name, classIndex, label: this.head.labels?.[classIndex] ?? String(classIndex), probabilities: classProbabilities(this.head, row) };
    return { prediction, score: headScore(this.head, classIndex, this.options.score) };
  }

  /** Canonical Image Saliency of one photo. */
  async cis(file: string, photo?: RgbImage): Promise<CisResult> {
    const prepared = await this.prepare(file, photo);
    const plan = this.plan(prepared);
    if (plan.count === 0) throw new CsmError(`"${printableName(file)}": no correspondence point falls inside the model input`);
    const { prediction, score } = await this.predict(prepared);
    const cis = await computeCis(this.session, { input: prepared.tensor, plan, score, source: { photo: prepared.photo, toSource: invertAffine(prepared.toInput) } });
    return { prepared, plan, score, prediction, cis };
  }

  /** The head's output for a prepared image (an embedding, for identity heads). */
  async embed(prepared: PreparedImage): Promise<Float32Array> {
    const row = (await this.session.infer(prepared.tensor, 1, [this.head.output]))[this.head.output]!;
    if (!Array.from(row).every(Number.isFinite)) throw new CsmError(`the model gives non-finite outputs for "${prepared.file}"`);
    return Float32Array.from(row);
  }

  /**
   * Zero-shot recognition (Eq. 7): φ = cosine similarity between the occluded query's embedding
   * and the nearest of its true identity's gallery embeddings (`references`).
   */
  async cisZeroShot(file: string, references: Float32Array[], identity: string): Promise<CisResult> {
    if (references.length === 0) throw new CsmError(`"${printableName(file)}": identity "${printableName(identity)}" has no other gallery image to compare with`);
    const prepared = await this.prepare(file);
    const plan = this.plan(prepared);
    if (plan.count === 0) throw new CsmError(`"${printableName(file)}": no correspondence point falls inside the model input`);
    const score: ScoreSpec = { output: this.head.output, kind: 'cosine-max', index: 0, references };
    const cis = await computeCis(this.session, { input: prepared.tensor, plan, score });
    return { prepared, plan, score, prediction: { head: this.head.name, label: identity }, cis };
  }

  /**
   * Verification (Eq. 8 with the sign fixed, method.md): φ = c · (cos(e(Q1*), e(Q2*)) − τ), c = +1
   * for a genuine pair and −1 for an impostor pair; the same canonical point is occluded in both
   * photos. Only points inside both model inputs are used, so the two plans stay aligned.
   */
  async cisPair(file1: string, file2: string, genuine: boolean, tau: number): Promise<CisResult> {
    const [a, b] = [await this.prepare(file1), await this.prepare(file2)];
    const inside = (p: PreparedImage, n: number): boolean => {
      const x = p.correspondence.image[2 * n]!;
      const y = p.correspondence.image[2 * n + 1]!;
      return x >= 0 && x < this.spec.input.width && y >= 0 && y < this.spec.input.height;
    };
    const keep = (p: PreparedImage): PreparedImage => {
      const canonical = Float32Array.from(p.correspondence.canonical);
      for (let n = 0; n < p.correspondence.count; n++) if (!inside(a, n) || !inside(b, n)) { canonical[2 * n] = NaN; canonical[2 * n + 1] = NaN; }
      return { ...p, correspondence: { ...p.correspondence, canonical } };
    };
    const [pa, pb] = [keep(a), keep(b)];
    // One id for both plans, so that a sampled pair still occludes the same points in both.
    const pairId = `${stratumKey(file1)}|${stratumKey(file2)}`;
    const plan = this.plan(pa, pairId);
    const plan2 = this.plan(pb, pairId);
    if (plan.count === 0) throw new CsmError(`pair "${file1}", "${file2}": no correspondence point falls inside both model inputs`);
    const score: ScoreSpec = { output: this.head.output, kind: 'cosine-max', index: 0, pair: { c: genuine ? 1 : -1, tau } };
    const cis = await computeCis(this.session, { input: pa.tensor, plan, score, pair: { input: pb.tensor, plan: plan2 } });
    return { prepared: pa, plan, score, prediction: { head: this.head.name, label: genuine ? 'genuine' : 'impostor' }, cis };
  }

  async dispose(): Promise<void> {
    await this.aligner?.dispose();
  }
}
