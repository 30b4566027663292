/** `csm compare`: two CMS side by side with intervals and a significance mask (two models, or two groups of images). */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  COMPARE_DEFAULTS, CsmError, createExplainSetup, groupsBase, readGroups, listImages, compareMemoryBytes, normaliseMap, runInfo, writeComparison,
  type CanonicalMapSet, type CompareDesign, type Correction, type MapNormalisation, printableName, type ExplainSetup as LibrarySetup,
} from '../index.js';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, setupExplain, whole } from './explain-args.js';
import { EXIT, UsageError, print, printJson } from './output.js';
import { Progress } from './progress.js';

export const COMPARE_HELP = `Usage:
  csm compare --model A --model-b B [--head-b H] --images DIR|LIST --out DIR [options]   two models, same images
  csm compare --model M --groups GROUPS.csv --out DIR [options]                         one model, two groups
  csm compare --model M --group-by MODEL:HEAD --images DIR|LIST --out DIR [options]     groups by a model's prediction

Two CMS side by side, with an interval for every number. Every image's CIS map is kept in memory
(float32 + coverage: about 5 bytes × H_F² per map; 200 images per side at H_F 256 ≈ 200 MB, at
128 ≈ 50 MB; --max-memory refuses larger runs before they start). Pixels that no patch reached in
an image are missing there, not 0; a pixel is tested where each side has ≥ --min-images images.

Two models on the same images (paired): the per-image difference maps A_i − B_i (where both maps
of image i are measured). Intervals: percentile bootstrap resampling images (an image brings
both maps). Test: one-sample t per pixel; permutations flip the sign of whole per-image
difference maps (all 2^n flips when 2^n ≤ --permutations).
One model on two groups: mean(A) − mean(B); intervals: bootstrap within each group; test:
Welch's t per pixel; permutations shuffle the group labels.
Significance (--correction): maxt (default) controls the family-wise error rate over all tested
pixels by the max-statistic method (Westfall–Young single step: a pixel is significant when its
|t| beats all but α of the permutations' maxima over pixels); fdr uses Benjamini–Hochberg on the
per-pixel permutation p-values (their resolution 1/(P + 1) means BH needs many permutations for
small spots: it rejects nothing unless ≥ m/(α(P + 1)) of the m tested pixels reach the smallest p).
Both masks are counted in compare.json.
Regions (brows, eyes, nose, mouth, cheeks, forehead, chin/jaw): per image, the mean over the
region's measured pixels; A, B, A − B with its interval, and the permutation p-value raw, FWER
(max-t over the 7 regions) and Holm-adjusted.

Data:
  --model-b NAME|FILE.onnx  the second model (paired design); it uses the same occlusion options
  --head-b NAME             its head                        [default: its first with a confidence]
  --groups GROUPS.csv       lines "file,group" (a header line "file,group" is allowed), exactly two
                            groups, A = the first group named; relative paths are taken from
                            --images (a folder, or a list's folder) when given, else from the
                            CSV's folder
  --group-by MODEL:HEAD     groups by the predicted class of a two-class head (e.g. gender:gender;
                            A = its first label); MODEL may be --model itself (no second run)
  --images DIR|LIST         the images (all of them for --model-b and --group-by)
Statistics:
  --permutations N          permutations of the test                             [default: ${COMPARE_DEFAULTS.permutations}]
  --bootstrap N             bootstrap resamples of the intervals                  [default: ${COMPARE_DEFAULTS.bootstrap}]
  --alpha A                 significance level (FWER for maxt, FDR for fdr)       [default: ${COMPARE_DEFAULTS.alpha}]
  --correction maxt|fdr     how the mask controls multiple comparisons           [default: maxt]
  --seed N                  seed of resamples and permutations                    [default: ${COMPARE_DEFAULTS.seed}]
  --min-images N            images per side a pixel needs to be tested            [default: ${COMPARE_DEFAULTS.minImages}]
  --normalise none|mean-abs divide each CIS map by its mean |value| over its measured pixels, so
                            that models with differently scaled scores are compared by where
                            they look (recommended for two models)             [default: none]
  --max-memory MB           refuse runs whose per-image maps need more          [default: 4096]
Cost: (permutations + bootstrap) × images × H_F² additions, e.g. ~2 s per 100 images at H_F 128
with the defaults on one core.

Writes compare.png (A | B | A − B, non-significant pixels grey; A and B share a colour range),
compare-diff-all.png, compare-convergence.png (each side's CMS change as images are added,
median and 95 % band over 200 random image orders), a.npy, b.npy, diff.npy, diff-low.npy, diff-high.npy (float32, NaN where
untested), significant.npy (uint8), t.npy, p.npy, p-fwer.npy, compare-regions.md, compare.json
(parameters, methods, counts, the region table, skipped files) and index.html.

${EXPLAIN_HELP}`;

const OPTIONS = {
  ...EXPLAIN_OPTIONS,
  images: { type: 'string' },
  'model-b': { type: 'string' },
  'head-b': { type: 'string' },
  groups: { type: 'string' },
  'group-by': { type: 'string' },
  permutations: { type: 'string' },
  bootstrap: { type: 'string' },
  alpha: { type: 'string' },
  correction: { type: 'string' },
  seed: { type: 'string' },
  'min-images': { type: 'string' },
  'max-memory': { type: 'string' },
  normalise: { type: 'string' },
} as const;

interface Side { label: string; set: CanonicalMapSet }

function emptySet(size: number): CanonicalMapSet {
  return { size, maps: [], covered: [], ids: [] };
}

export async function compareCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, allowPositionals: false, options: OPTIONS });
  if (values.help) { print(COMPARE_HELP); return EXIT.ok; }
  const modes = [values['model-b'], values.groups, values['group-by']].filter(Boolean).length;
  if (modes !== 1) throw new UsageError('give exactly one of --model-b (two models), --groups CSV or --group-by MODEL:HEAD (two groups)');
  if (!values.groups && !values.images) throw new UsageError('--model-b and --group-by need --images DIR|LIST');
  if (values['head-b'] && !values['model-b']) throw new UsageError('--head-b goes with --model-b');
  const design: CompareDesign = values['model-b'] ? 'paired' : 'groups';
  const permutations = whole(values.permutations, '--permutations', COMPARE_DEFAULTS.permutations, 1, 1_000_000);
  const bootstrap = whole(values.bootstrap, '--bootstrap', COMPARE_DEFAULTS.bootstrap, 1, 1_000_000);
  const seed = whole(values.seed, '--seed', COMPARE_DEFAULTS.seed, 0, 2 ** 32 - 1);
  const minImages = whole(values['min-images'], '--min-images', COMPARE_DEFAULTS.minImages, 2, 1_000_000);
  const maxMemory = whole(values['max-memory'], '--max-memory', 4096, 1, 1 << 30);
  const alpha = values.alpha === undefined ? COMPARE_DEFAULTS.alpha : Number(values.alpha);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha takes a number in (0, 1), got "${values.alpha}"`);
  const correction = (values.correction ?? 'maxt') as Correction;
  if (correction !== 'maxt' && correction !== 'fdr') throw new UsageError(`--correction takes maxt | fdr, got "${values.correction}"`);
  const normalise = (values.normalise ?? 'none') as MapNormalisation;
  if (normalise !== 'none' && normalise !== 'mean-abs') throw new UsageError(`--normalise takes none | mean-abs, got "${values.normalise}"`);
  let groupBy: { model: string; head?: string } | undefined;
  if (values['group-by']) {
    const [model, head] = values['group-by'].split(':');
    if (!model) throw new UsageError(`--group-by takes MODEL:HEAD, got "${values['group-by']}"`);
    groupBy = { model, ...(head ? { head } : {}) };
  }

  const setup = await setupExplain(values, { finished: ['compare.json'] });
  const progress = new Progress('compare', !values.quiet);
  const others: LibrarySetup[] = [];
  try {
    const size = setup.explainer.canonicalSize;
    const modelLabel = (s: LibrarySetup): string => (s.model.spec.heads.length > 1 ? `${s.model.spec.name}:${s.explainer.head.name}` : s.model.spec.name);
    const open = async (model: string, head: string | undefined): Promise<LibrarySetup> => {
      const { className: _c, head: _h, ...explain } = setup.options;
      void _c; void _h;
      const s = await createExplainSetup({
        model, explain: { ...explain, ...(head ? { head } : {}) }, ...(values.alignment ? { alignment: values.alignment } : {}),
        backend: setup.engine, ...(values.batch && values.batch !== 'auto' ? { batch: Number(values.batch) } : {}), ...(values.threads ? { threads: Number(values.threads) } : {}),
      });
      others.push(s);
      return s;
    };

    // The images and, for groups from a CSV, their groups.
    let files: string[];
    let csvGroups: Map<string, string> | undefined;
    let groupNames: [string, string] | undefined;
    if (values.groups) {
      const rows = await readGroups(values.groups, await groupsBase(values.groups, values.images));
      files = rows.map((r) => r.file);
      csvGroups = new Map(rows.map((r) => [r.file, r.group]));
      const names = [...new Set(rows.map((r) => r.group))];
      groupNames = [names[0]!, names[1]!];
    } else {
      files = await listImages(values.images!);
    }
    const estimate = compareMemoryBytes(design, files.length, design === 'paired' ? files.length : 0, size);
    if (estimate > maxMemory * 2 ** 20) {
      throw new CsmError(`keeping ${files.length} per-image maps of ${size}×${size} needs about ${Math.ceil(estimate / 2 ** 20)} MB, more than --max-memory ${maxMemory}: use a smaller --canonical-size, fewer images, or raise --max-memory`);
    }

    const setupB = values['model-b'] ? await open(values['model-b'], values['head-b']) : undefined;
    let grouper: LibrarySetup | undefined;
    if (groupBy) {
      const same = (groupBy.model === values.model || groupBy.model === setup.model.spec.name) && (!groupBy.head || groupBy.head === setup.explainer.head.name);
      grouper = same ? setup : await open(groupBy.model, groupBy.head);
      const labels = grouper.explainer.head.labels;
      if (grouper.explainer.head.confidence === 'value' || grouper.explainer.head.confidence === 'embedding' || !labels || labels.length !== 2) {
        throw new UsageError(`--group-by needs a two-class head; ${modelLabel(grouper)} has ${labels ? `${labels.length} classes` : `${grouper.explainer.head.confidence} outputs`}`);
      }
      groupNames = [labels[0]!, labels[1]!];
    }

    const A: Side = { label: design === 'paired' ? modelLabel(setup) : groupNames![0], set: emptySet(size) };
    const B: Side = { label: design === 'paired' ? modelLabel(setupB!) : groupNames![1], set: emptySet(size) };
    if (A.label === B.label) B.label = `${B.label} (B)`;
    const skipped: { file: string; cause: string }[] = [];
    const assignments: Record<string, string> = {};
    const predictions: Record<string, Record<string, number>> = {};
    const count = (side: string, label: string | undefined): void => { const p = (predictions[side] ??= {}); p[label ?? 'value'] = (p[label ?? 'value'] ?? 0) + 1; };
    const t0 = performance.now();
    for (const [k, file] of files.entries()) {
      try {
        const ra = await setup.explainer.cis(file);
        const covered = (c: Uint32Array): Uint8Array => Uint8Array.from(c, (v) => (v > 0 ? 1 : 0));
        ra.cis = { ...ra.cis, map: normaliseMap(ra.cis.map, covered(ra.cis.count), normalise) };
        if (design === 'paired') {
          const rb = await setupB!.explainer.cis(file);
          rb.cis = { ...rb.cis, map: normaliseMap(rb.cis.map, covered(rb.cis.count), normalise) };
          A.set.maps.push(ra.cis.map); A.set.covered.push(covered(ra.cis.count)); A.set.ids.push(file);
          B.set.maps.push(rb.cis.map); B.set.covered.push(covered(rb.cis.count)); B.set.ids.push(file);
          count(A.label, ra.prediction.label); count(B.label, rb.prediction.label);
        } else {
          let group: string;
          if (csvGroups) group = csvGroups.get(file)!;
          else {
            // The predicted class (arg max), not prediction.label: with --class that is the explained class.
            const prediction = grouper === setup ? ra.prediction : (await grouper!.explainer.predict(await grouper!.explainer.prepare(file))).prediction;
            const probs = prediction.probabilities!;
            group = groupNames![probs.indexOf(Math.max(...probs))]!;
          }
          const side = group === groupNames![0] ? A : B;
          side.set.maps.push(ra.cis.map); side.set.covered.push(covered(ra.cis.count)); side.set.ids.push(file);
          assignments[file] = group;
          count(A.label === group ? A.label : B.label, ra.prediction.label);
        }
      } catch (e) {
        if (!(e instanceof CsmError)) throw e;
        skipped.push({ file, cause: e.message });
        progress.note(`skipped ${printableName(file)}: ${e.message}`);
      }
      progress.update(k + 1, files.length, (performance.now() - t0) / 1000, skipped.length ? `${skipped.length} skipped` : '');
    }
    const explainSeconds = (performance.now() - t0) / 1000;
    if (A.set.maps.length < 2 || B.set.maps.length < 2) {
      throw new CsmError(`each side needs at least 2 explained images: ${A.label} has ${A.set.maps.length}, ${B.label} has ${B.set.maps.length}${skipped.length ? ` (${skipped.length} skipped)` : ''}`);
    }

    const grouping = design === 'paired' ? undefined : csvGroups ? { source: 'csv', file: values.groups, order: groupNames } : { source: 'prediction', model: modelLabel(grouper!), order: groupNames };
    const title = design === 'paired' ? `csm compare: ${A.label} vs ${B.label} on ${A.set.maps.length} images` : `csm compare: ${setup.model.spec.name} on ${A.label} (${A.set.maps.length}) vs ${B.label} (${B.set.maps.length})`;
    const out = setup.out;
    const written = await writeComparison(out, {
      design, A, B, statistics: { permutations, bootstrap, alpha, seed, correction, minImages }, normalise, space: setup.space, title, skipped, listed: files.length,
      record: {
        ...(design === 'paired' ? { sides: { A: { model: setup.params }, B: { model: setupB!.params } } } : {}),
        grouping,
        explainedClasses: predictions,
        ...(design === 'groups' ? { assignments } : {}),
        memory: { bytesEstimate: estimate, rule: '≈ 5 bytes × H_F² per kept map (float32 map + uint8 coverage), plus the per-image differences when paired' },
        seconds: { explain: explainSeconds },
        params: setup.params,
        run: runInfo(setup),
      },
    });
    if (written.warning) progress.note(`warning: ${written.warning}`);
    const { result, record, regionMarkdown: regionMd, significant, tested } = written;
    if (values.json) printJson({ out, design, counts: record['counts'], regions: result.regions });
    else {
      print(regionMd);
      print(`${title}: ${significant} of ${tested} pixels significant (${correction}, α = ${alpha}); ${skipped.length} skipped → ${join(out, 'index.html')}`);
    }
  } finally {
    for (const s of others) if (s !== setup) await s.dispose();
    await setup.dispose();
  }
  return EXIT.ok;
}
