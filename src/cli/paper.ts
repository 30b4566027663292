/** `csm paper`: the paper's analyses in one command (src/paper/run.ts does the work). */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { COMPARE_DEFAULTS, PAPER_DEFAULT_SAMPLING, PAPER_DEFAULT_STRIDE, PAPER_RUNS, runPaper, SAMPLE_INSTALL } from '../index.js';
import { samplingFromFlags, whole } from './explain-args.js';
import { openOutput } from './out.js';
import { EXIT, UsageError, print } from './output.js';
import { Progress } from './progress.js';

export const PAPER_HELP = `Usage: csm paper --out DIR [--images DIR|LIST] [--groups GROUPS.csv] [--pairs PAIRS.csv] [options]

The analyses of the Canonical Saliency Maps paper with csm's models, over a folder of photos or, by
default, the face photos that ship with npm packages (as csm demo: about 55 faces). Each model is
explained once per image; its per-image maps are kept and reused by every analysis:
  fig1-tasks.png         Fig. 1: the CMS of the five tasks side by side: expression (emotion),
                         gender (gender), age in decades (faceres age10), identity (faceres
                         descriptor, the most accurate identity model) and head pose (headpose,
                         9 bins); per-region means with 95 % bootstrap intervals
  compare-A-vs-B/        Fig. 12–13: the gender models (gender, faceres gender, GEAR gender)
                         compared pairwise on the same images, as csm compare (paired; maps
                         divided by their mean |value|; max-t FWER mask; region table)
  pose-bins.png          the head-pose CMS of each predicted pose bin, and whether the nose leads
                         the other regions (its lead over the runner-up with a 95 % interval)
  eyes-*/                the eye-region question: each gender model's maps, faces faceres predicts
                         female vs male (and the groups of --groups), as csm compare (groups)
  <run>/                 each model's own CMS outputs (cms.npy, PNGs, cms.json) and its per-image
                         maps (cis-maps.npy, cis-maps.json: what --reuse reads)
  index.html, paper.json all of it on one page, and every parameter

Identity: with --pairs, verification (Eq. 8, τ fitted on a separate half of the pairs); on the
sample photos, their FGNet genuine and impostor pairs; on a folder of unknown people, Eq. 7 with
each photo's own unoccluded embedding as its reference (how far hiding a region moves the
descriptor), which the outputs say is not a separate reference set.

Options:
  --out DIR             output folder (required)
  --images DIR|LIST     photos                                  [default: the npm sample photos]
  --groups GROUPS.csv   "file,group" lines (two groups): a second eye-region comparison
  --pairs PAIRS.csv     image1,image2,same pairs for identity (Eq. 8)
  --runs K,K,...        only these runs (${PAPER_RUNS.map((r) => r.key).join(', ')})   [default: all]
  --stride N            canonical grid spacing in canonical pixels             [default: ${PAPER_DEFAULT_STRIDE}]
  --points N            occlusions per face and model, a stratified share of the grid (as csm
                        cms --sampling stratified --points N), each CIS reconstructed over the
                        whole grid                                                [default: 64]
  --sampling grid|stratified|adaptive, --keep 1/k   as in csm cms (--sampling grid: every point)
                        The default (64 of the ~2,100 stride-4 points) costs about what a
                        stride-24 grid does and gives maps without gaps; over ~55 faces the CMS
                        keeps r ≈ 0.99 to the dense one. The default run, 7 models over ~55
                        sample faces, took 13.5 minutes on 2 CPU cores that two other csm runs
                        shared (faceres, run three times, is about half of it).
  --canonical-size N    side of the canonical face and maps                     [default: 256]
  --permutations N      permutations of each comparison's test                  [default: ${COMPARE_DEFAULTS.permutations}]
  --bootstrap N         bootstrap resamples of every interval                   [default: ${COMPARE_DEFAULTS.bootstrap}]
  --alpha A             significance level (FWER)                               [default: ${COMPARE_DEFAULTS.alpha}]
  --seed N              seed of resamples and permutations                      [default: ${COMPARE_DEFAULTS.seed}]
  --backend B           engine                                                  [default: auto]
  --batch auto|N        occluded copies per forward pass (auto measures each model first,
                        10–45 s per model on a busy CPU)                          [default: 8]
  --force               overwrite a finished run in DIR
  --reuse               redo the analyses in DIR from the per-image maps an earlier run kept
                        (<run>/cis-maps.npy and .json), for each run whose images and parameters
                        are the same; the others are explained again (implies --force)

The sample photos' packages are development dependencies of csm; a project that installs csm adds
them with
  ${SAMPLE_INSTALL}`;

export async function paperCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, allowPositionals: false, options: {
      out: { type: 'string' }, images: { type: 'string' }, groups: { type: 'string' }, pairs: { type: 'string' }, runs: { type: 'string' },
      stride: { type: 'string' }, points: { type: 'string' }, sampling: { type: 'string' }, keep: { type: 'string' }, 'canonical-size': { type: 'string' }, permutations: { type: 'string' }, bootstrap: { type: 'string' },
      alpha: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' }, batch: { type: 'string' }, force: { type: 'boolean' }, reuse: { type: 'boolean' }, quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { print(PAPER_HELP); return EXIT.ok; }
  if (!values.out) throw new UsageError('--out DIR is required (csm paper --help)');
  const stride = whole(values.stride, '--stride', PAPER_DEFAULT_STRIDE, 1, 256);
  const sampling = samplingFromFlags(values, PAPER_DEFAULT_SAMPLING);
  const canonicalSize = whole(values['canonical-size'], '--canonical-size', 256, 32, 2048);
  const alpha = values.alpha === undefined ? COMPARE_DEFAULTS.alpha : Number(values.alpha);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha takes a number in (0, 1), got "${values.alpha}"`);
  const statistics = {
    permutations: whole(values.permutations, '--permutations', COMPARE_DEFAULTS.permutations, 1, 1_000_000),
    bootstrap: whole(values.bootstrap, '--bootstrap', COMPARE_DEFAULTS.bootstrap, 1, 1_000_000),
    seed: whole(values.seed, '--seed', COMPARE_DEFAULTS.seed, 0, 2 ** 32 - 1),
    alpha, correction: 'maxt' as const, minImages: COMPARE_DEFAULTS.minImages,
  };
  let runs = PAPER_RUNS;
  if (values.runs) {
    const keys = values.runs.split(',').map((k) => k.trim()).filter(Boolean);
    const unknown = keys.filter((k) => !PAPER_RUNS.some((r) => r.key === k));
    if (unknown.length || !keys.length) throw new UsageError(`--runs takes keys among ${PAPER_RUNS.map((r) => r.key).join(', ')}; unknown: ${unknown.join(', ') || '(none given)'}`);
    runs = PAPER_RUNS.filter((r) => keys.includes(r.key));
  }
  const batch = values.batch === 'auto' ? undefined : whole(values.batch, '--batch', 8, 1, 4096);
  const out = resolve(values.out);
  const lock = await openOutput(out, { finished: ['index.html', 'paper.json'], force: (values.force ?? false) || (values.reuse ?? false) });
  const bars = new Map<string, Progress>();
  const t0 = performance.now();
  try {
    const { index } = await runPaper({
      out, stride, sampling, canonicalSize, statistics, runs,
      ...(values.images ? { images: values.images } : {}), ...(values.groups ? { groups: values.groups } : {}), ...(values.pairs ? { pairs: values.pairs } : {}),
      ...(values.backend ? { backend: values.backend } : {}), ...(batch ? { batch } : {}),
      reuse: values.reuse ?? false,
      onStage: (s) => { if (!values.quiet) print(s); },
      onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
      onProgress: (key, p) => {
        if (!bars.has(key)) bars.set(key, new Progress(key, !values.quiet));
        bars.get(key)!.update(p.done, p.total, p.elapsed, p.skipped ? `${p.skipped} skipped` : '');
      },
    });
    print(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${index}`);
  } finally {
    await lock.release();
  }
  return EXIT.ok;
}
