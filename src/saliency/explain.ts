/**
 * Explaining one photo: face → model input I → correspondence in I → plan → engine → CIS. The
 * correspondence comes from csm's own mesh (dense canonical grid points mapped through the face's
 * 468-point mesh) or from external dense alignments (PRNet-style, the paper's setup).
 */
import { CsmError } from '../errors.js';
import type { FaceChoice } from '../face/align.js';
import type { ExternalAlignment } from '../face/external.js';
import type { CanonicalFrame } from '../face/types.js';
import { invertAffine, printableName, type RgbImage } from '../image/index.js';
import type { CisRequest, EngineSession } from '../engine/types.js';
import { selectHead, type HeadSpec, type ModelSpec } from '../models/spec.js';
import { buildPlan, fillValues } from './plan.js';
import { meanSpacing, stratumKey, type Sampling } from './sampling.js';
import { sampledCis } from './sampled.js';
import { ImagePreparer, type PreparedImage } from './prepare.js';
import { classProbabilities, headScore, resolveClass } from './score.js';
import type { CisMap, FillKind, OcclusionPlan, ScoreKind, ScoreSpec } from './types.js';

export type { PreparedImage, PrepareTiming } from './prepare.js';

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

export class Explainer {
  readonly head: HeadSpec;
  private constructor(
    readonly spec: ModelSpec,
    readonly session: EngineSession,
    readonly options: ExplainOptions,
    /** Decode + align + crop on this thread (src/pipeline/ runs the same code in workers). */
    readonly preparer: ImagePreparer,
  ) {
    this.head = selectHead(spec, options.head);
  }

  /** With csm's own alignment (detector + mesh + canonical face), or with external alignments. */
  static async create(spec: ModelSpec, session: EngineSession, options: ExplainOptions, external?: ExternalAlignment): Promise<Explainer> {
    // The detector and the mesh network run on the same engine as the explained model.
    return new Explainer(spec, session, options, await ImagePreparer.create(spec.input, options, (m, o) => session.openModel(m, o), external));
  }

  /** The canonical frame of csm's own alignment (undefined with external alignments). */
  get frame(): CanonicalFrame | undefined {
    return this.preparer.frame;
  }

  get external(): ExternalAlignment | undefined {
    return this.preparer.external;
  }

  /**
   * Where each network of the pipeline runs in this thread: the explained model, the detector, the
   * mesh network (a workers front end runs its own detector and mesh on the CPU: pipeline/).
   */
  get engines(): { model: string; detector?: string; mesh?: string } {
    return { model: this.session.engine, ...this.preparer.engines };
  }

  /** H_F of the maps this explainer makes. */
  get canonicalSize(): number {
    return this.preparer.canonicalSize;
  }

  /**
   * Reads the photo, finds the face and builds I with its correspondence. An item written
   * "PHOTO#N" (no such file on disk) means face N of PHOTO, so group photos can give several items.
   */
  prepare(item: string, photo?: RgbImage): Promise<PreparedImage> {
    return this.preparer.prepare(item, photo);
  }

  /** `item` itself when already prepared (by a front end, src/pipeline/), else prepare(item). */
  private prepared(item: string | PreparedImage, photo?: RgbImage): Promise<PreparedImage> {
    return typeof item === 'string' ? this.prepare(item, photo) : Promise.resolve(item);
  }

  /**
   * The dense plan for a prepared image (fill from its mean colour when asked). A sampling picks
   * its points from it when the CIS is computed (sampled.ts).
   */
  plan(prepared: PreparedImage): OcclusionPlan {
    const { image } = prepared;
    const plane = image.width * image.height;
    const mean = [0, 1, 2].map((c) => image.data.subarray(c * plane, (c + 1) * plane).reduce((a, b) => a + b, 0) / plane) as [number, number, number];
    return buildPlan({ correspondence: prepared.correspondence, input: this.spec.input, patch: this.options.patch, fill: fillValues(this.spec.input, this.options.fill, mean), fillKind: this.options.fill });
  }

  /** The dense grid's spacing in canonical pixels: the stride on csm's own mesh, the mean spacing of external points. */
  private spacing(prepared: PreparedImage): number {
    const c = prepared.correspondence;
    return this.external ? meanSpacing(c.canonical, c.count) : this.options.stride;
  }

  /**
   * The occlusion loop over the image's plan under the sampling (sampled.ts), for item `key`
   * (stratumKey of the file, or of a pair: "a|b"). Returns the points run and the CIS.
   */
  private run(req: CisRequest, prepared: PreparedImage, key: string): Promise<{ plan: OcclusionPlan; cis: CisMap }> {
    return sampledCis(this.session, req, this.options.sampling, key, this.spacing(prepared));
  }

  /** The model's prediction on the unoccluded I, and the score spec φ that explains it. */
  async predict(prepared: PreparedImage): Promise<{ prediction: Prediction; score: ScoreSpec }> {
    const row = (await this.session.infer(prepared.tensor, 1, [this.head.output]))[this.head.output]!;
    if (!Array.from(row).every(Number.isFinite)) throw new CsmError(`the model gives non-finite outputs for "${printableName(prepared.file)}"`);
    if (this.head.confidence === 'value') {
      return { prediction: { head: this.head.name, value: row[0]! }, score: headScore(this.head, 0, this.options.score) };
    }
    const classIndex = resolveClass(this.head, row, this.options.className);
    const prediction: Prediction = { head: this.head.name, classIndex, label: this.head.labels?.[classIndex] ?? String(classIndex), probabilities: classProbabilities(this.head, row) };
    return { prediction, score: headScore(this.head, classIndex, this.options.score) };
  }

  /** Canonical Image Saliency of one photo (a path, or an image a front end already prepared). */
  async cis(item: string | PreparedImage, photo?: RgbImage): Promise<CisResult> {
    const prepared = await this.prepared(item, photo);
    const file = prepared.file;
    const plan = this.plan(prepared);
    if (plan.count === 0) throw new CsmError(`"${printableName(file)}": no correspondence point falls inside the model input`);
    const { prediction, score } = await this.predict(prepared);
    const run = await this.run({ input: prepared.tensor, plan, score, source: { photo: prepared.photo, toSource: invertAffine(prepared.toInput) } }, prepared, stratumKey(file));
    return { prepared, plan: run.plan, score, prediction, cis: run.cis };
  }

  /** The head's output for a prepared image (an embedding, for identity heads). */
  async embed(prepared: PreparedImage): Promise<Float32Array> {
    const row = (await this.session.infer(prepared.tensor, 1, [this.head.output]))[this.head.output]!;
    if (!Array.from(row).every(Number.isFinite)) throw new CsmError(`the model gives non-finite outputs for "${printableName(prepared.file)}"`);
    return Float32Array.from(row);
  }

  /**
   * Zero-shot recognition (Eq. 7): φ = cosine similarity between the occluded query's embedding
   * and the nearest of its true identity's gallery embeddings (`references`).
   */
  async cisZeroShot(item: string | PreparedImage, references: Float32Array[], identity: string): Promise<CisResult> {
    const file = typeof item === 'string' ? item : item.file;
    if (references.length === 0) throw new CsmError(`"${printableName(file)}": identity "${printableName(identity)}" has no other gallery image to compare with`);
    const prepared = await this.prepared(item);
    const plan = this.plan(prepared);
    if (plan.count === 0) throw new CsmError(`"${printableName(file)}": no correspondence point falls inside the model input`);
    const score: ScoreSpec = { output: this.head.output, kind: 'cosine-max', index: 0, references };
    const run = await this.run({ input: prepared.tensor, plan, score }, prepared, stratumKey(file));
    return { prepared, plan: run.plan, score, prediction: { head: this.head.name, label: identity }, cis: run.cis };
  }

  /**
   * Verification (Eq. 8 with the sign fixed, method.md): φ = c · (cos(e(Q1*), e(Q2*)) − τ), c = +1
   * for a genuine pair and −1 for an impostor pair; the same canonical point is occluded in both
   * photos. Only points inside both model inputs are used, so the two plans stay aligned.
   */
  async cisPair(item1: string | PreparedImage, item2: string | PreparedImage, genuine: boolean, tau: number): Promise<CisResult> {
    const [a, b] = [await this.prepared(item1), await this.prepared(item2)];
    const [file1, file2] = [a.file, b.file];
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
    const plan = this.plan(pa);
    const plan2 = this.plan(pb);
    if (plan.count === 0) throw new CsmError(`pair "${file1}", "${file2}": no correspondence point falls inside both model inputs`);
    const score: ScoreSpec = { output: this.head.output, kind: 'cosine-max', index: 0, pair: { c: genuine ? 1 : -1, tau } };
    const run = await this.run({ input: pa.tensor, plan, score, pair: { input: pb.tensor, plan: plan2 } }, pa, pairId);
    return { prepared: pa, plan: run.plan, score, prediction: { head: this.head.name, label: genuine ? 'genuine' : 'impostor' }, cis: run.cis };
  }

  async dispose(): Promise<void> {
    await this.preparer.dispose();
  }
}
