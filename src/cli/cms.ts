/** `csm cms`: the Canonical Model Saliency of a model over a data set (Eq. 6). */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { classificationJob, computeCms, DEFAULT_KEEP, galleryJob, listImages, pairsJob, printableName, readPairs, topRegionsText, type Sampling } from '../index.js';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, setupExplain } from './explain-args.js';
import { EXIT, UsageError, print, printJson } from './output.js';
import { Progress } from './progress.js';
import { applyShard, SHARD_HELP, SHARD_OPTIONS, shardFlag } from './shard-args.js';
import { FRONT_END_HELP, FRONT_END_OPTIONS, frontEndFromFlags, frontEndOptions } from './front-end-args.js';

export const CMS_HELP = `Usage:
  csm cms --model MODEL --images DIR|LIST --out DIR [options]        a class or value head
  csm cms --model MODEL --gallery DIR --out DIR [options]            identity: zero-shot (Eq. 7)
  csm cms --model MODEL --pairs PAIRS.csv [--tau T] --out DIR        identity: verification (Eq. 8)

Canonical Model Saliency: the mean of the CIS maps of every image (streamed one at a time). Bad
files (not an image, no face, model failure) are skipped and listed with their cause.

By default each image runs a stratified 1/${DEFAULT_KEEP} of the occlusion points (--sampling stratified
--keep 1/${DEFAULT_KEEP}: ${DEFAULT_KEEP}× fewer forward passes), its CIS reconstructed over the whole grid. On
csm-celeba100 (emotion, gender) this CMS kept mean r ≥ 0.993 to the dense one from 25 images on
(10 images: 0.989 for gender; bench/results/sampling-celeba100.md). For a few images use
--keep 1/2 (r ≥ 0.998 from 10 on); --sampling grid runs every point (the paper's CMS).

Data:
  --images DIR|LIST       a folder's files (sorted), or a text file with one path per line
  --gallery DIR           DIR/<identity>/<image>: each image is explained against the nearest
                          other image of its identity (cosine of embeddings, Eq. 7)
  --pairs PAIRS.csv       image1,image2,same (1/0): φ = c·(cos − τ), c = +1 genuine, −1 impostor
                          (Eq. 8 with the sign fixed so that hiding what matches lowers φ);
                          the same canonical point is occluded in both photos
  --tau T                 verification threshold              [default: fitted on the pairs]
Run:
  --checkpoint-every N    save the accumulator every N images (0: only at the end)  [default: 25]
  --resume                continue the run checkpointed in DIR/checkpoint (exactly the same bytes
                          as an uninterrupted run); without it (or --force) a DIR holding a
                          checkpoint or a finished run is refused
  --save-cis N            also write the CIS outputs of the first N images             [default: 0]

Writes cms.npy (float32 mean map), cms-jet.png, cms-turbo.png, cms-overlay.png,
cms-regions.md, cms-convergence.png (change of the map as images are added, Fig. 5) and cms.json
(every parameter, the model's hash, versions, counts, predictions, skipped files with causes,
the convergence curve). To merge shards run on other machines: csm merge.

${SHARD_HELP}

${FRONT_END_HELP}

${EXPLAIN_HELP}`;

/** csm cms samples unless told otherwise (issue 14; the numbers: bench/results/sampling-celeba100.md). */
export const CMS_DEFAULT_SAMPLING: Sampling = { kind: 'stratified', keep: DEFAULT_KEEP };
const CMS_DEFAULT_NOTE = `csm cms's default: stratified 1/${DEFAULT_KEEP} of the points per image, CIS reconstructed (mean r ≥ 0.993 to the dense CMS from 25 images on, emotion and gender on csm-celeba100: bench/results/sampling-celeba100.md); --sampling grid runs every point`;

const CMS_OPTIONS = {
  ...EXPLAIN_OPTIONS,
  images: { type: 'string' },
  gallery: { type: 'string' },
  pairs: { type: 'string' },
  tau: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  resume: { type: 'boolean' },
  'save-cis': { type: 'string' },
  ...SHARD_OPTIONS,
  ...FRONT_END_OPTIONS,
} as const;

export async function cmsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, allowPositionals: false, options: CMS_OPTIONS });
  if (values.help) { print(CMS_HELP); return EXIT.ok; }
  const sources = [values.images, values.gallery, values.pairs].filter(Boolean).length;
  if (sources !== 1) throw new UsageError('give exactly one of --images, --gallery or --pairs');
  const every = Number(values['checkpoint-every'] ?? 25);
  if (!Number.isInteger(every) || every < 0) throw new UsageError(`--checkpoint-every takes a whole number ≥ 0, got "${values['checkpoint-every']}"`);
  const saveCis = Number(values['save-cis'] ?? 0);
  if (!Number.isInteger(saveCis) || saveCis < 0) throw new UsageError(`--save-cis takes a whole number ≥ 0, got "${values['save-cis']}"`);
  const tau = values.tau === undefined ? undefined : Number(values.tau);
  const shard = shardFlag(values.shard);
  frontEndOptions(values); // usage errors before any work
  if (tau !== undefined && !(tau >= -1 && tau <= 1)) throw new UsageError(`--tau takes a cosine similarity in [-1, 1], got "${values.tau}"`);
  // --out is refused if it holds a finished run (cms.json) or another run's checkpoint, unless
  // --force (start over) or --resume (continue the checkpoint).
  const setup = await setupExplain(values, { finished: ['cms.json'], checkpoint: join('checkpoint', 'cms-state.json'), resume: values.resume ?? false }, { sampling: CMS_DEFAULT_SAMPLING });
  const samplingNote = values.sampling === undefined && values.keep === undefined && values.points === undefined ? CMS_DEFAULT_NOTE : undefined;
  const progress = new Progress('cms', !values.quiet);
  let frontEnd: Awaited<ReturnType<typeof frontEndFromFlags>> | undefined;
  try {
    const head = setup.explainer.head;
    if (values.images && head.confidence === 'embedding') throw new UsageError(`head "${head.name}" gives embeddings: use --gallery (Eq. 7) or --pairs (Eq. 8)`);
    if (!values.images && head.confidence !== 'embedding') throw new UsageError(`--gallery and --pairs explain identity heads; head "${head.name}" gives ${head.confidence} outputs`);
    const t0 = performance.now();
    const job = await applyShard(values.images ? classificationJob(setup.explainer, await listImages(values.images), values.images)
      : values.gallery ? await galleryJob(setup.explainer, values.gallery, (done, total) => progress.update(done, total, (performance.now() - t0) / 1000, 'gallery embeddings'))
        : await pairsJob(setup.explainer, await readPairs(values.pairs!), { source: values.pairs!, ...(tau !== undefined ? { tau } : {}) }), shard, values);
    frontEnd = await frontEndFromFlags(values, setup.explainer);
    const result = await computeCms(setup, job, setup.out, {
      checkpointEvery: every, resume: values.resume ?? false, saveCis, frontEnd, ...(samplingNote ? { samplingNote } : {}),
      onWarning: (m) => progress.note(`warning: ${m}`),
      onProgress: (p) => progress.update(p.done, p.total, p.elapsed, p.skipped ? `${p.skipped} skipped` : ''),
    });
    const { run, skipped, written } = result;
    if (values.json) printJson({ out: setup.out, images: run.acc.images, skipped, files: written.files, regions: written.regions });
    else if (job.shard && run.acc.images === 0) print(`shard ${job.shard.index}/${job.shard.count} is empty: no image of it explained (${skipped.length} skipped) → ${join(setup.out, 'cms.json')}`);
    else {
      print(`CMS of ${run.acc.images} image${run.acc.images === 1 ? '' : 's'} (${skipped.length} skipped) in ${run.seconds.toFixed(1)} s → ${join(setup.out, 'cms-overlay.png')}`);
      for (const s of skipped) print(`  skipped ${printableName(s.file)}: ${s.cause}`);
      if (written.regions) print(`  ${topRegionsText(written.regions)}`);
    }
  } finally {
    await frontEnd?.close();
    await setup.dispose();
  }
  return EXIT.ok;
}
