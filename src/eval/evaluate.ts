/**
 * The faithfulness evaluation of Section 4.2 on any model of the zoo: for every image, each
 * method's heatmap over I, equal-sum normalisation across methods (Eq. 10), the negative
 * explanation image E = (1 − H) ⊙ I (Eq. 9), and the class probability of I and of each E; then
 * Average Drop %, % Increase and Win % per method.
 */
import { CsmError } from '../errors.js';
import { toModelInput } from '../models/preprocess.js';
import type { Explainer } from '../saliency/explain.js';
import { evaluateScores, headScore } from '../saliency/score.js';
import type { SaliencyMethod } from './baselines/base.js';
import { averageDrop, equalSumHeatmaps, increaseInConfidence, negativeExplanation, winPercent } from './metrics.js';

export interface ImageEvaluation {
  file: string;
  classIndex: number;
  label: string;
  /** φ(I): the predicted class's probability. */
  original: number;
  /** φ(E) per method, in `methods` order. */
  explained: number[];
}

export interface MethodScores { method: string; averageDrop: number; increase: number; win: number }

export interface Evaluation {
  methods: string[];
  images: ImageEvaluation[];
  skipped: { file: string; cause: string }[];
  scores: MethodScores[];
  /** The common heatmap sum used per image (Eq. 10's s): the smallest normalised sum, unless set. */
  sumFraction?: number;
}

export interface EvaluateOptions {
  sumFraction?: number;
  onImage?: (done: number, total: number) => void;
  /** Called with each image's equal-sum heatmaps (for figures). */
  onHeatmaps?: (file: string, heatmaps: Float32Array[]) => Promise<void> | void;
}

export async function evaluate(explainer: Explainer, methods: SaliencyMethod[], files: string[], options: EvaluateOptions = {}): Promise<Evaluation> {
  const head = explainer.head;
  if (!['softmax', 'logit', 'sigmoid'].includes(head.confidence)) throw new CsmError(`evaluation needs a classification head; "${head.name}" gives ${head.confidence} outputs`);
  const images: ImageEvaluation[] = [];
  const skipped: { file: string; cause: string }[] = [];
  const { input } = explainer.spec;
  for (const [n, file] of files.entries()) {
    try {
      const prepared = await explainer.prepare(file);
      const plan = explainer.plan(prepared);
      const { prediction, score: explainScore } = await explainer.predict(prepared);
      const classIndex = prediction.classIndex!;
      // The metrics compare probabilities (Average Drop divides by φ(I)).
      const score = headScore(head, classIndex, 'prob');
      const maps = [];
      for (const m of methods) maps.push(await m.heatmap({ file, image: prepared.image, tensor: prepared.tensor, classIndex, score, explainScore, plan }));
      const heatmaps = equalSumHeatmaps(maps, options.sumFraction);
      await options.onHeatmaps?.(file, heatmaps);
      const per = prepared.tensor.length;
      const batch = new Float32Array((methods.length + 1) * per);
      batch.set(prepared.tensor, 0);
      heatmaps.forEach((h, k) => {
        const pixels = negativeExplanation(prepared.image.data, h);
        batch.set(toModelInput([{ width: input.width, height: input.height, data: pixels }], input), (k + 1) * per);
      });
      const out = (await explainer.session.infer(batch, methods.length + 1, [score.output]))[score.output]!;
      const phi = Array.from(evaluateScores(score, out, methods.length + 1));
      if (!phi.every(Number.isFinite)) throw new CsmError(`"${file}": the model gives non-finite confidences`);
      images.push({ file, classIndex, label: prediction.label ?? String(classIndex), original: phi[0]!, explained: phi.slice(1) });
    } catch (e) {
      if (!(e instanceof CsmError)) throw e;
      skipped.push({ file, cause: e.message });
    }
    options.onImage?.(n + 1, files.length);
  }
  if (!images.length) throw new CsmError('no image could be evaluated');
  const original = images.map((i) => i.original);
  const byMethod = methods.map((_, k) => images.map((i) => i.explained[k]!));
  const wins = winPercent(byMethod);
  return {
    methods: methods.map((m) => m.name), images, skipped,
    scores: methods.map((m, k) => ({ method: m.name, averageDrop: averageDrop(original, byMethod[k]!), increase: increaseInConfidence(original, byMethod[k]!), win: wins[k]! })),
    ...(options.sumFraction !== undefined ? { sumFraction: options.sumFraction } : {}),
  };
}

export function evaluationMarkdown(e: Evaluation): string {
  const lines = [`| metric | ${e.methods.join(' | ')} |`, `|---|${e.methods.map(() => '---:').join('|')}|`];
  const row = (name: string, f: (s: MethodScores) => number, digits: number): string => `| ${name} | ${e.scores.map((s) => f(s).toFixed(digits)).join(' | ')} |`;
  lines.push(row('Average Drop % (higher is better)', (s) => s.averageDrop, 2), row('% Increase in confidence (lower is better)', (s) => s.increase, 1), row('Win % (higher is better)', (s) => s.win, 1));
  return lines.join('\n');
}
