/**
 * The files a user gets from an explanation run, written the same way by every command: a CIS
 * (its canonical map, the model input and the map on the photo) and a CMS (its canonical map, the
 * convergence chart, and a sidecar with the parameters, engine, versions, counts, predictions,
 * skipped files and image list). `computeCms` is the whole CMS run: job → accumulator → files.
 */
import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { CsmError } from '../errors.js';
import { warpToPhoto } from '../face/warp.js';
import { applyAffine, encodePng, invertAffine, printableName, rgbToRgba8 } from '../image/index.js';
import { writeFilesAtomic } from '../io/atomic.js';
import { lineChart } from '../report/chart.js';
import { rgbaPng, withColorbar } from '../report/colorbar.js';
import { canonicalMapFiles, coverageMask, type WrittenMap } from '../report/maps.js';
import { photoOverlay } from '../report/overlay.js';
import { reprojectToInput } from './cis.js';
import type { FrontEnd } from '../pipeline/frontend.js';
import { runCms, type CmsProgress, type CmsRunResult, type SkippedImage } from './cms-run.js';
import type { CisResult } from './explain.js';
import type { CmsJob } from './jobs.js';
import { runInfo, type ExplainSetup } from './setup.js';

/**
 * Writes one CIS result into `dir` as `<stem>.npy`, the canonical-map figures and sidecar
 * (canonicalMapFiles), `<stem>-input.png` (the model input I) and `<stem>-photo.png` (the map on the
 * photo through the face's own mesh, or on I where csm did not align it), all written together
 * atomically after a free-space check (writeFilesAtomic). Returns the paths.
 */
export async function writeCisOutputs(setup: ExplainSetup, dir: string, result: CisResult, stem: string): Promise<string[]> {
  const { space } = setup;
  const { cis, prepared, plan, prediction } = result;
  const rendered = canonicalMapFiles(dir, stem, cis.map, { ...space, mask: coverageMask(cis.count) }, {
    kind: 'CIS', file: prepared.file, prediction, baseline: cis.baseline, points: plan.count, patch: plan.patch,
    canonicalPatch: plan.canonicalPatch, warnings: prepared.warnings, params: setup.params, run: runInfo(setup),
  });
  const image = prepared.image;
  const onPhoto = prepared.meshXYZ && setup.explainer.frame
    ? { base: prepared.photo, ...warpToPhoto(cis.map, setup.explainer.frame, prepared.meshXYZ, prepared.photo.width, prepared.photo.height) }
    : (() => { const r = reprojectToInput(cis.map, plan); return { base: image, values: r.values, mask: r.count.map((c) => (c ? 1 : 0)) as unknown as Uint8Array }; })();
  const overlay = photoOverlay(onPhoto.base, onPhoto.values, onPhoto.mask, { colormap: 'jet' });
  await mkdir(dir, { recursive: true });
  return writeFilesAtomic([
    ...rendered.outputs,
    { path: join(dir, `${stem}-input.png`), data: encodePng(image.width, image.height, rgbToRgba8(image)) },
    { path: join(dir, `${stem}-photo.png`), data: rgbaPng(withColorbar(overlay, { colormap: 'jet', range: overlay.range })) },
  ]);
}

/**
 * The CMS a run writes: sum / images (Eq. 6). A sampled image's CIS is reconstructed over the
 * dense plan (sampled.ts), so it covers the face like a dense one and counts as one image.
 */
export function cmsMap(acc: CmsRunResult['acc']): Float32Array {
  return acc.mean();
}

export interface CmsOutputInfo {
  /** The job the run went through: its mode, its item count and what it skipped before the run. */
  job: Pick<CmsJob, 'items' | 'mode' | 'skippedBefore' | 'shard'>;
  /** Predicted labels, counted over the images explained in this process (dropped after a resume). */
  predictions?: Record<string, number>;
  /** A title recorded in the sidecar (the demo's task). */
  task?: string;
  /** Why the run samples as it does (see ComputeCmsOptions.samplingNote). */
  samplingNote?: string;
  /** The front end that prepared the images (pipeline/), as described in logs. */
  frontEnd?: string;
  /** Occlusion points whose centre lay outside the photo (the crop reached past its edge), and in how many images. */
  outsidePhoto?: { points: number; images: number };
}

/**
 * Writes a CMS run's outputs into `dir`: `cms-convergence.png` (the change of the map as images
 * were added, log scale) and, through canonicalMapFiles, `cms.npy`, `cms-jet.png`, `cms-turbo.png`,
 * `cms-overlay.png`, `cms-regions.md` and `cms.json` (parameters, engine and versions, counts,
 * predictions, skipped files with causes, the image list and the convergence curve). The map is
 * masked to where any patch landed. All are written as one atomic set after a free-space check
 * (writeFilesAtomic). Throws when every image was skipped, except in a shard (--shard K/N): an
 * empty shard writes only `cms.json` (`empty: true`) beside its checkpoint, so that an array job
 * goes on to csm merge, which adds nothing for it.
 */
export async function writeCmsOutputs(setup: ExplainSetup, dir: string, run: Omit<CmsRunResult, 'timing'> & Partial<Pick<CmsRunResult, 'timing'>>, info: CmsOutputInfo): Promise<WrittenMap> {
  const { acc } = run;
  const { job } = info;
  const skipped: SkippedImage[] = [...job.skippedBefore, ...run.skipped];
  if (acc.images === 0 && job.shard) {
    const path = join(dir, 'cms.json');
    const sidecar = {
      kind: 'CMS', empty: true, task: info.task, mode: job.mode, shard: job.shard, params: setup.params, run: { ...runInfo(setup), ...(info.frontEnd ? { frontEnd: info.frontEnd } : {}), seconds: run.seconds, ...(run.timing ? { timing: run.timing } : {}), resumedAt: run.resumedAt },
      counts: { listed: job.items.length + job.skippedBefore.length, explained: 0, skipped: skipped.length }, skipped, images: [], files: ['cms.json'],
    };
    await mkdir(dir, { recursive: true });
    return { files: await writeFilesAtomic([{ path, data: `${JSON.stringify(sidecar, null, 2)}\n` }]) };
  }
  if (acc.images === 0) throw new CsmError(`every image was skipped:\n  ${skipped.map((s) => `${printableName(s.file)}: ${s.cause}`).join('\n  ')}`);
  const chart = join(dir, 'cms-convergence.png');
  const curve = acc.convergence.map((c) => [c.images, c.change] as [number, number]);
  const rendered = canonicalMapFiles(dir, 'cms', cmsMap(run.acc), { ...setup.space, mask: coverageMask(acc.coverage) }, {
    kind: 'CMS', task: info.task, mode: job.mode, ...(job.shard ? { shard: job.shard } : {}), params: setup.params, run: { ...runInfo(setup), ...(info.frontEnd ? { frontEnd: info.frontEnd } : {}), seconds: run.seconds, ...(run.timing ? { timing: run.timing } : {}), resumedAt: run.resumedAt },
    counts: { listed: job.items.length + job.skippedBefore.length, explained: acc.images, skipped: skipped.length, ...(info.outsidePhoto ? { pointsOutsidePhoto: info.outsidePhoto } : {}) },
    estimator: 'sum / images (Eq. 6)',
    ...(info.samplingNote ? { samplingNote: info.samplingNote } : {}),
    predictions: run.resumedAt === 0 ? info.predictions : undefined,
    skipped, images: acc.ids, convergence: acc.convergence,
  });
  // Every file is encoded first, then all are written as one atomic set after one free-space
  // check: a full disk leaves no truncated cms.npy or empty PNG, and the message names the file.
  await mkdir(dir, { recursive: true });
  const files = await writeFilesAtomic([...rendered.outputs, { path: chart, data: rgbaPng(lineChart(curve, { logY: true, xLabel: 'images in the CMS', yLabel: 'relative change of the CMS', label: '‖CMS(k) − CMS(k−1)‖ / ‖CMS(k)‖' })) }]);
  return { files, ...(rendered.regions ? { regions: rendered.regions } : {}) };
}

export interface ComputeCmsOptions {
  /** Save the accumulator every N images (0: only at the end); default 25. */
  checkpointEvery?: number;
  /** Continue the run checkpointed in `dir/checkpoint`. */
  resume?: boolean;
  /** Also write the CIS outputs of the first N images explained (default 0). */
  saveCis?: number;
  /** The stem of the CIS outputs of the index-th image (default `cis-0001-NAME`). */
  cisStem?: (file: string, index: number) => string;
  /** A title recorded in the sidecar. */
  task?: string;
  /** Why the run samples as it does (recorded in the sidecar beside params.sampling), e.g. a command's default. */
  samplingNote?: string;
  onProgress?: (p: CmsProgress) => void;
  onWarning?: (message: string) => void;
  /**
   * Prepares the next items (decode, detection, mesh) while the loop explains this one
   * (pipeline/); without one, each item is prepared in turn. The caller closes it.
   */
  frontEnd?: FrontEnd;
}

export interface ComputedCms {
  run: CmsRunResult;
  /** The CMS: the mean map on the canonical grid. */
  map: Float32Array;
  /** Every item skipped, before and during the run, with its cause. */
  skipped: SkippedImage[];
  /** Predicted labels counted over the images explained in this process. */
  predictions: Record<string, number>;
  written: WrittenMap;
  /** Stems of the CIS outputs written (saveCis). */
  cisStems: string[];
}

const defaultCisStem = (file: string, index: number): string => `cis-${String(index + 1).padStart(4, '0')}-${basename(file, extname(file))}`;

/**
 * The CMS of a job (Eq. 6) in `dir`: runCms with checkpoints in `dir/checkpoint`, then
 * writeCmsOutputs. Maps are comparable (and resumable, mergeable) when the model, the parameters
 * and the kind of φ agree, which is the checkpoint's fingerprint; the image list is checked apart.
 */
/** Plan points of a CIS whose occlusion centre lies outside the photo (the crop reached past its edge). */
export function pointsOutsidePhoto(r: CisResult): number {
  const { photo, toInput } = r.prepared;
  const toPhoto = invertAffine(toInput);
  let n = 0;
  for (let k = 0; k < r.plan.count; k++) {
    const [x, y] = applyAffine(toPhoto, r.plan.centres[2 * k]!, r.plan.centres[2 * k + 1]!);
    if (x < 0 || y < 0 || x > photo.width || y > photo.height) n++;
  }
  return n;
}

export async function computeCms(setup: ExplainSetup, job: CmsJob, dir: string, options: ComputeCmsOptions = {}): Promise<ComputedCms> {
  if (!job.items.length && !job.shard) throw new CsmError('there are no images to explain');
  const predictions: Record<string, number> = {};
  const outsidePhoto = { points: 0, images: 0 };
  const cisStems: string[] = [];
  const stem = options.cisStem ?? defaultCisStem;
  // τ cancels in every drop c·(cos − τ) − c·(cos* − τ), so the mode's kind is enough.
  // A shard (--shard K/N) is part of it: resuming with another shard is refused by name, and
  // csm merge reads it to check that the shards of a split are all there, once each.
  const fingerprint = { ...setup.params, mode: job.mode['kind'], ...(job.shard ? { shard: job.shard } : {}) };
  const run = await runCms(job.items, job.explain, setup.explainer.canonicalSize, {
    checkpointDir: join(dir, 'checkpoint'),
    checkpointEvery: options.checkpointEvery ?? 25,
    resume: options.resume ?? false,
    fingerprint,
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.frontEnd ? { frontEnd: options.frontEnd } : {}),
    ...(job.photos ? { photosOf: job.photos } : {}),
    onImage: async (r, index) => {
      const label = r.prediction.label ?? 'value';
      predictions[label] = (predictions[label] ?? 0) + 1;
      const out = pointsOutsidePhoto(r);
      if (out) { outsidePhoto.points += out; outsidePhoto.images++; }
      if (index < (options.saveCis ?? 0)) {
        const s = stem(r.prepared.file, index);
        await writeCisOutputs(setup, dir, r, s);
        cisStems.push(s);
      }
    },
  });
  const written = await writeCmsOutputs(setup, dir, run, {
    job, predictions, ...(options.task ? { task: options.task } : {}), ...(options.samplingNote ? { samplingNote: options.samplingNote } : {}), ...(options.frontEnd ? { frontEnd: options.frontEnd.description } : {}),
    // Counted over the images explained in this process, like the predictions.
    ...(run.resumedAt === 0 ? { outsidePhoto } : {}),
  });
  return { run, map: cmsMap(run.acc), skipped: [...job.skippedBefore, ...run.skipped], predictions, written, cisStems };
}
