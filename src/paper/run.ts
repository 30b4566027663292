/**
 * `csm paper`: the paper's analyses in one run, with csm's models (Fig. 1, Fig. 12–13, the
 * head-pose bins of Fig. 19 and the eye-region question of Section 5), over a folder of photos or,
 * by default, the npm sample photos of `csm demo`.
 *
 * Each model is explained once per image (computeCms, one folder per run); its per-image CIS maps
 * are kept (compare/, about 5 bytes × H_F² each) and reused by every analysis that needs them:
 *  - Fig. 1: the five tasks' CMS side by side (expression, gender, age in decades, identity with
 *    faceres, head pose with headpose), with per-region means and 95 % bootstrap intervals;
 *  - Fig. 12–13: the gender models compared pairwise on the same images (writeComparison);
 *  - head pose: the CMS of each predicted pose bin, and whether the nose leads the other regions;
 *  - the eye-region question: gender models' maps compared between faces predicted female and
 *    male (by faceres, the most accurate gender head here), and by a user's groups CSV.
 * Everything is written under `out`, with index.html linking it all and paper.json recording every
 * parameter.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CsmError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readNpyFile, writeNpy } from '../image/npy.js';
import { listImages } from '../saliency/cms-run.js';
import { classificationJob, pairsJob, selfReferenceJob, type CmsJob } from '../saliency/jobs.js';
import { readPairs } from '../saliency/identity.js';
import type { Sampling } from '../saliency/sampling.js';
import { computeCms } from '../saliency/outputs.js';
import { createExplainSetup, runInfo, type ExplainSetup } from '../saliency/setup.js';
import type { CmsProgress } from '../saliency/cms-run.js';
import { sampleFaces, samplePairs } from '../samples/faces.js';
import { mapOverlay, sharedRange, titledRow } from '../compare/figure.js';
import { normaliseMap, type CanonicalMapSet } from '../compare/maps.js';
import { COMPARE_DEFAULTS } from '../compare/stats.js';
import { writeComparison, type ComparisonStatistics } from '../compare/write.js';
import { groupsBase, readGroups } from '../compare/groups.js';
import { rgbaPng, withColorbar } from '../report/colorbar.js';
import { escapeHtml, markdownToHtml, writeHtmlIndex, type ReportSection } from '../report/html.js';
import { coverageMask, type CanonicalMapSpace } from '../report/maps.js';
import { regionMasks, type RegionName } from '../report/regions.js';
import { leadMarkdown, regionIntervalMarkdown, regionIntervals, regionLead, withInterval, type RegionInterval, type RegionLead } from './regions.js';
import { zooEntry } from '../models/zoo.js';

/** One model (and head) explained over the images. */
export interface PaperRun {
  key: string;
  model: string;
  head: string;
  title: string;
  /** Shown in Fig. 1 (the five tasks). */
  task?: string;
}

/** The explanation runs: Fig. 1's five tasks, then the other gender models for Fig. 12–13. */
export const PAPER_RUNS: readonly PaperRun[] = [
  { key: 'expression', model: 'emotion', head: 'expression', title: 'Expression (emotion, 7 classes)', task: 'expression' },
  { key: 'gender', model: 'gender', head: 'gender', title: 'Gender (oarriaga mini-Xception)', task: 'gender' },
  { key: 'age', model: 'faceres', head: 'age10', title: 'Age in decades (faceres age10)', task: 'age (decades)' },
  { key: 'identity', model: 'faceres', head: 'descriptor', title: 'Identity (faceres descriptor)', task: 'identity' },
  { key: 'pose', model: 'headpose', head: 'pose', title: 'Head pose (headpose, 9 bins)', task: 'head pose' },
  { key: 'gender-faceres', model: 'faceres', head: 'gender', title: 'Gender (faceres)' },
  { key: 'gender-gear', model: 'gear', head: 'gender', title: 'Gender (GEAR)' },
];

/** The gender runs compared pairwise (Fig. 12–13). */
const GENDER_RUNS = ['gender', 'gender-faceres', 'gender-gear'] as const;
/** The runs whose predicted gender groups the faces for the eye-region question, in order of preference (faceres is the most accurate). */
const GENDER_GROUPERS = ['gender-faceres', 'gender-gear', 'gender'] as const;

/** Canonical grid spacing of `csm paper` by default: see the CLI's help for its cost. */
export const PAPER_DEFAULT_STRIDE = 4;
/**
 * 64 stratified points per face on the dense stride-4 grid, each CIS reconstructed over the whole
 * grid (sampling.ts): about the cost of a stride-24 grid (~60 points), but smooth maps with no gaps
 * between patches; over ~55 faces the CMS keeps r ≈ 0.99 to the dense one (bench/results/sampling-celeba100.md:
 * 1/16 of the points gives CMS r 0.996 / 0.991 for emotion / gender over 99 faces).
 */
export const PAPER_DEFAULT_SAMPLING: Sampling = { kind: 'stratified', points: 64 };

/** ", 64 stratified points per face (CIS reconstructed)" and the like; nothing for the grid. */
function samplingText(sampling: Sampling | undefined): string {
  if (!sampling || sampling.kind === 'grid') return '';
  const share = 'keep' in sampling ? `1/${sampling.keep} of the points` : `${sampling.points} points`;
  return `, ${sampling.kind} sampling of ${share} per face (each CIS reconstructed over the whole grid)`;
}

export interface PaperOptions {
  out: string;
  /** A folder or list of photos; absent: the npm sample photos (as csm demo). */
  images?: string;
  /** "file,group" CSV for a second eye-region comparison (exactly two groups). */
  groups?: string;
  /** image1,image2,same CSV for identity by verification (Eq. 8); absent: sample pairs for the sample photos, else Eq. 7 against each photo itself. */
  pairs?: string;
  stride: number;
  /** Which grid points each face runs (default: every point). */
  sampling?: Sampling;
  canonicalSize: number;
  backend?: string;
  /** Occluded copies per forward pass; absent: measured per model (batch auto, 10–45 s each on a busy CPU). */
  batch?: number;
  statistics: ComparisonStatistics;
  /** Load a run's per-image maps kept by an earlier run in `out` (same items and parameters) instead of explaining again. */
  reuse?: boolean;
  /** The runs to explain (default PAPER_RUNS); tests give fewer. */
  runs?: readonly PaperRun[];
  onStage?: (stage: string) => void;
  onProgress?: (stage: string, p: CmsProgress) => void;
  onWarning?: (message: string) => void;
}

interface Explained {
  run: PaperRun;
  set: CanonicalMapSet;
  /** The CMS (the plain mean of the kept maps, Eq. 6) and where any image measured it. */
  cms: { map: Float32Array; mask: Uint8Array };
  /** The predicted class (arg max) of each explained image, by id. */
  predicted: Map<string, string>;
  setupParams: Record<string, unknown>;
  /** Engine, batch and versions of the run. */
  info: Record<string, unknown>;
  labels: string[];
  mode: Record<string, unknown>;
  space: CanonicalMapSpace;
  skipped: { file: string; cause: string }[];
  predictions: Record<string, number>;
  seconds: number;
  /** Loaded from an earlier run's kept maps (--reuse). */
  reused: boolean;
}

/** What `<run>/cis-maps.json` holds beside `<run>/cis-maps.npy` (float32 [images, H, H], NaN where unmeasured). */
interface KeptMaps {
  params: Record<string, unknown>;
  items: string[];
  ids: string[];
  predicted: [string, string][];
  mode: Record<string, unknown>;
  skipped: { file: string; cause: string }[];
  predictions: Record<string, number>;
  seconds: number;
}

export interface PaperResult {
  index: string;
  record: Record<string, unknown>;
}

/** The job of a run: identity by pairs or against itself, every other head over the images. */
async function jobOf(setup: ExplainSetup, run: PaperRun, items: string[], source: string, options: PaperOptions, out: string): Promise<CmsJob> {
  if (setup.explainer.head.confidence !== 'embedding') return classificationJob(setup.explainer, items, source);
  if (options.pairs) return pairsJob(setup.explainer, await readPairs(options.pairs), { source: options.pairs });
  if (!options.images) {
    const pairs = samplePairs(items);
    const file = join(out, run.key, 'pairs.csv');
    await mkdir(join(out, run.key), { recursive: true });
    await writeFileAtomic(file, `image1,image2,same\n${pairs.map((p) => `${p.a},${p.b},${p.same ? 1 : 0}`).join('\n')}\n`);
    return pairsJob(setup.explainer, pairs, { source: file });
  }
  return selfReferenceJob(setup.explainer, items, source);
}

async function explainRun(run: PaperRun, items: string[], source: string, options: PaperOptions, out: string): Promise<Explained> {
  const setup = await createExplainSetup({
    model: run.model, explain: { stride: options.stride, canonicalSize: options.canonicalSize, head: run.head, ...(options.sampling && options.sampling.kind !== 'grid' ? { sampling: options.sampling } : {}) }, ...(options.backend ? { backend: options.backend } : {}), ...(options.batch ? { batch: options.batch } : {}),
  });
  try {
    const dir = join(out, run.key);
    const common = { run, setupParams: setup.params, info: runInfo(setup), labels: setup.explainer.head.labels ?? [], space: setup.space };
    const size = setup.explainer.canonicalSize;
    if (options.reuse) {
      const kept = await loadKeptMaps(dir, setup.params, items, size);
      if (kept) return { ...common, ...kept, cms: meanMap(kept.set), reused: true };
    }
    const job = await jobOf(setup, run, items, source, options, out);
    const set: CanonicalMapSet = { size, maps: [], covered: [], ids: [] };
    const predicted = new Map<string, string>();
    const computed = await computeCms(setup, job, dir, {
      checkpointEvery: 0, task: run.title,
      ...(options.onProgress ? { onProgress: (p: CmsProgress) => options.onProgress!(run.key, p) } : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      onCis: (r, index) => {
        const id = job.items[index] ?? r.prepared.file;
        set.maps.push(r.cis.map);
        set.covered.push(Uint8Array.from(r.cis.count, (c) => (c > 0 ? 1 : 0)));
        set.ids.push(id);
        // The predicted class (arg max), whatever class φ explains.
        const probs = r.prediction.probabilities;
        if (probs && setup.explainer.head.labels) predicted.set(id, setup.explainer.head.labels[probs.indexOf(Math.max(...probs))]!);
      },
    });
    const explained = {
      set, predicted, mode: job.mode, skipped: computed.skipped, predictions: computed.predictions, seconds: computed.run.seconds,
    };
    await keepMaps(dir, explained, setup.params, items);
    return { ...common, ...explained, cms: { map: computed.map, mask: coverageMask(computed.run.acc.coverage) }, reused: false };
  } finally {
    await setup.dispose();
  }
}

type KeptRun = Pick<Explained, 'set' | 'predicted' | 'mode' | 'skipped' | 'predictions' | 'seconds'>;

/** Writes a run's per-image maps, so that --reuse can redo the analyses without explaining again. */
async function keepMaps(dir: string, e: KeptRun, params: Record<string, unknown>, items: string[]): Promise<void> {
  const { size, maps, covered } = e.set;
  const P = size * size;
  const data = new Float32Array(maps.length * P);
  maps.forEach((m, i) => { for (let p = 0; p < P; p++) data[i * P + p] = covered[i]![p] ? m[p]! : NaN; });
  const kept: KeptMaps = { params, items, ids: e.set.ids, predicted: [...e.predicted], mode: e.mode, skipped: e.skipped, predictions: e.predictions, seconds: e.seconds };
  await writeFileAtomic(join(dir, 'cis-maps.npy'), writeNpy({ dtype: 'float32', shape: [maps.length, size, size], data }));
  await writeFileAtomic(join(dir, 'cis-maps.json'), `${JSON.stringify(kept)}\n`);
}

/** The kept maps of an earlier run in `dir`, when it explained the same items with the same parameters. */
async function loadKeptMaps(dir: string, params: Record<string, unknown>, items: string[], size: number): Promise<KeptRun | undefined> {
  let kept: KeptMaps;
  try {
    kept = JSON.parse(await readFile(join(dir, 'cis-maps.json'), 'utf8')) as KeptMaps;
  } catch {
    return undefined;
  }
  if (JSON.stringify(kept.params) !== JSON.stringify(params) || JSON.stringify(kept.items) !== JSON.stringify(items)) return undefined;
  const array = await readNpyFile(join(dir, 'cis-maps.npy'));
  const P = size * size;
  if (array.shape.length !== 3 || array.shape[0] !== kept.ids.length || array.shape[1] !== size || array.shape[2] !== size) return undefined;
  const data = array.data as Float32Array;
  const set: CanonicalMapSet = { size, maps: [], covered: [], ids: kept.ids };
  for (let i = 0; i < kept.ids.length; i++) {
    const m = data.slice(i * P, (i + 1) * P);
    set.covered.push(Uint8Array.from(m, (v) => (Number.isNaN(v) ? 0 : 1)));
    set.maps.push(m.map((v) => (Number.isNaN(v) ? 0 : v)));
  }
  return { set, predicted: new Map(kept.predicted), mode: kept.mode, skipped: kept.skipped, predictions: kept.predictions, seconds: kept.seconds };
}

/** The images both sets explained, in A's order: the paired sets of a comparison. */
function pairedSets(a: CanonicalMapSet, b: CanonicalMapSet): [CanonicalMapSet, CanonicalMapSet] {
  const inB = new Map(b.ids.map((id, i) => [id, i]));
  const keep = a.ids.map((id, i) => [i, inB.get(id)] as const).filter((x): x is readonly [number, number] => x[1] !== undefined);
  const pick = (s: CanonicalMapSet, ix: number[]): CanonicalMapSet => ({ size: s.size, maps: ix.map((i) => s.maps[i]!), covered: ix.map((i) => s.covered[i]!), ids: ix.map((i) => s.ids[i]!) });
  return [pick(a, keep.map((k) => k[0])), pick(b, keep.map((k) => k[1]))];
}

/** Divides every map by its mean |value| over its measured pixels (models with different score scales, compared by where they look). */
function normalisedSet(s: CanonicalMapSet, normalise: (m: Float32Array, c: Uint8Array) => Float32Array): CanonicalMapSet {
  return { ...s, maps: s.maps.map((m, i) => normalise(m, s.covered[i]!)) };
}

/** The maps of `set` split by `groupOf` into the two named groups (images with another or no group left out). */
function splitSet(set: CanonicalMapSet, groupOf: (id: string) => string | undefined, names: [string, string]): [CanonicalMapSet, CanonicalMapSet] {
  const side = (name: string): CanonicalMapSet => {
    const ix = set.ids.map((id, i) => [id, i] as const).filter(([id]) => groupOf(id) === name).map(([, i]) => i);
    return { size: set.size, maps: ix.map((i) => set.maps[i]!), covered: ix.map((i) => set.covered[i]!), ids: ix.map((i) => set.ids[i]!) };
  };
  return [side(names[0]), side(names[1])];
}

/** The mean map of a set where any image measured the pixel (sum / images, as Eq. 6), and that mask. */
function meanMap(set: CanonicalMapSet): { map: Float32Array; mask: Uint8Array } {
  const P = set.size * set.size;
  const map = new Float32Array(P), mask = new Uint8Array(P);
  for (let i = 0; i < set.maps.length; i++) {
    const m = set.maps[i]!, c = set.covered[i]!;
    for (let p = 0; p < P; p++) { map[p]! += m[p]! / set.maps.length; if (c[p]) mask[p] = 1; }
  }
  return { map, mask };
}

/** The held-out accuracy of a verification job whose τ was fitted on a separate half of the pairs. */
function heldOutText(mode: Record<string, unknown>): string {
  const h = (mode['fitted'] as { heldOut?: { pairs: number; accuracy: number; baseline: number } } | null | undefined)?.heldOut;
  return h ? `; on the ${h.pairs} held-out pairs (the ones explained) τ verifies ${(100 * h.accuracy).toFixed(0)} % (all-impostor: ${(100 * h.baseline).toFixed(0)} %)` : '';
}

const link = (href: string, text: string): string => `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;

/** Runs every analysis and writes `options.out`; returns the index.html path and the paper.json record. */
export async function runPaper(options: PaperOptions): Promise<PaperResult> {
  const t0 = performance.now();
  const out = options.out;
  const stage = options.onStage ?? (() => {});
  await mkdir(out, { recursive: true });
  let items: string[];
  let source: string;
  if (options.images) {
    items = await listImages(options.images);
    source = options.images;
  } else {
    stage('finding faces in the sample photos');
    items = await sampleFaces();
    source = 'npm sample photos';
  }
  if (items.length < 2) throw new CsmError(`csm paper needs at least 2 images, got ${items.length} from ${source}`);
  const bootstrap = { resamples: options.statistics.bootstrap, seed: options.statistics.seed };

  // 1. Every model once per image.
  const runs = options.runs ?? PAPER_RUNS;
  const explained = new Map<string, Explained>();
  for (const run of runs) {
    stage(`${run.key}: ${run.model}:${run.head}`);
    explained.set(run.key, await explainRun(run, items, source, options, out));
  }
  const any = [...explained.values()][0]!;
  const space = any.space;
  if (!space.frame) throw new CsmError('csm paper needs csm\'s own alignment (its region model)');
  const masks = regionMasks(space.frame);
  const sections: ReportSection[] = [];
  const record: Record<string, unknown> = {
    command: 'paper', images: { source, listed: items.length }, stride: options.stride, sampling: options.sampling ?? { kind: 'grid' }, canonicalSize: options.canonicalSize, batch: options.batch ?? 'auto',
    statistics: { ...options.statistics, level: COMPARE_DEFAULTS.level, regionIntervals: `percentile bootstrap over images, ${bootstrap.resamples} resamples, seed ${bootstrap.seed}` },
    runs: Object.fromEntries([...explained.values()].map((e) => [e.run.key, {
      model: e.run.model, head: e.run.head, title: e.run.title, mode: e.mode, explained: e.set.maps.length, skipped: e.skipped,
      predictions: e.predictions, seconds: e.seconds, reused: e.reused, params: e.setupParams, run: e.info,
    }])),
  };

  // 2. Fig. 1: the five tasks side by side, each in its own colour range (their φ differ in units).
  const tasks = [...explained.values()].filter((e) => e.run.task);
  const taskRegions: Record<string, RegionInterval[]> = {};
  let taskLeads: Record<string, RegionLead> = {};
  if (tasks.length) {
    const panels = tasks.map((e) => {
      const { map, mask } = e.cms;
      const range = sharedRange([map], mask);
      return { title: `${e.run.task} (${e.run.model})`, image: withColorbar(mapOverlay(map, space, mask, 'jet', range), { colormap: 'jet', range }) };
    });
    await writeFileAtomic(join(out, 'fig1-tasks.png'), rgbaPng(titledRow(panels)));
    for (const e of tasks) taskRegions[e.run.key] = regionIntervals(e.set, masks, bootstrap);
    // Each task's most salient region, and by how much it leads the next (paired per image).
    taskLeads = {};
    for (const e of tasks) {
      const top = [...taskRegions[e.run.key]!].filter((r) => r.images > 0).sort((a, b) => b.mean - a.mean)[0];
      if (top) taskLeads[e.run.key] = regionLead(e.set, masks, top.region, bootstrap);
    }
    const identity = explained.get('identity');
    const verification = identity ? zooEntry(identity.run.model)?.verification : undefined;
    sections.push({
      heading: 'Fig. 1: the five tasks',
      text: `The CMS of each task over the same ${items.length} photos (${source}), each in its own colour range (φ differs in units between models). Red: hiding the region lowers the model's confidence in its prediction. The table gives each region's mean saliency (per image: the mean over the region's measured pixels) with a 95 % bootstrap interval over images.`
        + (identity ? `\n\nIdentity: ${String(identity.mode['kind'])}${identity.mode['tau'] !== undefined ? `, τ = ${Number(identity.mode['tau']).toFixed(3)} (${String(identity.mode['tauFrom'])})` : ''}${heldOutText(identity.mode)}.${verification ? ` faceres verifies ${(100 * verification.accuracy).toFixed(1)} % of held-out sample pairs (all-impostor baseline ${(100 * verification.baseline).toFixed(1)} %).` : ''}` : ''),
      images: [{ file: 'fig1-tasks.png', caption: 'CMS of expression, gender, age (decades), identity and head pose' }],
      tables: `${regionIntervalMarkdown(tasks.map((e) => ({ name: e.run.key, rows: taskRegions[e.run.key]! })))}\n\n${leadMarkdown(tasks.map((e) => ({ name: e.run.key, lead: taskLeads[e.run.key]! })))}`,
    });
    record['fig1'] = { figure: 'fig1-tasks.png', regions: taskRegions, topRegions: taskLeads };
  }

  // 3. Fig. 12–13: the gender models compared pairwise on the same images (maps normalised by their mean |value|).
  const comparisons: Record<string, unknown>[] = [];
  const compare = async (dir: string, input: Omit<Parameters<typeof writeComparison>[1], 'statistics' | 'space' | 'listed'> & { listed?: number }): Promise<void> => {
    stage(`compare: ${dir}`);
    const w = await writeComparison(join(out, dir), { ...input, statistics: options.statistics, space, listed: input.listed ?? items.length });
    if (w.warning) options.onWarning?.(`${dir}: ${w.warning}`);
    comparisons.push({ dir, title: input.title, design: input.design, A: input.A.label, B: input.B.label, images: [input.A.set.maps.length, input.B.set.maps.length], significantPixels: w.significant, testedPixels: w.tested, regions: w.result.regions });
  };
  const genders = GENDER_RUNS.map((k) => explained.get(k)).filter((e): e is Explained => e !== undefined);
  const genderLinks: string[] = [];
  for (let i = 0; i < genders.length; i++) {
    for (let j = i + 1; j < genders.length; j++) {
      const [ea, eb] = [genders[i]!, genders[j]!];
      const [a, b] = pairedSets(ea.set, eb.set);
      if (a.maps.length < 2) { options.onWarning?.(`${ea.run.key} vs ${eb.run.key}: fewer than 2 images explained by both`); continue; }
      const dir = `compare-${ea.run.key}-vs-${eb.run.key}`;
      await compare(dir, {
        design: 'paired', A: { label: ea.run.key, set: normalisedSet(a, (m, c) => normaliseMap(m, c, 'mean-abs')) }, B: { label: eb.run.key, set: normalisedSet(b, (m, c) => normaliseMap(m, c, 'mean-abs')) },
        normalise: 'mean-abs', title: `${ea.run.title} vs ${eb.run.title} on ${a.maps.length} images`, skipped: [],
        record: { sides: { A: { model: ea.setupParams }, B: { model: eb.setupParams } } },
      });
      genderLinks.push(dir);
    }
  }
  if (genderLinks.length) {
    sections.push({
      heading: 'Fig. 12–13: gender models compared',
      text: 'Each pair of gender models on the same images (paired design: per-image differences, sign-flip permutations, max-t FWER mask). Every CIS map is divided by its mean |value| first, so that models with different score scales are compared by where they look. Each figure: A | B | A − B with non-significant pixels grey.',
      images: genderLinks.map((d) => ({ file: `${d}/compare.png`, caption: d })),
      tables: `<ul>${genderLinks.map((d) => `<li>${link(`${d}/index.html`, `${d}: report, region table with intervals`)}</li>`).join('')}</ul>`,
    });
  }

  // 4. Head pose: the CMS of each predicted bin, and whether the nose leads.
  const pose = explained.get('pose');
  if (pose) {
    const bins = pose.labels.map((label) => {
      const [set] = splitSet(pose.set, (id) => pose.predicted.get(id), [label, '']);
      return { label, set };
    }).filter((b) => b.set.maps.length > 0);
    const means = bins.map((b) => meanMap(b.set));
    // One colour range, from the bins of 3 or more faces where there are any: a bin of one face is
    // a single noisy CIS and would flatten every other panel.
    const steady = means.filter((_, k) => bins[k]!.set.maps.length >= 3);
    const ranged = steady.length ? steady : means;
    const union = new Uint8Array(space.size * space.size);
    for (const m of ranged) for (let p = 0; p < union.length; p++) if (m.mask[p]) union[p] = 1;
    const range = sharedRange(ranged.map((m) => m.map), union);
    await writeFileAtomic(join(out, 'pose-bins.png'), rgbaPng(titledRow(bins.map((b, k) => ({
      title: `${b.label} (${b.set.maps.length})`, image: withColorbar(mapOverlay(means[k]!.map, space, means[k]!.mask, 'jet', range), { colormap: 'jet', range }),
    })))));
    const leads: (RegionLead & { bin: string; regions: RegionInterval[] })[] = bins.map((b) => ({ bin: b.label, ...regionLead(b.set, masks, 'nose', bootstrap), regions: regionIntervals(b.set, masks, bootstrap) }));
    const all = { bin: 'all', ...regionLead(pose.set, masks, 'nose', bootstrap), regions: taskRegions['pose'] ?? regionIntervals(pose.set, masks, bootstrap) };
    const table = ['| bin | images | nose: mean [95 % CI] | nose rank | runner-up | nose − runner-up [95 % CI] |', '|---|---:|---:|---:|---|---:|',
      ...[all, ...leads].map((l) => { const n = l.regions.find((r) => r.region === 'nose')!; return `| ${l.bin} | ${l.images} | ${withInterval(n.mean, n.low, n.high)} | ${l.rank} | ${l.runnerUp} | ${withInterval(l.lead, l.low, l.high)} |`; })].join('\n');
    sections.push({
      heading: 'Head pose per bin (Fig. 19): is the nose dominant?',
      text: `The headpose model's CMS over the faces it put in each of its 9 bins (images per bin in brackets; one colour range, set by the bins of 3 or more faces, so a bin of one or two faces may saturate). The paper reports that the nose dominates head-pose saliency. The table ranks the nose among the 7 regions and gives its lead over the best other region (paired per image): an interval above 0 means the nose leads. Bins with one image have no interval.`,
      images: [{ file: 'pose-bins.png', caption: 'CMS per predicted pose bin' }],
      tables: `${table}\n\n${regionIntervalMarkdown([all, ...leads].map((l) => ({ name: l.bin, rows: l.regions })))}`,
    });
    record['pose'] = { figure: 'pose-bins.png', bins: [all, ...leads] };
  }

  // 5. The eye-region question: gender models' maps, faces predicted female vs male.
  const grouper = GENDER_GROUPERS.map((k) => explained.get(k)).find((e) => e !== undefined);
  const eyeLinks: string[] = [];
  if (grouper && grouper.labels.length === 2) {
    const names: [string, string] = [grouper.labels[0]!, grouper.labels[1]!];
    for (const e of genders) {
      const [a, b] = splitSet(e.set, (id) => grouper.predicted.get(id), names);
      if (a.maps.length < 2 || b.maps.length < 2) { options.onWarning?.(`eye region, ${e.run.key}: each group needs 2 images (${names[0]} ${a.maps.length}, ${names[1]} ${b.maps.length})`); continue; }
      const dir = `eyes-${e.run.key}-by-predicted-gender`;
      await compare(dir, {
        design: 'groups', A: { label: names[0], set: a }, B: { label: names[1], set: b }, normalise: 'none', title: `${e.run.title}: faces ${grouper.run.key} predicts ${names[0]} (${a.maps.length}) vs ${names[1]} (${b.maps.length})`,
        skipped: [], record: { grouping: { source: 'prediction', model: `${grouper.run.model}:${grouper.run.head}`, order: names }, params: e.setupParams },
      });
      eyeLinks.push(dir);
    }
  }
  if (options.groups && explained.get('gender')) {
    const e = explained.get('gender')!;
    const rows = await readGroups(options.groups, await groupsBase(options.groups, options.images));
    const groupOf = new Map(rows.map((r) => [r.file, r.group]));
    const names = [...new Set(rows.map((r) => r.group))] as [string, string];
    // Ids are paths as listed (relative when --images is); the CSV's are absolute.
    const [a, b] = splitSet(e.set, (id) => groupOf.get(resolve(id)), names);
    if (a.maps.length < 2 || b.maps.length < 2) options.onWarning?.(`--groups ${options.groups}: each group needs 2 explained images (${names[0]} ${a.maps.length}, ${names[1]} ${b.maps.length})`);
    else {
      const dir = `eyes-${e.run.key}-by-groups-csv`;
      await compare(dir, {
        design: 'groups', A: { label: names[0], set: a }, B: { label: names[1], set: b }, normalise: 'none', title: `${e.run.title}: ${names[0]} (${a.maps.length}) vs ${names[1]} (${b.maps.length}) from ${options.groups}`,
        skipped: [], listed: rows.length, record: { grouping: { source: 'csv', file: options.groups, order: names }, params: e.setupParams },
      });
      eyeLinks.push(dir);
    }
  }
  if (eyeLinks.length) {
    const eyeRows = comparisons.filter((c) => eyeLinks.includes(c['dir'] as string)).map((c) => {
      const eyes = (c['regions'] as { region: RegionName; a: number; b: number; diff: number; low: number; high: number; p: number; pHolm: number }[] | undefined)?.find((r) => r.region === 'eyes');
      return eyes ? `| ${c['dir']} | ${c['A']} − ${c['B']} | ${withInterval(eyes.diff, eyes.low, eyes.high)} | ${eyes.p.toPrecision(2)} | ${eyes.pHolm.toPrecision(2)} |` : '';
    }).filter(Boolean);
    sections.push({
      heading: 'The eye-region question: do gender models look at the eyes more for women?',
      text: `Each gender model's CIS maps split by the gender ${grouper ? `${grouper.run.model}:${grouper.run.head}` : 'a model'} predicts (and by --groups when given): groups design (Welch t, label permutations, max-t FWER mask). The table gives the eye region's difference between the groups with its 95 % bootstrap interval and permutation p-value (raw and Holm-adjusted over the 7 regions).`,
      images: eyeLinks.map((d) => ({ file: `${d}/compare.png`, caption: d })),
      tables: `${markdownToHtml(['| comparison | difference | eyes: diff [95 % CI] | p | p (Holm) |', '|---|---|---:|---:|---:|', ...eyeRows].join('\n'))}\n<ul>${eyeLinks.map((d) => `<li>${link(`${d}/index.html`, `${d}: report`)}</li>`).join('')}</ul>`,
    });
  }
  record['comparisons'] = comparisons;

  sections.push({
    heading: 'Every run',
    text: 'Each model\'s own CMS report folder (cms.json records its parameters, predictions and skipped images).',
    images: [],
    tables: `<ul>${[...explained.values()].map((e) => `<li>${escapeHtml(e.run.title)}: ${link(`${e.run.key}/cms.json`, `${e.run.key}/cms.json`)}, ${e.set.maps.length} explained, ${e.skipped.length} skipped</li>`).join('')}</ul>`,
  });
  record['seconds'] = Math.round((performance.now() - t0) / 1000);
  await writeFileAtomic(join(out, 'paper.json'), `${JSON.stringify(record, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  const index = await writeHtmlIndex(out, {
    title: 'csm paper: the paper\'s analyses with csm\'s models',
    sections: [
      { heading: 'What this is', text: `The analyses of Canonical Saliency Maps (the paper's Fig. 1, Fig. 12–13, Fig. 19 and the eye-region question) with csm's models, over ${items.length} photos (${source}), stride ${options.stride}${samplingText(options.sampling)}, canonical size ${options.canonicalSize}. Numbers from the sample of faces carry 95 % bootstrap intervals over images. paper.json records every parameter.`, images: [] },
      ...sections,
    ],
    params: { images: source, stride: options.stride, sampling: options.sampling ?? { kind: 'grid' }, canonicalSize: options.canonicalSize, statistics: options.statistics, runs: runs.map((r) => `${r.key}: ${r.model}:${r.head}`) },
  });
  return { index, record };
}
