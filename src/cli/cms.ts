/** `csm cms`: the Canonical Model Saliency of a model over a data set (Eq. 6). */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  cosine, coverageMask, CsmError, fitThreshold, topRegionsText, lineChart, listImages, pairId, readGallery, readPairs, rgbaPng, runCms, writeCanonicalMap,
  type CisResult, type CmsRunResult, type FrontEnd, type Pair, type PreparedImage,
} from '../index.js';
import { writeCisOutputs } from './cis.js';
import { FRONT_END_HELP, FRONT_END_OPTIONS, frontEndFromFlags } from './front-end-args.js';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, runInfo, setupExplain, type ExplainSetup } from './explain-args.js';
import { EXIT, UsageError, print, printJson } from './output.js';
import { Progress } from './progress.js';

export const CMS_HELP = `Usage:
  csm cms --model MODEL --images DIR|LIST --out DIR [options]        a class or value head
  csm cms --model MODEL --gallery DIR --out DIR [options]            identity: zero-shot (Eq. 7)
  csm cms --model MODEL --pairs PAIRS.csv [--tau T] --out DIR        identity: verification (Eq. 8)

Canonical Model Saliency: the mean of the CIS maps of every image (streamed one at a time). Bad
files (not an image, no face, model failure) are skipped and listed with their cause.

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
                          as an uninterrupted run)
  --save-cis N            also write the CIS outputs of the first N images             [default: 0]

Writes cms.npy (float32 mean map), cms-jet.png, cms-turbo.png, cms-overlay.png,
cms-regions.md, cms-convergence.png (change of the map as images are added, Fig. 5) and cms.json
(every parameter, the model's hash, versions, counts, predictions, skipped files with causes,
the convergence curve). To merge shards run on other machines: csm merge.

${FRONT_END_HELP}
${EXPLAIN_HELP}`;

const CMS_OPTIONS = {
  ...EXPLAIN_OPTIONS,
  ...FRONT_END_OPTIONS,
  images: { type: 'string' },
  gallery: { type: 'string' },
  pairs: { type: 'string' },
  tau: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  resume: { type: 'boolean' },
  'save-cis': { type: 'string' },
} as const;

export interface Job { items: string[]; explain: (item: string, prepared?: PreparedImage[]) => Promise<CisResult>; photos?: (item: string) => string[]; mode: Record<string, unknown>; skippedBefore: { file: string; cause: string }[] }

/** Zero-shot: every gallery image with another image of its identity, against those images. */
async function galleryJob(setup: ExplainSetup, dir: string, progress: Progress): Promise<Job> {
  const gallery = await readGallery(dir);
  const embeddings = new Map<string, Float32Array>();
  const skippedBefore: { file: string; cause: string }[] = [];
  let k = 0;
  const t0 = performance.now();
  for (const file of gallery.files) {
    try {
      embeddings.set(file, await setup.explainer.embed(await setup.explainer.prepare(file)));
    } catch (e) {
      if (!(e instanceof CsmError)) throw e;
      skippedBefore.push({ file, cause: e.message });
    }
    progress.update(++k, gallery.files.length, (performance.now() - t0) / 1000, 'gallery embeddings');
  }
  const refs = (file: string): Float32Array[] => gallery.identities.get(gallery.identityOf.get(file)!)!.filter((f) => f !== file && embeddings.has(f)).map((f) => embeddings.get(f)!);
  const items = gallery.files.filter((f) => embeddings.has(f));
  return {
    items, skippedBefore, mode: { kind: 'zero-shot (Eq. 7)', gallery: dir, identities: gallery.identities.size },
    explain: (file, p) => setup.explainer.cisZeroShot(p?.[0] ?? file, refs(file), gallery.identityOf.get(file)!),
  };
}

/** Verification: τ given or fitted on the unoccluded pairs, then one CIS per pair. */
export async function pairsJob(setup: ExplainSetup, csv: string, tauText: string | undefined): Promise<Job> {
  const pairs = await readPairs(csv);
  const skippedBefore: { file: string; cause: string }[] = [];
  let tau: number;
  let fitted: { accuracy: number; pairs: number } | undefined;
  if (tauText !== undefined) {
    tau = Number(tauText);
    if (!(tau >= -1 && tau <= 1)) throw new UsageError(`--tau takes a cosine similarity in [-1, 1], got "${tauText}"`);
  } else {
    const embed = new Map<string, Float32Array>();
    const sims: number[] = [];
    const same: boolean[] = [];
    for (const p of pairs) {
      try {
        for (const f of [p.a, p.b]) if (!embed.has(f)) embed.set(f, await setup.explainer.embed(await setup.explainer.prepare(f)));
        sims.push(cosine(embed.get(p.a)!, embed.get(p.b)!));
        same.push(p.same);
      } catch (e) {
        if (!(e instanceof CsmError)) throw e;
        skippedBefore.push({ file: pairId(p), cause: e.message });
      }
    }
    if (!sims.length) throw new CsmError(`no pair of "${csv}" could be embedded`);
    const fit = fitThreshold(sims, same);
    tau = fit.tau;
    fitted = { accuracy: fit.accuracy, pairs: sims.length };
  }
  const byId = new Map<string, Pair>(pairs.map((p) => [pairId(p), p]));
  return {
    items: pairs.map(pairId), skippedBefore, mode: { kind: 'verification (Eq. 8, sign fixed)', pairs: csv, tau, fitted: fitted ?? null },
    explain: (id, prepared) => { const p = byId.get(id)!; return setup.explainer.cisPair(prepared?.[0] ?? p.a, prepared?.[1] ?? p.b, p.same, tau); },
    photos: (id) => { const p = byId.get(id)!; return [p.a, p.b]; },
  };
}

export async function cmsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, allowPositionals: false, options: CMS_OPTIONS });
  if (values.help) { print(CMS_HELP); return EXIT.ok; }
  const sources = [values.images, values.gallery, values.pairs].filter(Boolean).length;
  if (sources !== 1) throw new UsageError('give exactly one of --images, --gallery or --pairs');
  const every = Number(values['checkpoint-every'] ?? 25);
  if (!Number.isInteger(every) || every < 0) throw new UsageError(`--checkpoint-every takes a whole number ≥ 0, got "${values['checkpoint-every']}"`);
  const saveCis = Number(values['save-cis'] ?? 0);
  if (!Number.isInteger(saveCis) || saveCis < 0) throw new UsageError(`--save-cis takes a whole number ≥ 0, got "${values['save-cis']}"`);
  const setup = await setupExplain(values);
  await mkdir(setup.out, { recursive: true });
  const progress = new Progress('cms', !values.quiet);
  let result: CmsRunResult;
  let job: Job;
  const predictions: Record<string, number> = {};
  let frontEnd: FrontEnd | undefined;
  try {
    const head = setup.explainer.head;
    if (values.images) {
      if (head.confidence === 'embedding') throw new UsageError(`head "${head.name}" gives embeddings: use --gallery (Eq. 7) or --pairs (Eq. 8)`);
      job = { items: await listImages(values.images), explain: (f, p) => setup.explainer.cis(p?.[0] ?? f), mode: { kind: 'classification', images: values.images }, skippedBefore: [] };
    } else {
      if (head.confidence !== 'embedding') throw new UsageError(`--gallery and --pairs explain identity heads; head "${head.name}" gives ${head.confidence} outputs`);
      job = values.gallery ? await galleryJob(setup, values.gallery, progress) : await pairsJob(setup, values.pairs!, values.tau);
    }
    if (!job.items.length) throw new CsmError('there are no images to explain');
    // What makes maps comparable: the model and parameters and the kind of φ, not which images
    // (shards of one data set differ there; resume checks the image list on its own). τ cancels
    // in every drop c·(cos − τ) − c·(cos* − τ), so it is not part of it either.
    const fingerprint = { ...setup.params, mode: job.mode['kind'] };
    frontEnd = await frontEndFromFlags(values, setup.explainer);
    result = await runCms(job.items, job.explain, setup.explainer.canonicalSize, {
      checkpointDir: join(setup.out, 'checkpoint'),
      checkpointEvery: every,
      resume: values.resume ?? false,
      fingerprint,
      frontEnd,
      ...(job.photos ? { photosOf: job.photos } : {}),
      onWarning: (m) => progress.note(`warning: ${m}`),
      onProgress: (p) => progress.update(p.done, p.total, p.elapsed, p.skipped ? `${p.skipped} skipped` : ''),
      onImage: async (r, index) => {
        const label = r.prediction.label ?? 'value';
        predictions[label] = (predictions[label] ?? 0) + 1;
        if (index < saveCis) await writeCisOutputs(setup, r, `cis-${String(index + 1).padStart(4, '0')}-${basename(r.prepared.file, extname(r.prepared.file))}`);
      },
    });
    const { acc } = result;
    const skipped = [...job.skippedBefore, ...result.skipped];
    if (acc.images === 0) throw new CsmError(`every image was skipped:\n  ${skipped.map((s) => `${s.file}: ${s.cause}`).join('\n  ')}`);
    const curve = acc.convergence.map((c) => [c.images, c.change] as [number, number]);
    await writeFile(join(setup.out, 'cms-convergence.png'), rgbaPng(lineChart(curve, { logY: true })));
    const written = await writeCanonicalMap(setup.out, 'cms', acc.mean(), { ...setup.space, mask: coverageMask(acc.coverage) }, {
      kind: 'CMS', mode: job.mode, params: setup.params, run: { ...runInfo(setup), frontEnd: frontEnd.description, seconds: result.seconds, resumedAt: result.resumedAt },
      counts: { listed: job.items.length + job.skippedBefore.length, explained: acc.images, skipped: skipped.length },
      // Predicted labels are counted only over images explained in this process (not before a resume).
      predictions: result.resumedAt === 0 ? predictions : undefined,
      skipped, images: acc.ids, convergence: acc.convergence,
    });
    if (values.json) printJson({ out: setup.out, images: acc.images, skipped, files: written.files, regions: written.regions });
    else {
      print(`CMS of ${acc.images} image${acc.images === 1 ? '' : 's'} (${skipped.length} skipped) in ${result.seconds.toFixed(1)} s → ${join(setup.out, 'cms-overlay.png')}`);
      for (const s of skipped) print(`  skipped ${s.file}: ${s.cause}`);
      if (written.regions) print(`  ${topRegionsText(written.regions)}`);
    }
  } finally {
    await frontEnd?.close();
    await setup.dispose();
  }
  return EXIT.ok;
}

