/**
 * The options every explaining command shares (cis, cms): model and spec, head and class, score,
 * occlusion geometry, alignment, backend. Parsed once here so the commands stay thin.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import {
  configureVulkanIcd, createExplainSetup, DEFAULT_EXPLAIN, engineNames, parseFaceChoice, readSignature, type ExplainOptions, type ExplainSetup as LibraryExplainSetup,
} from '../index.js';
import { openOutput, type OutputGuard } from './out.js';
import { UsageError, warn } from './output.js';
import { DEFAULT_KEEP, parseKeep, parsePoints, type Sampling } from '../saliency/sampling.js';
import { SPEC_HELP, SPEC_OPTIONS, specFromFlags } from './spec-flags.js';

export const EXPLAIN_OPTIONS = {
  ...SPEC_OPTIONS,
  model: { type: 'string' },
  head: { type: 'string' },
  class: { type: 'string' },
  score: { type: 'string' },
  fill: { type: 'string' },
  patch: { type: 'string' },
  stride: { type: 'string' },
  sampling: { type: 'string' },
  keep: { type: 'string' },
  points: { type: 'string' },
  'canonical-size': { type: 'string' },
  crop: { type: 'string' },
  'crop-scale': { type: 'string' },
  face: { type: 'string' },
  alignment: { type: 'string' },
  backend: { type: 'string' },
  'vulkan-icd': { type: 'string' },
  batch: { type: 'string' },
  threads: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const EXPLAIN_HELP = `Model:
  --model NAME|FILE.onnx  a zoo model (csm models list) or your own ONNX file     [required]
  --head NAME             which head to explain            [default: the first with a confidence]
  --class NAME|INDEX      class to explain                 [default: each image's predicted class]
  --score logit|prob      φ = the class logit (as the authors' release) or its probability
                                                                                  [default: logit]
Occlusion (Algorithm 1):
  --patch N               patch side sz in model-input pixels   [default: 15 at 224 px, scaled]
  --fill black|gray|mean  patch fill in pixel space (mean: the image's mean colour) [default: black]
  --stride N              own mesh: canonical grid spacing in canonical pixels (4 → ~2,100 points
                          at size 256); --alignment: every N-th vertex (20 = the paper)  [default: 4]
  --sampling grid|stratified|adaptive
                          which of the --stride points each image runs. grid: all of them.
                          stratified: an evenly spread share (a lattice chosen from SHA-256 of the
                          file name, so images differ and runs stay resumable and mergeable).
                          adaptive: 3/4 of --points that way, then rounds of whole batches where
                          the measured drops change most. A sampled CIS is reconstructed over the
                          whole grid (unmeasured drops imputed from their measured neighbours);
                          the CMS stays sum / images. On csm-celeba100 (emotion, gender; 99
                          images) 1/4 of the passes kept CIS r 0.981–0.986 and CMS r ≥ 0.998, 1/8
                          CMS r ≥ 0.996; adaptive did not beat stratified at equal passes
                          (bench/results/sampling-celeba100.md)
                                      [default: grid; csm cms: stratified 1/${DEFAULT_KEEP}]
  --keep 1/k              stratified share, k = 2, 4, 8, 16, 32 or 64            [default: 1/${DEFAULT_KEEP}]
  --points N              occlusions per image instead (stratified or adaptive; adaptive needs it)
  --canonical-size N      side H_F of the canonical face and maps                    [default: 256]
  --crop face|full        model input: a square around the face, or the whole photo resized
                                                                                  [default: face]
  --crop-scale S          face crop side as a multiple of the mesh's extent          [default: 1.2]
  --face largest|N        which face of a photo with several                      [default: largest]
  --alignment DIR         use external dense alignments (PRNet-style .npy, as csm-celeba100)
                          instead of csm's detector + mesh; F is DIR/frontal.jpg
Engine:
  --backend auto|${engineNames().join('|')}   where to run                                    [default: auto]
  --vulkan-icd auto|PATH  point Vulkan at NVIDIA's driver where a container lacks its manifest
                          (see csm doctor)                                           [default: off]
  --batch auto|N          occluded copies per forward pass; auto measures a few sizes on the
                          engine for ~1 s and keeps the fastest (recorded in the sidecar)
                                                                                  [default: auto]
  --threads N             CPU inference threads                          [default: all cores]
Output:
  --out DIR               output folder, checked and locked before any work       [required]
  --force                 overwrite the outputs of a finished run in --out
  --json                  print a JSON summary
  --quiet                 no progress

${SPEC_HELP}`;

export type ExplainFlagValues = { [K in keyof typeof EXPLAIN_OPTIONS]?: (typeof EXPLAIN_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** A whole-number flag from min to max (fallback when not given); a usage error names the flag. */
export function int(v: string | undefined, flag: string, fallback: number | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, got "${v}"`);
  return n;
}

/** {@link int} with a fallback, so always a number. */
export function whole(v: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  return int(v, flag, fallback, min, max) ?? fallback;
}

function oneOf<T extends string>(v: string | undefined, flag: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${flag} takes ${allowed.join(' | ')}, got "${v}"`);
  return v as T;
}

/**
 * --sampling, --keep and --points (usage errors name the flag); without --sampling, `fallback`
 * (the command's default: csm cms samples, the other commands run the grid).
 */
export function samplingFromFlags(values: Pick<ExplainFlagValues, 'sampling' | 'keep' | 'points'>, fallback: Sampling): Sampling {
  if (values.sampling === undefined && values.keep === undefined && values.points === undefined) return fallback;
  const kind = oneOf(values.sampling, '--sampling', ['grid', 'stratified', 'adaptive'] as const, fallback.kind === 'grid' ? 'grid' : fallback.kind);
  if (kind === 'grid') {
    if (values.keep !== undefined || values.points !== undefined) throw new UsageError(`${values.keep !== undefined ? '--keep' : '--points'} goes with --sampling stratified or adaptive; --sampling grid runs every point`);
    return { kind: 'grid' };
  }
  try {
    if (kind === 'adaptive') {
      if (values.keep !== undefined) throw new UsageError('--keep goes with --sampling stratified; adaptive sampling takes --points N');
      if (values.points === undefined) throw new UsageError('--sampling adaptive needs --points N (occlusions per image)');
      return { kind: 'adaptive', points: parsePoints(values.points) };
    }
    if (values.keep !== undefined && values.points !== undefined) throw new UsageError('give --keep 1/k or --points N, not both');
    if (values.points !== undefined) return { kind: 'stratified', points: parsePoints(values.points) };
    const keep = values.keep !== undefined ? parseKeep(values.keep) : fallback.kind === 'stratified' && 'keep' in fallback ? fallback.keep : DEFAULT_KEEP;
    return { kind: 'stratified', keep };
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError((e as Error).message);
  }
}

/** The library's setup plus the output folder the command writes into (locked until dispose). */
export interface ExplainSetup extends LibraryExplainSetup {
  out: string;
}

/**
 * The explanation options the flags ask for (head, class, score, occlusion geometry, sampling,
 * face): what changes the maps. Usage errors name the flag. Shared by setupExplain and by
 * `csm queue submit` / `csm worker`, which parse a chunk's flags exactly as csm cms does.
 */
export function explainOptionsFromFlags(values: ExplainFlagValues, defaults: { sampling?: Sampling } = {}): Partial<ExplainOptions> {
  let face;
  try { face = parseFaceChoice(values.face ?? 'largest'); } catch (e) { throw new UsageError((e as Error).message); }
  if (face === 'all') throw new UsageError('--face all is for csm align; saliency uses one face per photo (largest or N)');
  const cropScale = Number(values['crop-scale'] ?? DEFAULT_EXPLAIN.cropScale);
  if (!(cropScale >= 0.5 && cropScale <= 4)) throw new UsageError(`--crop-scale takes a number from 0.5 to 4, got "${values['crop-scale']}"`);
  const sampling = samplingFromFlags(values, defaults.sampling ?? { kind: 'grid' });
  return {
    ...(sampling.kind !== 'grid' ? { sampling } : {}),
    ...(values.head ? { head: values.head } : {}),
    ...(values.class ? { className: values.class } : {}),
    score: oneOf(values.score, '--score', ['logit', 'prob'] as const, DEFAULT_EXPLAIN.score),
    fill: oneOf(values.fill, '--fill', ['black', 'gray', 'mean'] as const, DEFAULT_EXPLAIN.fill),
    ...(values.patch ? { patch: int(values.patch, '--patch', undefined, 1, 4096)! } : {}),
    ...(values.stride ? { stride: int(values.stride, '--stride', undefined, 1, 1000)! } : {}),
    canonicalSize: int(values['canonical-size'], '--canonical-size', DEFAULT_EXPLAIN.canonicalSize, 32, 2048)!,
    crop: oneOf(values.crop, '--crop', ['face', 'full'] as const, DEFAULT_EXPLAIN.crop),
    cropScale,
    face,
  };
}

/**
 * Parses the shared options and opens the run (createExplainSetup); usage errors name the flag.
 * Before any model is loaded, --out is checked (not a file, creatable, writable), locked against a
 * second run, and refused if it holds a finished run's outputs (`guard.finished`) without --force;
 * the lock is released by dispose, or here if opening the run fails.
 */
export async function setupExplain(values: ExplainFlagValues, guard: OutputGuard = {}, defaults: { sampling?: Sampling } = {}): Promise<ExplainSetup> {
  if (!values.model) throw new UsageError('--model is required (a zoo name such as emotion, or FILE.onnx)');
  if (!values.out) throw new UsageError('--out DIR is required');
  const explain = explainOptionsFromFlags(values, defaults);
  const batch = values.batch === undefined || values.batch === 'auto' ? undefined : int(values.batch, '--batch', undefined, 1, 4096);
  // Before anything loads Dawn: the Vulkan loader reads these variables once.
  const icd = configureVulkanIcd(values['vulkan-icd']);
  if (icd.action === 'unavailable') warn(`--vulkan-icd ${values['vulkan-icd']}: ${icd.message}`);
  const threads = int(values.threads, '--threads', undefined, 1, 256);
  const lock = await openOutput(values.out, { ...guard, force: values.force ?? false });
  try {
    const signature = existsSync(values.model) ? await readSignature(values.model) : undefined;
    const spec = await specFromFlags(values, signature, basename(values.model, '.onnx'));
    const setup = await createExplainSetup({
      model: values.model, ...(spec ? { spec } : {}), explain, ...(values.alignment ? { alignment: values.alignment } : {}),
      backend: values.backend ?? 'auto', ...(batch ? { batch } : {}), ...(threads ? { threads } : {}),
    });
    return { ...setup, out: values.out, async dispose() { try { await setup.dispose(); } finally { await lock.release(); } } };
  } catch (e) {
    await lock.release();
    throw e;
  }
}
