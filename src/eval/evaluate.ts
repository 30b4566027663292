/**
 * The faithfulness evaluation of Section 4.2 on any model of the zoo: for every image, each
 * method's heatmap over I, equal-sum normalisation across methods (Eq. 10), the negative
 * explanation image E = (1 − H) ⊙ I (Eq. 9), and the class probability of I and of each E; then
 * Average Drop %, % Increase and Win % per method.
 */
import { CsmError } from '../errors.js';
import { toModelInput } from '../models/preprocess.js';
import type { Explainer, Prediction } from '../saliency/explain.js';
import type { ScoreSpec } from '../saliency/types.js';
import { evaluateScores, headScore } from '../saliency/score.js';
import type { SaliencyMethod } from './baselines/base.js';
import { dropTerm, equalSumHeatmaps, increaseTerm, negativeExplanation, winShares } from './metrics.js';
import { BOOTSTRAP_DEFAULTS, bootstrapMeans, signTest, type BootstrapOptions, type Interval } from './stats.js';

export interface ImageEvaluation {
  file: string;
  classIndex: number;
  label: string;
  /** φ(I): the predicted class's probability. */
  original: number;
  /** φ(E) per method, in `methods` order. */
  explained: number[];
}

export interface MethodScores {
  method: string;
  averageDrop: number;
  increase: number;
  win: number;
  /** 95 % percentile-bootstrap intervals over images (see `statistics`). */
  intervals: { averageDrop: Interval; increase: Interval; win: Interval };
}

/** CMS (the reference) against one baseline, image by image. */
export interface PairedComparison {
  reference: string;
  baseline: string;
  /** Mean over images of the reference's Eq. 11 term minus the baseline's (points of Average Drop). */
  dropDifference: number;
  /** Its paired percentile-bootstrap interval. */
  interval: Interval;
  /** Images where the reference's E is less / more / equally confident than the baseline's. */
  wins: number; losses: number; ties: number;
  /** Exact two-sided sign test on wins against losses. */
  p: number;
}

export interface EvaluationStatistics {
  intervals: string;
  paired: string;
  resamples: number;
  seed: number;
  level: number;
}

export interface Evaluation {
  methods: string[];
  images: ImageEvaluation[];
  skipped: { file: string; cause: string }[];
  scores: MethodScores[];
  /** The reference method (CMS when evaluated) against each other method. */
  paired: PairedComparison[];
  statistics: EvaluationStatistics;
  /** The common heatmap sum used per image (Eq. 10's s): the smallest normalised sum, unless set. */
  sumFraction?: number;
}

export interface EvaluateOptions {
  sumFraction?: number;
  onImage?: (done: number, total: number) => void;
  /** Called with each image's equal-sum heatmaps (for figures). */
  onHeatmaps?: (file: string, heatmaps: Float32Array[]) => Promise<void> | void;
  /** Bootstrap settings (default: 2,000 resamples, seed 1, 95 %). */
  bootstrap?: BootstrapOptions;
  /** The method compared with every other one (default: "CMS" if evaluated, else the first). */
  reference?: string;
  /**
   * Hook for heads that are not classification heads: the φ the metrics compare for an image,
   * from its prediction (e.g. a binned-age or head-pose class of a model that gives them as a
   * value). It must be positive on I (Average Drop divides by it). Without it, the head must be a
   * classification head and φ is the predicted class's probability.
   */
  scoreFor?: (prediction: Prediction) => ScoreSpec;
}

/** What the evaluation needs of an explainer (an Explainer is one; tests pass hand-made ones). */
export type EvalSubject = Pick<Explainer, 'head' | 'spec' | 'session' | 'prepare' | 'plan' | 'predict'>;

/** The relative tolerance under which two confidences tie (as in winShares). */
function lower(a: number, b: number): -1 | 0 | 1 {
  const tie = 1e-6 * Math.max(1, Math.abs(Math.min(a, b)));
  return Math.abs(a - b) <= tie ? 0 : a < b ? -1 : 1;
}

/** What the evaluated items are, in the tables' and statistics' words. */
export interface EvalUnit { plural: string; singular: string }
export const IMAGE_UNIT: EvalUnit = { plural: 'images', singular: 'image' };
export const PAIR_UNIT: EvalUnit = { plural: 'pairs', singular: 'pair' };

/**
 * The metrics, their intervals and the paired comparisons from the per-image confidences: every
 * metric is a mean of per-image terms, and one set of bootstrap resamples gives all intervals.
 */
export function summarise(methods: string[], images: ImageEvaluation[], options: { bootstrap?: BootstrapOptions; reference?: string; unit?: EvalUnit } = {}): Pick<Evaluation, 'scores' | 'paired' | 'statistics'> {
  const unit = options.unit ?? IMAGE_UNIT;
  const M = methods.length;
  const drops = methods.map((_, m) => images.map((i) => dropTerm(i.original, i.explained[m]!)));
  const increases = methods.map((_, m) => images.map((i) => increaseTerm(i.original, i.explained[m]!)));
  const shares = images.map((i) => winShares(i.explained));
  const wins = methods.map((_, m) => shares.map((s) => s[m]!));
  const refName = options.reference ?? (methods.includes('CMS') ? 'CMS' : methods[0]!);
  const ref = methods.indexOf(refName);
  if (ref < 0) throw new CsmError(`reference method "${refName}" is not among ${methods.join(', ')}`);
  const others = methods.map((_, m) => m).filter((m) => m !== ref);
  const differences = others.map((m) => images.map((_, n) => drops[ref]![n]! - drops[m]![n]!));
  const bootstrap = { ...BOOTSTRAP_DEFAULTS, ...options.bootstrap };
  const intervals = bootstrapMeans([...drops, ...increases, ...wins, ...differences], bootstrap);
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  const scores = methods.map((method, m) => ({
    method, averageDrop: mean(drops[m]!), increase: mean(increases[m]!), win: mean(wins[m]!),
    intervals: { averageDrop: intervals[m]!, increase: intervals[M + m]!, win: intervals[2 * M + m]! },
  }));
  const paired = others.map((m, j) => {
    let w = 0, l = 0, t = 0;
    for (const i of images) {
      const c = lower(i.explained[ref]!, i.explained[m]!);
      if (c < 0) w++; else if (c > 0) l++; else t++;
    }
    return { reference: refName, baseline: methods[m]!, dropDifference: mean(differences[j]!), interval: intervals[3 * M + j]!, wins: w, losses: l, ties: t, p: signTest(w, l) };
  });
  return {
    scores, paired,
    statistics: {
      intervals: `percentile bootstrap over ${unit.plural}: ${bootstrap.resamples} resamples with replacement (mulberry32, seed ${bootstrap.seed}), ${100 * bootstrap.level} % interval from the type-7 quantiles of the resampled means`,
      paired: `per-${unit.singular} difference of the Average Drop terms (${refName} − baseline) with its paired percentile-bootstrap interval (same resamples); p: exact two-sided sign test on which explanation image is less confident (ties within 1e-6 relative left out)`,
      resamples: bootstrap.resamples, seed: bootstrap.seed, level: bootstrap.level,
    },
  };
}

/** One explained item: an image (or a pair's first image) with the scores its methods and metrics use. */
export interface EvalItem {
  /** The item's id: the image's path, or a pair's id (what per-item canonical maps are looked up by). */
  key: string;
  prepared: Awaited<ReturnType<EvalSubject['prepare']>>;
  plan: ReturnType<EvalSubject['plan']>;
  classIndex: number;
  label: string;
  /** φ as the metrics read it (a probability for classification heads). */
  score: ScoreSpec;
  /** Score-CAM's channel score (the class logit). */
  logitScore: ScoreSpec;
  /** φ as the explanation is configured, for gradients. */
  explainScore: ScoreSpec;
}

/**
 * Eq. 9–10 for one item: every method's heatmap over I, the equal-sum normalisation, and φ on I
 * and on each negative explanation image (one batch).
 */
export async function evaluateItem(explainer: EvalSubject, methods: SaliencyMethod[], item: EvalItem, options: Pick<EvaluateOptions, 'sumFraction' | 'onHeatmaps'> = {}): Promise<ImageEvaluation> {
  const { prepared, plan, score } = item;
  const { input } = explainer.spec;
  const maps = [];
  for (const m of methods) maps.push(await m.heatmap({ file: item.key, image: prepared.image, tensor: prepared.tensor, classIndex: item.classIndex, score, logitScore: item.logitScore, explainScore: item.explainScore, plan }));
  const heatmaps = equalSumHeatmaps(maps, options.sumFraction);
  await options.onHeatmaps?.(prepared.file, heatmaps);
  const per = prepared.tensor.length;
  const batch = new Float32Array((methods.length + 1) * per);
  batch.set(prepared.tensor, 0);
  heatmaps.forEach((h, k) => {
    const pixels = negativeExplanation(prepared.image.data, h);
    batch.set(toModelInput([{ width: input.width, height: input.height, data: pixels }], input), (k + 1) * per);
  });
  const out = (await explainer.session.infer(batch, methods.length + 1, [score.output]))[score.output]!;
  const phi = Array.from(evaluateScores(score, out, methods.length + 1));
  if (!phi.every(Number.isFinite)) throw new CsmError(`"${item.key}": the model gives non-finite confidences`);
  return { file: item.key, classIndex: item.classIndex, label: item.label, original: phi[0]!, explained: phi.slice(1) };
}

/** Runs `each` over the items, collecting the evaluations and the items skipped with a CsmError, then summarises. */
export async function evaluateAll<T>(methods: SaliencyMethod[], items: readonly T[], each: (item: T) => Promise<ImageEvaluation>, keyOf: (item: T) => string, options: Pick<EvaluateOptions, 'onImage' | 'bootstrap' | 'reference' | 'sumFraction'> & { unit?: EvalUnit } = {}): Promise<Evaluation> {
  const images: ImageEvaluation[] = [];
  const skipped: { file: string; cause: string }[] = [];
  for (const [n, item] of items.entries()) {
    try {
      images.push(await each(item));
    } catch (e) {
      if (!(e instanceof CsmError)) throw e;
      skipped.push({ file: keyOf(item), cause: e.message });
    }
    options.onImage?.(n + 1, items.length);
  }
  if (!images.length) throw new CsmError(`no image could be evaluated${skipped.length ? `:\n  ${skipped.slice(0, 5).map((s) => `${s.file}: ${s.cause}`).join('\n  ')}` : ''}`);
  const names = methods.map((m) => m.name);
  return {
    methods: names, images, skipped,
    ...summarise(names, images, { ...(options.bootstrap ? { bootstrap: options.bootstrap } : {}), ...(options.reference ? { reference: options.reference } : {}), ...(options.unit ? { unit: options.unit } : {}) }),
    ...(options.sumFraction !== undefined ? { sumFraction: options.sumFraction } : {}),
  };
}

export async function evaluate(explainer: EvalSubject, methods: SaliencyMethod[], files: string[], options: EvaluateOptions = {}): Promise<Evaluation> {
  const head = explainer.head;
  if (!options.scoreFor && !['softmax', 'logit', 'sigmoid'].includes(head.confidence)) {
    throw new CsmError(`evaluation needs a classification head (or EvaluateOptions.scoreFor); "${head.name}" gives ${head.confidence} outputs${head.confidence === 'embedding' ? ' (identity is evaluated on verification pairs: evaluatePairs, csm eval --pairs)' : ''}`);
  }
  return evaluateAll(methods, files, async (file) => {
    const prepared = await explainer.prepare(file);
    const plan = explainer.plan(prepared);
    const { prediction, score: explainScore } = await explainer.predict(prepared);
    const classIndex = prediction.classIndex ?? 0;
    // The metrics compare probabilities (Average Drop divides by φ(I)).
    const score = options.scoreFor ? options.scoreFor(prediction) : headScore(head, classIndex, 'prob');
    const logitScore = options.scoreFor ? score : headScore(head, classIndex, 'logit');
    return evaluateItem(explainer, methods, { key: file, prepared, plan, classIndex, label: prediction.label ?? String(classIndex), score, logitScore, explainScore }, options);
  }, (file) => file, options);
}

/** "value [low, high]". */
export function withInterval(value: number, interval: Interval, digits: number): string {
  return `${value.toFixed(digits)} [${interval.low.toFixed(digits)}, ${interval.high.toFixed(digits)}]`;
}

function formatP(p: number): string {
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

/**
 * The table with intervals and the paired comparisons; `unit` names what was evaluated (images,
 * pairs). `statisticsNote: false` leaves out the closing paragraph on how the intervals were made
 * (for tables that follow one that has it).
 */
export function evaluationMarkdown(e: Pick<Evaluation, 'methods' | 'scores' | 'paired' | 'statistics'> & { images: readonly unknown[] }, unit: EvalUnit = IMAGE_UNIT, options: { statisticsNote?: boolean } = {}): string {
  const n = e.images.length;
  const lines = [`| metric (${n} ${n === 1 ? unit.singular : unit.plural}; 95 % intervals) | ${e.methods.join(' | ')} |`, `|---|${e.methods.map(() => '---:').join('|')}|`];
  const row = (name: string, f: (s: MethodScores) => [number, Interval], digits: number): string => `| ${name} | ${e.scores.map((s) => withInterval(...f(s), digits)).join(' | ')} |`;
  lines.push(
    row('Average Drop % (higher is better)', (s) => [s.averageDrop, s.intervals.averageDrop], 2),
    row('% Increase in confidence (lower is better)', (s) => [s.increase, s.intervals.increase], 1),
    row('Win % (higher is better; ties split)', (s) => [s.win, s.intervals.win], 1),
  );
  if (e.paired.length) {
    lines.push('', `| ${e.paired[0]!.reference} against | Average Drop difference [95 %] | ${e.paired[0]!.reference} less / more / equally confident | sign test p |`, '|---|---:|---:|---:|');
    for (const c of e.paired) lines.push(`| ${c.baseline} | ${withInterval(c.dropDifference, c.interval, 2)} | ${c.wins} / ${c.losses} / ${c.ties} | ${formatP(c.p)} |`);
  }
  if (options.statisticsNote ?? true) lines.push('', `Intervals: ${e.statistics.intervals}. Paired: ${e.statistics.paired}.`);
  return lines.join('\n');
}
