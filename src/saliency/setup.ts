/**
 * Everything an explanation run needs, from typed options: the model resolved and opened on the
 * chosen engine, the explainer (csm's alignment or an external one), the canonical space that maps
 * are drawn in, and the parameters that every output records. The commands (cis, cms, eval,
 * sanity, ablate, demo) all start here.
 */
import { tuneBatch, type BatchTuning } from '../engine/batch.js';
import { engineNames, openEngine } from '../engine/registry.js';
import type { EngineSession, ModelOpener } from '../engine/types.js';
import { canonicalFaceImage } from '../face/canonical.js';
import { loadExternalAlignment } from '../face/external.js';
import { resolveModel, type ResolvedModel } from '../models/load.js';
import { toModelInput } from '../models/preprocess.js';
import type { ModelSpec } from '../models/spec.js';
import { zooEntry, type Verification } from '../models/zoo.js';
import type { CanonicalMapSpace } from '../report/maps.js';
import { DEFAULT_EXPLAIN, Explainer, type ExplainOptions } from './explain.js';
import { fileSha256, versions } from './provenance.js';
import { samplingParams } from './sampling.js';

export interface ExplainSetupOptions {
  /** A zoo name (such as "emotion") or an ONNX file. */
  model: string;
  /** The model's spec: required for a file, overrides a zoo model's own. */
  spec?: ModelSpec;
  /** Explanation options; those left out take DEFAULT_EXPLAIN (stride 20 with `alignment`). */
  explain?: Partial<ExplainOptions>;
  /** A folder of external dense alignments (PRNet-style, as csm-celeba100) instead of csm's own. */
  alignment?: string;
  /** An engine name or "auto" (the default). */
  backend?: string;
  batch?: number;
  threads?: number;
}

export interface ExplainSetup {
  model: ResolvedModel;
  session: EngineSession;
  explainer: Explainer;
  options: ExplainOptions;
  space: CanonicalMapSpace;
  /** Everything that determines the maps: recorded in sidecars, compared on resume and merge. */
  params: Record<string, unknown>;
  /** The registered engine that `session` runs on (what "auto" chose). */
  engine: string;
  /** How `--batch auto` chose the batch (absent when the batch was given). */
  batchTuning?: BatchTuning;
  /** Opens further models (rewrites of the model, CAM graphs) on the same engine and device, with the same threads. */
  open: ModelOpener;
  dispose(): Promise<void>;
}

/** The registered engine name behind a session's description ("webgpu (nvidia …)" → "webgpu"). */
function engineNameOf(session: EngineSession, choice: string): string {
  return engineNames().find((n) => session.engine === n || session.engine.startsWith(`${n} `)) ?? choice;
}

export async function createExplainSetup(o: ExplainSetupOptions): Promise<ExplainSetup> {
  const given = o.explain ?? {};
  const options: ExplainOptions = {
    ...(given.head ? { head: given.head } : {}),
    ...(given.className ? { className: given.className } : {}),
    score: given.score ?? DEFAULT_EXPLAIN.score,
    fill: given.fill ?? DEFAULT_EXPLAIN.fill,
    ...(given.patch ? { patch: given.patch } : {}),
    stride: given.stride ?? (o.alignment ? 20 : DEFAULT_EXPLAIN.stride),
    canonicalSize: given.canonicalSize ?? DEFAULT_EXPLAIN.canonicalSize,
    crop: given.crop ?? DEFAULT_EXPLAIN.crop,
    cropScale: given.cropScale ?? DEFAULT_EXPLAIN.cropScale,
    face: given.face ?? DEFAULT_EXPLAIN.face,
    ...(given.sampling && given.sampling.kind !== 'grid' ? { sampling: given.sampling } : {}),
  };
  const model = await resolveModel(o.model, o.spec);
  const external = o.alignment ? await loadExternalAlignment(o.alignment, { stride: options.stride }) : undefined;
  const threads = o.threads ? { threads: o.threads } : {};
  const choice = o.backend ?? 'auto';
  const session = await openEngine(choice, model, { ...(o.batch ? { batch: o.batch } : {}), ...threads });
  const engine = engineNameOf(session, choice);
  let explainer: Explainer;
  let batchTuning: BatchTuning | undefined;
  try {
    explainer = await Explainer.create(model.spec, session, options, external);
    // --batch auto: a short measured warm-up on a plain gray input picks the fastest batch.
    if (!o.batch) {
      const { input } = model.spec;
      const gray = { width: input.width, height: input.height, data: new Float32Array(3 * input.width * input.height).fill(128) };
      batchTuning = await tuneBatch(session, toModelInput([gray], input), explainer.head.output);
    }
  } catch (e) {
    await session.dispose();
    throw e;
  }
  const size = explainer.canonicalSize;
  const space: CanonicalMapSpace = external
    ? { size, face: external.canonicalImage }
    : { size, face: await canonicalFaceImage(size), frame: explainer.frame! };
  const params = {
    model: { name: model.spec.name, file: model.path, sha256: await fileSha256(model.path), spec: model.spec },
    head: explainer.head.name,
    class: options.className ?? 'predicted',
    score: explainer.head.confidence === 'value' ? 'value' : explainer.head.confidence === 'embedding' ? 'cosine' : options.score,
    fill: options.fill,
    patch: options.patch ?? 'default (15 px at 224, scaled)',
    stride: options.stride,
    canonicalSize: size,
    crop: options.crop,
    cropScale: options.crop === 'face' ? options.cropScale : undefined,
    alignment: external ? { kind: 'external', dir: o.alignment, stride: options.stride } : { kind: 'csm', detector: 'blazeface', mesh: 'facemesh 468', canonical: 'MediaPipe canonical face model' },
    face: options.face,
    // Only a non-grid sampling is recorded, so grid runs keep the fingerprint they always had.
    ...(samplingParams(options.sampling) ? { sampling: samplingParams(options.sampling) } : {}),
    // For identity heads of the zoo: how well the model verifies faces, beside every map made with it.
    ...(verificationOf(model, explainer.head.name) ? { verification: verificationOf(model, explainer.head.name) } : {}),
  };
  return {
    model, session, explainer, options, space, params, engine, ...(batchTuning ? { batchTuning } : {}),
    open: (m, extra) => session.openModel(m, extra),
    async dispose() { await explainer.dispose(); await session.dispose(); },
  };
}

/** The zoo's verification record for an identity head (accuracy beside the all-impostor baseline). */
function verificationOf(model: ResolvedModel, head: string): Verification | undefined {
  const v = zooEntry(model.spec.name)?.verification;
  return v && v.head === head ? v : undefined;
}

/** Engine facts and versions for sidecars (kept apart from params: they do not change the maps). */
export function runInfo(setup: { session: EngineSession; explainer?: Explainer; batchTuning?: BatchTuning }): Record<string, unknown> {
  return {
    engine: setup.session.engine, ...(setup.explainer ? { engines: setup.explainer.engines } : {}), batch: setup.session.batch,
    batchChoice: setup.batchTuning ? { rule: 'measured: the fastest forward passes per second', ...setup.batchTuning } : 'given (--batch)',
    versions: versions(),
  };
}
