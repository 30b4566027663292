/**
 * The faithfulness evaluation of identity through the verification confidence (Eq. 8, sign fixed:
 * method.md): on a list of pairs, the explained image is the first of each pair and
 *   φ = max(0, c · (cos(e(I₁), e(I₂)) − τ)),  c = +1 if the model calls the pair genuine
 *   (cos ≥ τ on the untouched photos), else −1,
 * the confidence in the model's own decision, as the classification evaluation explains the
 * predicted class. Darkening the first image (E = (1 − H) ⊙ I₁, the second left as it is) should
 * lower it; once the decision flips the confidence is 0 (so an Average Drop term stays ≤ 100 and
 * a pair near τ cannot dominate the mean). The CMS of identity is the verification CMS over the
 * pairs (the same canonical point occluded in both photos, as the paper does), out of fold like
 * the classes' (folds by the pairs' ids in sorted order).
 */
import { CsmError } from '../errors.js';
import type { Explainer, PreparedImage } from '../saliency/explain.js';
import { fitThreshold, pairId, type Pair } from '../saliency/identity.js';
import { cosine } from '../saliency/score.js';
import type { ScoreSpec } from '../saliency/types.js';
import type { SaliencyMethod } from './baselines/base.js';
import { evaluateAll, evaluateItem, evaluationMarkdown, PAIR_UNIT, summarise, type EvalSubject, type Evaluation, type EvaluateOptions } from './evaluate.js';
import { foldCms, type FoldCms } from './folds.js';

/** A pair with both photos prepared and embedded once, and the model's decision on it. */
export interface PreparedPair {
  /** pairId(pair): the key of the pair's CIS and out-of-fold CMS. */
  key: string;
  pair: Pair;
  a: PreparedImage;
  b: PreparedImage;
  /** Embedding of the second photo (the fixed reference of φ). */
  reference: Float32Array;
  /** cos(e(I₁), e(I₂)) on the untouched photos. */
  cos: number;
}

/** Where τ came from. */
export interface Threshold {
  tau: number;
  source: 'given' | 'fitted on the pairs' | 'the zoo model\'s verification record';
  /** Accuracy of τ on the pairs when fitted. */
  accuracy?: number;
}

/** Prepares and embeds both photos of every pair (each photo once); a pair that fails is skipped with its cause. */
export async function preparePairs(explainer: Pick<Explainer, 'prepare' | 'embed'>, pairs: readonly Pair[]): Promise<{ pairs: PreparedPair[]; skipped: { file: string; cause: string }[] }> {
  const prepared = new Map<string, { image: PreparedImage; embedding: Float32Array } | CsmError>();
  const get = async (file: string): Promise<{ image: PreparedImage; embedding: Float32Array }> => {
    let p = prepared.get(file);
    if (!p) {
      try {
        const image = await explainer.prepare(file);
        p = { image, embedding: await explainer.embed(image) };
      } catch (e) {
        if (!(e instanceof CsmError)) throw e;
        p = e;
      }
      prepared.set(file, p);
    }
    if (p instanceof CsmError) throw p;
    return p;
  };
  const out: PreparedPair[] = [];
  const skipped: { file: string; cause: string }[] = [];
  for (const pair of pairs) {
    try {
      const [a, b] = [await get(pair.a), await get(pair.b)];
      out.push({ key: pairId(pair), pair, a: a.image, b: b.image, reference: b.embedding, cos: cosine(a.embedding, b.embedding) });
    } catch (e) {
      if (!(e instanceof CsmError)) throw e;
      skipped.push({ file: pairId(pair), cause: e.message });
    }
  }
  return { pairs: out, skipped };
}

/**
 * τ: as given; else fitted on the pairs (fitThreshold) when they hold both genuine and impostor
 * pairs; else the zoo model's verification τ (a list of one kind, e.g. impostor neighbours, cannot
 * fit one: every τ above the largest similarity would be "perfect").
 */
export function resolveThreshold(pairs: readonly PreparedPair[], given?: number, zooTau?: number): Threshold {
  if (given !== undefined) {
    if (!(given >= -1 && given <= 1)) throw new CsmError(`τ is a cosine similarity in [-1, 1], got ${given}`);
    return { tau: given, source: 'given' };
  }
  const same = pairs.map((p) => p.pair.same);
  if (same.includes(true) && same.includes(false)) {
    const fit = fitThreshold(pairs.map((p) => p.cos), same);
    return { tau: fit.tau, source: 'fitted on the pairs', accuracy: fit.accuracy };
  }
  if (zooTau !== undefined) return { tau: zooTau, source: 'the zoo model\'s verification record' };
  throw new CsmError(`the pairs are all ${same[0] ? 'genuine' : 'impostor'}, so τ cannot be fitted on them: give --tau`);
}

/** The model's decision on a pair: c = +1 (genuine) when cos ≥ τ. */
export const decision = (p: PreparedPair, tau: number): 1 | -1 => (p.cos >= tau ? 1 : -1);

/** φ of Eq. 8 for the pair's first image against its second one's embedding, for the model's decision. */
export function pairScore(p: PreparedPair, output: string, tau: number): ScoreSpec {
  return { output, kind: 'cosine-max', index: 0, references: [p.reference], pair: { c: decision(p, tau), tau } };
}

/** The out-of-fold verification CMS: each pair's CIS (explainer.cisPair, for the model's decision). */
export function pairFoldCms(explainer: Pick<Explainer, 'cisPair' | 'canonicalSize'>, pairs: readonly PreparedPair[], tau: number, k: number, onPair?: (done: number, total: number) => void): Promise<FoldCms> {
  const byKey = new Map(pairs.map((p) => [p.key, p]));
  return foldCms(pairs.map((p) => p.key), async (key) => {
    const p = byKey.get(key)!;
    return (await explainer.cisPair(p.a, p.b, decision(p, tau) === 1, tau)).cis;
  }, explainer.canonicalSize, k, onPair);
}

/** What φ is, in words (recorded in eval.json and the report). */
export const VERIFICATION_PHI = 'φ = max(0, c·(cos(e(I₁), e(I₂)) − τ)) (Eq. 8, sign fixed), c = +1 if the model calls the untouched pair genuine (cos ≥ τ), else −1: the confidence in its decision, 0 once it flips; the explained image is the pair\'s first, the second is left untouched';

/**
 * Every pair's first image explained by each method, with φ the verification confidence of the
 * pair; pairs whose similarity lies exactly on τ (no decision) are skipped.
 */
/** The metrics of the pairs of one decision (genuine or impostor), with their own intervals. */
export interface DecisionSummary extends Pick<Evaluation, 'methods' | 'scores' | 'paired' | 'statistics'> {
  decision: 'genuine' | 'impostor';
  images: Evaluation['images'];
}

/**
 * The evaluation split by the model's decision on each pair, when the pairs hold both. φ means
 * different things on the two sides (how similar the model finds a genuine pair, how dissimilar an
 * impostor pair), so a method can do well on one and badly on the other; the pooled table hides
 * that. Same bootstrap settings as the pooled table, resampled within each side.
 */
export function byDecision(e: Pick<Evaluation, 'methods' | 'images' | 'statistics' | 'paired'>): DecisionSummary[] {
  const sides = (['genuine', 'impostor'] as const).map((decision) => ({ decision, images: e.images.filter((i) => i.label === decision) }));
  if (sides.some((s) => !s.images.length)) return [];
  const bootstrap = { resamples: e.statistics.resamples, seed: e.statistics.seed, level: e.statistics.level };
  return sides.map((s) => ({ ...s, methods: e.methods, ...summarise(e.methods, s.images, { bootstrap, unit: PAIR_UNIT, ...(e.paired[0] ? { reference: e.paired[0].reference } : {}) }) }));
}

/** The per-decision tables, each after a plain line (the HTML report shows it as it is) that says what φ is on that side. */
export function decisionMarkdown(sides: readonly DecisionSummary[]): string {
  const what = { genuine: 'φ = cos − τ: how similar the model finds the pair', impostor: 'φ = τ − cos: how dissimilar the model finds the pair' };
  return sides.map((s) => `${s.decision === 'genuine' ? 'Genuine' : 'Impostor'} pairs only (the model's decision on the untouched pair; ${what[s.decision]}):\n\n${evaluationMarkdown(s, PAIR_UNIT, { statisticsNote: false })}`).join('\n\n');
}

export async function evaluatePairs(explainer: EvalSubject, methods: SaliencyMethod[], pairs: readonly PreparedPair[], tau: number, options: Omit<EvaluateOptions, 'scoreFor'> = {}): Promise<Evaluation & { phi: string; byDecision: DecisionSummary[] }> {
  if (explainer.head.confidence !== 'embedding') throw new CsmError(`verification pairs need an identity head (embeddings); "${explainer.head.name}" gives ${explainer.head.confidence} outputs`);
  const result = await evaluateAll(methods, pairs, async (p) => {
    if (p.cos === tau) throw new CsmError(`cos = τ = ${tau}: the model makes no decision on this pair`);
    const score = pairScore(p, explainer.head.output, tau);
    const c = decision(p, tau);
    const e = await evaluateItem(explainer, methods, {
      key: p.key, prepared: p.a, plan: explainer.plan(p.a), classIndex: c === 1 ? 1 : 0, label: c === 1 ? 'genuine' : 'impostor',
      score, logitScore: score, explainScore: score,
    }, options);
    return { ...e, original: Math.max(0, e.original), explained: e.explained.map((v) => Math.max(0, v)) };
  }, (p) => p.key, { ...options, unit: PAIR_UNIT });
  return { ...result, phi: VERIFICATION_PHI, byDecision: byDecision(result) };
}
