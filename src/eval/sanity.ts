/**
 * The model-randomisation sanity check (Adebayo et al. 2018) for CMS: the weights of the model's
 * layers are replaced by random values from the output backwards, one more layer per step
 * (cascading, Fig. 8: the last 1, 2, 3, 4 … layers; or spread over all layers for the full curve), a CMS is made at each step with the same images, plans and classes, and each CMS is
 * compared with the original one. A faithful method's map must degrade as the model does.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { CsmError } from '../errors.js';
import type { EngineSession } from '../engine/types.js';
import { cacheDir } from '../models/cache.js';
import type { ResolvedModel } from '../models/load.js';
import { decodeModel, encodeModel, type OnnxInitializer, type OnnxModel } from '../models/onnx/model.js';
import { OnnxDataType } from '../models/onnx/schema.js';
import { CmsAccumulator } from '../saliency/cms.js';
import { computeCis } from '../saliency/loop.js';
import type { Explainer, PreparedImage } from '../saliency/explain.js';
import type { OcclusionPlan, ScoreSpec } from '../saliency/types.js';
import { spearman, ssim } from './similarity.js';

/** Ops whose weight initializers make a "layer" for the cascade. */
const LAYER_OPS = new Set(['Conv', 'MatMul', 'Gemm', 'PRelu', 'ConvTranspose']);

/** Layers in graph order: each node of LAYER_OPS with the float initializers it reads. */
export function parameterisedLayers(model: OnnxModel): { node: string; op: string; weights: string[] }[] {
  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  return model.graph.nodes
    .filter((n) => LAYER_OPS.has(n.opType))
    .map((n) => ({ node: n.name, op: n.opType, weights: n.inputs.filter((i) => inits.get(i)?.dataType === OnnxDataType.FLOAT && (inits.get(i)?.dims.length ?? 0) > 0) }))
    .filter((l) => l.weights.length > 0);
}

/** Gaussian values with the tensor's own mean and standard deviation (seeded, reproducible). */
function randomLike(t: OnnxInitializer, seed: number): OnnxInitializer {
  const src = new Float32Array(Uint8Array.from(t.raw).buffer);
  const n = src.length;
  const mean = src.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(src.reduce((a, b) => a + (b - mean) ** 2, 0) / n) || 1e-3;
  let s = seed >>> 0;
  const uniform = (): number => { s = (s + 0x6d2b79f5) >>> 0; let t2 = Math.imul(s ^ (s >>> 15), s | 1); t2 ^= t2 + Math.imul(t2 ^ (t2 >>> 7), t2 | 61); return (((t2 ^ (t2 >>> 14)) >>> 0) + 0.5) / 4294967296; };
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) out[k] = mean + std * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return { ...t, raw: new Uint8Array(out.buffer) };
}

/** The model with its last `count` layers' weights randomised; written to the cache. */
export async function randomisedModel(model: ResolvedModel, count: number, seed = 1): Promise<ResolvedModel> {
  const bytes = await readFile(model.path);
  const onnx = decodeModel(bytes);
  const layers = parameterisedLayers(onnx);
  const chosen = new Set(layers.slice(layers.length - count).flatMap((l) => l.weights));
  const initializers = onnx.graph.initializers.map((t, k) => (chosen.has(t.name) ? randomLike(t, seed * 7919 + k) : t));
  const key = createHash('sha256').update(bytes).update(`${count}:${seed}`).digest('hex').slice(0, 12);
  const path = join(cacheDir(), 'randomised', `${model.spec.name}-${key}.onnx`);
  await mkdir(join(cacheDir(), 'randomised'), { recursive: true });
  await writeFile(path, encodeModel({ ...onnx, graph: { ...onnx.graph, initializers } }));
  return { ...model, path };
}

/**
 * How many of the last layers each step randomises. `cascade` (the paper's Fig. 8): the last 1, 2,
 * …, `steps` layers, one more per step from the top. `curve`: `steps` counts spread evenly up to
 * every layer, the whole degradation curve.
 */
export type SanitySchedule = 'cascade' | 'curve';

export function sanityCounts(layers: number, steps: number, schedule: SanitySchedule = 'cascade'): number[] {
  const n = Math.min(steps, layers);
  if (schedule === 'cascade') return Array.from({ length: n }, (_, k) => k + 1);
  return Array.from({ length: n }, (_, k) => Math.round(((k + 1) * layers) / n));
}

export interface SanityStep { layers: number; randomised: string[]; spearman: number; ssim: number; map: Float32Array }

/**
 * Runs the cascade. `open` opens a model on the engine; the original model's predicted class of
 * each image is kept at every step, so only the model changes.
 */
export async function sanityCheck(
  explainer: Explainer, model: ResolvedModel, files: string[], steps: number,
  open: (m: ResolvedModel) => Promise<EngineSession>, onStep?: (s: SanityStep) => void, schedule: SanitySchedule = 'cascade',
): Promise<{ original: Float32Array; steps: SanityStep[]; layers: string[] }> {
  const layers = parameterisedLayers(decodeModel(await readFile(model.path)));
  if (!layers.length) throw new CsmError(`"${model.path}" has no layers with weights to randomise`);
  const prepared: { p: PreparedImage; plan: OcclusionPlan; score: ScoreSpec }[] = [];
  for (const f of files) {
    try {
      const p = await explainer.prepare(f);
      // The original model's prediction fixes the class explained at every step.
      const { score } = await explainer.predict(p);
      prepared.push({ p, plan: explainer.plan(p), score });
    } catch (e) {
      if (!(e instanceof CsmError)) throw e;
    }
  }
  if (!prepared.length) throw new CsmError('no image could be prepared for the sanity check');
  const cms = async (session: EngineSession): Promise<{ map: Float32Array; mask: Uint8Array }> => {
    const acc = new CmsAccumulator(explainer.canonicalSize);
    for (const { p, plan, score } of prepared) acc.add(await computeCis(session, { input: p.tensor, plan, score }), p.file);
    return { map: acc.mean(), mask: Uint8Array.from(acc.coverage, (c) => (c > 0 ? 1 : 0)) };
  };
  const original = await cms(explainer.session);
  const counts = sanityCounts(layers.length, steps, schedule);
  const out: SanityStep[] = [];
  for (const count of counts) {
    const session = await open(await randomisedModel(model, count));
    try {
      const { map } = await cms(session);
      const step = { layers: count, randomised: layers.slice(layers.length - count).map((l) => l.node), spearman: spearman(original.map, map, original.mask), ssim: ssim(original.map, map, explainer.canonicalSize, original.mask), map };
      out.push(step);
      onStep?.(step);
    } finally {
      await session.dispose();
    }
  }
  return { original: original.map, steps: out, layers: layers.map((l) => l.node) };
}
