/** `csm eval`: CMS against baselines with the paper's faithfulness metrics (Section 4.2). */
// Every output file is written atomically after a free-space check (io/atomic.ts).
import { writeFileAtomic as writeFile } from '../index.js';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  camLayerResolver, classificationJob, createMethods, CsmError, decisionMarkdown, DEFAULT_METHODS, evaluate, evaluatePairs, evaluationMarkdown, foldCms, IMAGE_UNIT, intervalBarChart, listImages, methodEntry,
  METHODS, methodsHelp, METRICS, PAIR_UNIT, pairFoldCms, photoOverlay, preparePairs, readNpyFile, readPairs, resolveThreshold, rgbaPng, runInfo, withColorbar, writeCmsOutputs, writeHtmlIndex, zooEntry,
  type DecisionSummary, type Evaluation, type FoldCms, type PreparedPair, type SaliencyMethod, type Threshold,
} from '../index.js';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, setupExplain } from './explain-args.js';
import { EXIT, UsageError, print, printJson } from './output.js';
import { Progress } from './progress.js';
import { ablationReport, parseStudies } from './ablate.js';
import { sanityReport } from './sanity.js';

/** The --methods line, its default right-aligned with the other options'. */
const METHODS_OPTION = ((): string => {
  const left = `  --methods a,b,c         among ${METHODS.map((m) => m.name).join(', ')}`;
  const right = `[default: ${DEFAULT_METHODS.length === METHODS.length ? 'all' : DEFAULT_METHODS.join(',')}]`;
  return `${left}${' '.repeat(Math.max(2, 95 - left.length - right.length))}${right}`;
})();

export const EVAL_HELP = `Usage: csm eval --model MODEL --images DIR|LIST --out DIR [options]
       csm eval --model MODEL --head IDENTITY-HEAD --pairs PAIRS.csv [--tau T] --out DIR [options]

Measures how faithful each saliency method is to the model (the paper's Section 4.2): for every
image, each method's heatmap over the model input I is min-max normalised and scaled to the same
sum as the others (Eq. 10), the negative explanation image E = (1 − H) ⊙ I darkens what it marks
(Eq. 9), and the predicted class's probability on I and on E gives
  Average Drop %   mean of max(0, (φ(I) − φ(E)) / φ(I)) × 100          (higher is better)
  % Increase       share of images where φ(E) > φ(I)                    (lower is better)
  Win %            share of images where the method's E is least confident; k methods tied
                   for the least each get 1/k, so the column sums to 100   (higher is better)
Every number comes with a 95 % percentile-bootstrap interval over images (2,000 resamples,
seed 1), and CMS is compared with each other method image by image: the paired-bootstrap
interval of the Average Drop difference and the exact two-sided sign test on which explanation
image is less confident.

No image is explained by a CMS it is part of: unless --cms is given, the images are split into
--folds folds by sorted path order (the i-th in fold i mod k), every image's CIS is computed once,
and an image of fold f is evaluated with the mean CIS of the other folds (exact, from the folds'
accumulators). eval.json records which CMS was used.
Tasks: any classification head (--head): gender, expression, age as classes (faceres --head age10:
the 100-way age softmax summed into decades; gear's 7 age bins) and head pose as classes (headpose:
9 pitch × yaw classes from an analytic head on the face mesh, differentiable end to end, so the
CAM methods apply to it too). Identity is evaluated on verification pairs (--pairs, Eq. 8): the
explained image is the first of each pair, the second is left untouched, and
  φ = max(0, c·(cos(e(I₁), e(I₂)) − τ)), c = +1 if the model calls the untouched pair genuine
(cos ≥ τ), else −1: the confidence in the model's decision, 0 once it flips. τ: --tau, else fitted
on the pairs when they hold both kinds, else the zoo model's verification τ (csm models info).
The CMS is the verification CMS over the pairs (the same canonical point occluded in both
photos), out of fold; Grad-CAM and Grad-CAM++ differentiate the cosine, Score-CAM scores φ.
When the pairs hold both decisions, eval.md also gives the table of each side apart (φ measures
similarity on genuine pairs, dissimilarity on impostor pairs, and a method can do well on one only).
A data set without identities can use impostor neighbours, each photo against the next one in
sorted order (relative paths are read from the CSV's folder):
  ls DIR | sort | awk '{f[NR]=$0} END{for(i=1;i<=NR;i++) print f[i] "," f[i%NR+1] ",0"}' > DIR/pairs.csv

Methods (--methods; every model they run goes through the chosen --backend):
${methodsHelp()}
The CAM layer defaults to the last feature map with at least 2×2 positions (--cam-layer to choose
another).

Writes eval.md and eval.json (the table with intervals, the paired tests and every image's
confidences), eval-metrics.png (bars with 95 % intervals: Average Drop, % Increase, Win %; one
colour per method in the order given), heatmap figures of the first images, the CMS of all images
(for the figure only), and index.html.

Options:
  --images DIR|LIST       the images (the out-of-fold CMS is computed over them unless --cms)
  --pairs PAIRS.csv       identity: image1,image2,same per line (1/0), instead of --images
  --tau T                 verification threshold on cosine  [default: fitted, else the zoo's τ]
  --cms FILE.npy          use this CMS as given (made with the same model, size and alignment)
  --folds K               folds of the out-of-fold CMS                              [default: 5]
${METHODS_OPTION}
  --sum-fraction F        Eq. 10's s as a fraction of the pixels (maps clamped to [0, 1]);
                          default: the smallest normalised sum of the methods, so none is clamped
  --figures N             heatmap figures for the first N images                   [default: 4]
  --cam-layer NAME        the tensor the CAM methods explain        [default: last feature map]
  --sanity N              also run the sanity check: the last 1, 2, …, N layers randomised (csm sanity)
  --ablate a,b|all        also run ablation studies: alignment, patch, images (csm ablate)
Everything (CMS, metrics, heatmaps, sanity check, ablations) lands in one index.html.

${EXPLAIN_HELP}`;

export async function evalCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { ...EXPLAIN_OPTIONS, images: { type: 'string' }, pairs: { type: 'string' }, tau: { type: 'string' }, cms: { type: 'string' }, methods: { type: 'string' }, 'sum-fraction': { type: 'string' }, figures: { type: 'string' }, 'cam-layer': { type: 'string' }, sanity: { type: 'string' }, ablate: { type: 'string' }, folds: { type: 'string' } } });
  if (values.help) { print(EVAL_HELP); return EXIT.ok; }
  if (!values.images === !values.pairs) throw new UsageError('eval needs --images DIR|LIST (classes) or --pairs PAIRS.csv (identity), not both');
  const tau = values.tau === undefined ? undefined : Number(values.tau);
  if (tau !== undefined && !(tau >= -1 && tau <= 1)) throw new UsageError(`--tau takes a cosine similarity in [-1, 1], got "${values.tau}"`);
  if (tau !== undefined && !values.pairs) throw new UsageError('--tau goes with --pairs');
  const methodNames = (values.methods?.split(',') ?? DEFAULT_METHODS).map((m) => m.trim());
  for (const m of methodNames) if (!methodEntry(m)) throw new UsageError(`unknown method "${m}" (methods: ${METHODS.map((e) => e.name).join(', ')})`);
  const fraction = values['sum-fraction'] === undefined ? undefined : Number(values['sum-fraction']);
  if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) throw new UsageError(`--sum-fraction takes a number in (0, 1], got "${values['sum-fraction']}"`);
  const figures = Number(values.figures ?? 4);
  const folds = Number(values.folds ?? 5);
  if (!Number.isInteger(folds) || folds < 2) throw new UsageError(`--folds takes a whole number ≥ 2, got "${values.folds}"`);
  if (values.folds !== undefined && values.cms) throw new UsageError('--folds and --cms exclude each other: --cms is used as given');
  const sanitySteps = values.sanity === undefined ? 0 : Number(values.sanity);
  if (!Number.isInteger(sanitySteps) || sanitySteps < 0 || sanitySteps > 100) throw new UsageError(`--sanity takes a number of steps from 1 to 100, got "${values.sanity}"`);
  const studies = values.ablate === undefined ? [] : parseStudies(values.ablate === 'all' ? undefined : values.ablate);
  if (values.pairs && (sanitySteps || studies.length)) throw new UsageError('--sanity and --ablate run on classes (--images), not on --pairs');
  const setup = await setupExplain(values, { finished: ['eval.json', ...(values.cms ? [] : ['cms.json'])] });
  const { head } = setup.explainer;
  if (values.pairs && head.confidence !== 'embedding') throw new UsageError(`--pairs evaluates identity heads; head "${head.name}" gives ${head.confidence} outputs (choose one with --head)`);
  if (values.images && head.confidence === 'embedding') throw new UsageError(`head "${head.name}" gives embeddings: evaluate identity on verification pairs (--pairs)`);
  const progress = new Progress('eval', !values.quiet);
  let methods: SaliencyMethod[] = [];
  try {
    // The items: images, or pairs (prepared and embedded once) with τ.
    const files = values.images ? await listImages(values.images) : [];
    let pairs: PreparedPair[] = [];
    let threshold: Threshold | undefined;
    let pairsSkipped: { file: string; cause: string }[] = [];
    if (values.pairs) {
      const prepared = await preparePairs(setup.explainer, await readPairs(values.pairs));
      ({ pairs, skipped: pairsSkipped } = prepared);
      if (!pairs.length) throw new CsmError(`no pair of "${values.pairs}" could be prepared:\n  ${pairsSkipped.slice(0, 5).map((p) => `${p.file}: ${p.cause}`).join('\n  ')}`);
      const record = zooEntry(setup.model.spec.name)?.verification;
      threshold = resolveThreshold(pairs, tau, record?.head === head.name ? record.tau : undefined);
    }
    let cms: Float32Array | undefined;
    let fold: FoldCms | undefined;
    if (values.cms) {
      const npy = await readNpyFile(values.cms);
      if (npy.shape.length !== 2 || npy.shape[0] !== setup.explainer.canonicalSize || npy.shape[1] !== npy.shape[0]) throw new CsmError(`"${values.cms}" is not a ${setup.explainer.canonicalSize}×${setup.explainer.canonicalSize} map (shape [${npy.shape}])`);
      cms = Float32Array.from(npy.data as ArrayLike<number>);
    } else {
      const cmsProgress = new Progress('cis', !values.quiet);
      const start = performance.now();
      const onItem = (done: number, total: number): void => cmsProgress.update(done, total, (performance.now() - start) / 1000);
      const predictions: Record<string, number> = {};
      if (threshold) {
        fold = await pairFoldCms(setup.explainer, pairs, threshold.tau, folds, onItem);
        for (const p of pairs) { const d = p.cos >= threshold.tau ? 'genuine' : 'impostor'; predictions[d] = (predictions[d] ?? 0) + 1; }
      } else {
        fold = await foldCms(files, async (f) => {
          const r = await setup.explainer.cis(f);
          const label = r.prediction.label ?? 'value';
          predictions[label] = (predictions[label] ?? 0) + 1;
          return r.cis;
        }, setup.explainer.canonicalSize, folds, onItem);
      }
      // The CMS of all items, for the report's figure; each item is evaluated with its out-of-fold CMS.
      const job = threshold
        ? { items: pairs.map((p) => p.key), skippedBefore: pairsSkipped, mode: { kind: 'verification (Eq. 8, sign fixed), c = the model\'s decision on each pair', pairs: values.pairs, tau: threshold.tau, tauSource: threshold.source } }
        : classificationJob(setup.explainer, files, values.images!);
      await writeCmsOutputs(setup, setup.out, { acc: fold.all, files: threshold ? job.items : files, skipped: fold.skipped, resumedAt: 0, seconds: (performance.now() - start) / 1000 }, { job, predictions });
    }
    const cmsRecord = fold
      ? { source: 'out-of-fold', folds: fold.folds, assignment: fold.assignment, foldOf: Object.fromEntries(fold.foldOf) }
      : { source: 'file', path: values.cms };
    const { spec } = setup.model;
    const cam = camLayerResolver(setup.model, setup.open, async () => (pairs.length ? pairs[0]!.a : await setup.explainer.prepare(files[0]!)).tensor, values['cam-layer']);
    methods = await createMethods(methodNames, {
      model: setup.model, explainer: setup.explainer, open: setup.open, camLayer: cam.get,
      cms: fold ? (f) => fold.cmsFor(f) : cms!,
      ...(fold ? { cis: (f: string) => fold.cisFor(f) } : {}),
    });
    const evalStart = performance.now();
    let figuresDone = 0;
    const figureFiles: { file: string; caption: string }[] = [];
    const options = {
      ...(fraction !== undefined ? { sumFraction: fraction } : {}),
      onImage: (done: number, total: number) => progress.update(done, total, (performance.now() - evalStart) / 1000),
      onHeatmaps: async (file: string, heatmaps: Float32Array[]) => {
        if (figuresDone >= figures) return;
        figuresDone++;
        const prepared = pairs.find((p) => p.a.file === file)?.a ?? await setup.explainer.prepare(file);
        for (const [k, h] of heatmaps.entries()) {
          const overlay = photoOverlay(prepared.image, h, new Uint8Array(h.length).fill(1), { colormap: 'jet', range: [0, Math.max(...h) || 1] });
          const name = `eval-${figuresDone}-${basename(file, extname(file)).replace(/[^\w.-]/g, '_')}-${methods[k]!.name.toLowerCase().replace(/[^\w.+-]/g, '_')}.png`;
          await writeFile(join(setup.out, name), rgbaPng(withColorbar(overlay, { colormap: 'jet', range: overlay.range })));
          figureFiles.push({ file: name, caption: `${basename(file)}: ${methods[k]!.name}` });
        }
      },
    };
    const result: Evaluation & { phi?: string; byDecision?: DecisionSummary[] } = threshold
      ? await evaluatePairs(setup.explainer, methods, pairs, threshold.tau, options)
      : await evaluate(setup.explainer, methods, files, options);
    if (pairsSkipped.length) result.skipped.unshift(...pairsSkipped);
    const phi = result.phi ?? 'φ = the predicted class\'s probability';
    // Identity with both decisions: the pooled table, then one per decision (φ differs in kind).
    const sides = result.byDecision ?? [];
    const table = evaluationMarkdown(result, threshold ? PAIR_UNIT : IMAGE_UNIT) + (sides.length ? `\n\n${decisionMarkdown(sides)}` : '');
    const groups = [result.scores.map((s) => s.averageDrop), result.scores.map((s) => s.increase), result.scores.map((s) => s.win)];
    const intervals = [result.scores.map((s) => s.intervals.averageDrop), result.scores.map((s) => s.intervals.increase), result.scores.map((s) => s.intervals.win)];
    await writeFile(join(setup.out, 'eval-metrics.png'), rgbaPng(intervalBarChart(groups, { max: 100, intervals, groupLabels: ['Average Drop %', '% Increase', 'Win %'], legend: result.methods, yLabel: '% (whiskers: 95 % bootstrap intervals)' })));
    const camLayer = cam.current();
    const layerNote = camLayer ? ` CAM layer: ${camLayer.name} [${camLayer.dims}].` : '';
    const extra = [
      ...(sanitySteps ? [await sanityReport(setup, files, sanitySteps, values.quiet ?? false)] : []),
      ...(studies.length ? [await ablationReport(setup, files, studies, undefined, values.quiet ?? false)] : []),
    ];
    const thresholdNote = threshold ? `\n\n${phi}; τ = ${threshold.tau.toFixed(4)} (${threshold.source}${threshold.accuracy !== undefined ? `, accuracy ${(100 * threshold.accuracy).toFixed(1)} % on the pairs` : ''}).` : '';
    const markdown = [table + thresholdNote, ...extra.map((r) => r.markdown)].join('\n\n');
    await writeFile(join(setup.out, 'eval.md'), `${markdown}\n`);
    await writeFile(join(setup.out, 'eval.json'), `${JSON.stringify({ ...result, phi, ...(threshold ? { pairs: values.pairs, threshold } : {}), cms: cmsRecord, camLayer, metrics: METRICS, ...(sanitySteps ? { sanity: extra[0]!.json } : {}), ...(studies.length ? { ablations: extra[extra.length - 1]!.json } : {}), params: setup.params, run: runInfo(setup) }, null, 2)}\n`);
    const items = threshold ? 'pairs' : 'images';
    await writeHtmlIndex(setup.out, {
      title: `csm eval: ${spec.name} (${head.name}) on ${result.images.length} ${items}`,
      sections: [
        { heading: 'Faithfulness (Section 4.2)', text: `Negative explanation images E = (1 − H) ⊙ I with equal-sum heatmaps; ${phi}.${threshold ? ` τ = ${threshold.tau.toFixed(4)} (${threshold.source}).` : ''} Bars: Average Drop %, % Increase, Win % (colours: ${result.methods.join(', ')}), whiskers: 95 % intervals. CMS: ${fold ? `out of fold (${fold.folds} folds; ${fold.assignment}), so no ${items === 'pairs' ? 'pair' : 'image'} is in its own CMS` : `${values.cms}, as given`}. ${result.skipped.length} ${result.skipped.length === 1 ? items.slice(0, -1) : items} skipped.${layerNote}`, images: [{ file: 'eval-metrics.png', caption: 'Average Drop % | % Increase | Win %, with 95 % intervals' }], tables: table },
        { heading: `Heatmaps (equal-sum, over the model input${threshold ? ' of each pair\'s first photo' : ''})`, images: figureFiles },
        ...(values.cms ? [] : [{ heading: `The CMS of all ${items} (figure only; each is evaluated with its out-of-fold CMS)`, images: [{ file: 'cms-overlay.png', caption: 'CMS over the canonical face' }] }]),
        ...extra.flatMap((r) => r.sections),
      ],
      params: setup.params,
    });
    if (values.json) printJson(result.scores);
    else {
      print(markdown);
      print(`${result.images.length} ${items} evaluated, ${result.skipped.length} skipped → ${join(setup.out, 'index.html')}`);
    }
  } finally {
    for (const m of methods) await m.dispose?.();
    await setup.dispose();
  }
  return EXIT.ok;
}
