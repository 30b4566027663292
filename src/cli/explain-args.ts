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
import { parseKeep, type Sampling } from '../saliency/sampling.js';
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
  --sampling grid|stratified
                          grid: every point of --stride; stratified: each image runs 1/k of
                          them, one of k evenly spread strata chosen by SHA-256 of the image id
                          (k× fewer passes; the CMS is then sum / coverage). On 28–83 images
                          the CMS kept r ≥ 0.996 to the dense one at k = 2 and r ≈ 0.99
                          (0.989–0.998) at k = 4 (emotion, gender; bench/results/sampling-*.md);
                          a single CIS loses more                             [default: grid]
  --keep 1/k              stratified share, k = 2, 4, 8, 16, 32 or 64              [default: 1/4]
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

function oneOf<T extends string>(v: string | undefined, flag: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${flag} takes ${allowed.join(' | ')}, got "${v}"`);
  return v as T;
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
export function explainOptionsFromFlags(values: ExplainFlagValues): Partial<ExplainOptions> {
  let face;
  try { face = parseFaceChoice(values.face ?? 'largest'); } catch (e) { throw new UsageError((e as Error).message); }
  if (face === 'all') throw new UsageError('--face all is for csm align; saliency uses one face per photo (largest or N)');
  const cropScale = Number(values['crop-scale'] ?? DEFAULT_EXPLAIN.cropScale);
  if (!(cropScale >= 0.5 && cropScale <= 4)) throw new UsageError(`--crop-scale takes a number from 0.5 to 4, got "${values['crop-scale']}"`);
  const samplingKind = oneOf(values.sampling, '--sampling', ['grid', 'stratified'] as const, 'grid');
  if (values.keep !== undefined && samplingKind !== 'stratified') throw new UsageError('--keep goes with --sampling stratified');
  let sampling: Sampling = { kind: 'grid' };
  if (samplingKind === 'stratified') {
    try { sampling = { kind: 'stratified', keep: parseKeep(values.keep ?? '1/4') }; } catch (e) { throw new UsageError((e as Error).message); }
  }
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
export async function setupExplain(values: ExplainFlagValues, guard: OutputGuard = {}): Promise<ExplainSetup> {
  if (!values.model) throw new UsageError('--model is required (a zoo name such as emotion, or FILE.onnx)');
  if (!values.out) throw new UsageError('--out DIR is required');
  const explain = explainOptionsFromFlags(values);
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
