/**
 * Ablations of the paper's Section 5: how much the canonical alignment matters (Figs. 20–21:
 * none / 5-keypoint similarity / dense canonical), how the patch size changes the map (Fig. 18),
 * and how many images a CMS needs (Fig. 5).
 */
import { CsmError } from '../errors.js';
import { LANDMARK } from '../face/mesh.js';
import { applyAffine, invertAffine, warpAffine, type Affine } from '../image/index.js';
import { toModelInput } from '../models/preprocess.js';
import { evaluateScores, headScore } from '../saliency/score.js';
import { reprojectWithSupport } from './baselines/cms.js';
import { summarise, type EvaluationStatistics, type MethodScores, type PairedComparison } from './evaluate.js';
import { assignFolds, foldCms } from './folds.js';
import { equalSumHeatmaps, negativeExplanation } from './metrics.js';
import type { BootstrapOptions } from './stats.js';
import { CmsAccumulator } from '../saliency/cms.js';
import { computeCis } from '../saliency/loop.js';
import type { Explainer, PreparedImage } from '../saliency/explain.js';
import { buildPlan } from '../saliency/plan.js';
import type { OcclusionPlan, ScoreSpec } from '../saliency/types.js';
import { pearsonMasked, spearman } from './similarity.js';

/** The 5 keypoints of a similarity alignment, as pairs of mesh landmarks averaged. */
const FIVE_POINTS: number[][] = [[LANDMARK.rightEyeOuter, LANDMARK.rightEyeInner], [LANDMARK.leftEyeOuter, LANDMARK.leftEyeInner], [LANDMARK.noseTip], [LANDMARK.mouthRight], [LANDMARK.mouthLeft]];

/** Mean correlation over all pairs of maps, each pair over the pixels both cover. */
export function agreement(maps: { map: Float32Array; covered: Uint8Array }[]): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < maps.length; i++) for (let j = i + 1; j < maps.length; j++) {
    sum += pearsonMasked(maps[i]!.map, maps[j]!.map, (p) => maps[i]!.covered[p] === 1 && maps[j]!.covered[p] === 1);
    pairs++;
  }
  return pairs ? sum / pairs : 0;
}

/**
 * Least-squares similarity (scale, rotation, translation) taking points p to q, as complex
 * numbers: w = a·(z − p̄) + q̄ with a = Σ (q − q̄)·conj(p − p̄) / Σ |p − p̄|².
 */
export function fitSimilarity(p: [number, number][], q: [number, number][]): { a: [number, number]; pMean: [number, number]; qMean: [number, number] } {
  const mean = (pts: [number, number][]): [number, number] => [pts.reduce((s, v) => s + v[0], 0) / pts.length, pts.reduce((s, v) => s + v[1], 0) / pts.length];
  const pm = mean(p);
  const qm = mean(q);
  let re = 0, im = 0, norm = 0;
  p.forEach((pt, k) => {
    const [px, py] = [pt[0] - pm[0], pt[1] - pm[1]];
    const [qx, qy] = [q[k]![0] - qm[0], q[k]![1] - qm[1]];
    re += qx * px + qy * py;
    im += qy * px - qx * py;
    norm += px * px + py * py;
  });
  if (norm === 0) throw new CsmError('similarity alignment needs distinct keypoints');
  return { a: [re / norm, im / norm], pMean: pm, qMean: qm };
}

/** Warps an input-space map (W × W) into the canonical frame (size × size) by a similarity. */
function warpBySimilarity(map: Float32Array, W: number, size: number, s: ReturnType<typeof fitSimilarity>): { map: Float32Array; covered: Uint8Array } {
  const out = new Float32Array(size * size);
  const covered = new Uint8Array(size * size);
  const [ar, ai] = s.a;
  const d = ar * ar + ai * ai;
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    // z = (w − q̄) / a + p̄, with complex division.
    const wx = x + 0.5 - s.qMean[0];
    const wy = y + 0.5 - s.qMean[1];
    const zx = (wx * ar + wy * ai) / d + s.pMean[0] - 0.5;
    const zy = (wy * ar - wx * ai) / d + s.pMean[1] - 0.5;
    if (zx < 0 || zy < 0 || zx > W - 1 || zy > W - 1) continue;
    const x0 = Math.floor(zx), y0 = Math.floor(zy);
    const x1 = Math.min(x0 + 1, W - 1), y1 = Math.min(y0 + 1, W - 1);
    const fx = zx - x0, fy = zy - y0;
    out[y * size + x] = (map[y0 * W + x0]! * (1 - fx) + map[y0 * W + x1]! * fx) * (1 - fy) + (map[y1 * W + x0]! * (1 - fx) + map[y1 * W + x1]! * fx) * fy;
    covered[y * size + x] = 1;
  }
  return { map: out, covered };
}

export interface AlignmentAblation {
  /** Mean maps in each scheme's frame (none: the input image; the others: the canonical frame). */
  none: Float32Array; keypoint: Float32Array; canonical: Float32Array;
  /** Mean pairwise correlation of the per-image maps in each frame: alignment should raise it. */
  agreement: { none: number; keypoint: number; canonical: number };
  images: number;
  inputSize: number;
}

interface Prepared { p: PreparedImage; score: ScoreSpec }

async function prepareAll(explainer: Explainer, files: string[]): Promise<Prepared[]> {
  const out: Prepared[] = [];
  for (const f of files) {
    try {
      const p = await explainer.prepare(f);
      out.push({ p, score: (await explainer.predict(p)).score });
    } catch (e) {
      if (!(e instanceof CsmError)) throw e;
    }
  }
  if (!out.length) throw new CsmError('no image could be prepared for the ablation');
  return out;
}

/** Figs. 20–21: image-space occlusion maps averaged with no alignment, a 5-keypoint similarity, and canonical CIS maps. */
export async function alignmentAblation(explainer: Explainer, files: string[]): Promise<AlignmentAblation> {
  const frame = explainer.frame;
  if (!frame) throw new CsmError('the alignment ablation needs csm\'s own alignment (not --alignment)');
  const { input } = explainer.spec;
  if (input.width !== input.height) throw new CsmError('the alignment ablation needs a square model input');
  const W = input.width;
  const size = frame.size;
  const target = FIVE_POINTS.map((ids) => [ids.reduce((s, i) => s + frame.xy[2 * i]!, 0) / ids.length, ids.reduce((s, i) => s + frame.xy[2 * i + 1]!, 0) / ids.length] as [number, number]);
  const prepared = await prepareAll(explainer, files);
  const none: { map: Float32Array; covered: Uint8Array }[] = [];
  const keypoint: { map: Float32Array; covered: Uint8Array }[] = [];
  const canonical: { map: Float32Array; covered: Uint8Array }[] = [];
  for (const { p, score } of prepared) {
    const cmsPlan = explainer.plan(p);
    const stride = Math.max(1, Math.round(cmsPlan.patch / 2));
    const grid: number[] = [];
    for (let y = stride / 2; y < W; y += stride) for (let x = stride / 2; x < W; x += stride) grid.push(x, y);
    const xy = Float32Array.from(grid);
    const plan = buildPlan({ correspondence: { image: xy, canonical: xy, count: xy.length / 2, canonicalSize: W }, input, patch: cmsPlan.patch, fill: cmsPlan.fill, fillKind: cmsPlan.fillKind });
    const imageMap = (await computeCis(explainer.session, { input: p.tensor, plan, score })).map;
    none.push({ map: imageMap, covered: new Uint8Array(W * W).fill(1) });
    const mesh = p.meshXYZ!;
    const source = FIVE_POINTS.map((ids) => {
      const pts = ids.map((i) => applyAffine(p.toInput, mesh[3 * i]!, mesh[3 * i + 1]!));
      return [pts.reduce((s, v) => s + v[0], 0) / pts.length, pts.reduce((s, v) => s + v[1], 0) / pts.length] as [number, number];
    });
    keypoint.push(warpBySimilarity(imageMap, W, size, fitSimilarity(source, target)));
    const cis = await computeCis(explainer.session, { input: p.tensor, plan: cmsPlan, score });
    canonical.push({ map: cis.map, covered: Uint8Array.from(cis.count, (c) => (c > 0 ? 1 : 0)) });
  }
  const mean = (maps: { map: Float32Array; covered: Uint8Array }[], n: number): Float32Array => {
    const out = new Float32Array(n);
    for (const m of maps) for (let q = 0; q < n; q++) out[q]! += m.map[q]! / maps.length;
    return out;
  };
  return {
    none: mean(none, W * W), keypoint: mean(keypoint, size * size), canonical: mean(canonical, size * size),
    agreement: { none: agreement(none), keypoint: agreement(keypoint), canonical: agreement(canonical) },
    images: prepared.length, inputSize: W,
  };
}

export interface PatchAblation { patches: number[]; maps: Float32Array[]; spearmanToDefault: number[]; defaultPatch: number }

/** Fig. 18: the CMS for several patch sizes, each compared with the default patch's CMS. */
export async function patchAblation(explainer: Explainer, files: string[], patches: number[]): Promise<PatchAblation> {
  const prepared = await prepareAll(explainer, files);
  const defaultPatch = explainer.plan(prepared[0]!.p).patch;
  const all = [...new Set([defaultPatch, ...patches])].sort((a, b) => a - b);
  const maps: Float32Array[] = [];
  let mask = new Uint8Array(0);
  for (const patch of all) {
    const acc = new CmsAccumulator(explainer.canonicalSize);
    for (const { p, score } of prepared) {
      const base = explainer.plan(p);
      const plan = buildPlan({ correspondence: p.correspondence, input: explainer.spec.input, patch, fill: base.fill, fillKind: base.fillKind });
      acc.add(await computeCis(explainer.session, { input: p.tensor, plan, score }), p.file);
    }
    maps.push(acc.mean());
    if (patch === defaultPatch) mask = Uint8Array.from(acc.coverage, (c) => (c > 0 ? 1 : 0));
  }
  const ref = maps[all.indexOf(defaultPatch)]!;
  return { patches: all, maps, spearmanToDefault: maps.map((m) => spearman(ref, m, mask)), defaultPatch };
}

export interface ImagesAblation { counts: number[]; spearmanToAll: number[]; change: number[] }

/** Fig. 5: the CMS of the first n images against the CMS of all of them. */
export async function imagesAblation(explainer: Explainer, files: string[]): Promise<ImagesAblation> {
  const acc = new CmsAccumulator(explainer.canonicalSize);
  const partial = new Map<number, Float32Array>();
  const prepared = await prepareAll(explainer, files);
  const counts = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].filter((n) => n < prepared.length).concat(prepared.length);
  for (const [k, { p, score }] of prepared.entries()) {
    acc.add(await computeCis(explainer.session, { input: p.tensor, plan: explainer.plan(p), score }), p.file);
    if (counts.includes(k + 1)) partial.set(k + 1, acc.mean());
  }
  const all = acc.mean();
  const mask = Uint8Array.from(acc.coverage, (c) => (c > 0 ? 1 : 0));
  return { counts, spearmanToAll: counts.map((n) => spearman(all, partial.get(n)!, mask)), change: counts.map((n) => acc.convergence[n - 1]?.change ?? 0) };
}

/** The similarity w = a·(z − p̄) + q̄ as an affine map of the plane. */
export function similarityAffine(s: ReturnType<typeof fitSimilarity>): Affine {
  const [ar, ai] = s.a;
  const [px, py] = s.pMean;
  const [qx, qy] = s.qMean;
  return { a: ar, b: -ai, c: -ar * px + ai * py + qx, d: ai, e: ar, f: -ai * px - ar * py + qy };
}

export interface AlignmentFaithfulness {
  /** canonical: the out-of-fold CMS reprojected onto I; keypoint: the out-of-fold mean occlusion
   * map of keypoint-aligned images, on the image's own keypoint-aligned input; none: the
   * out-of-fold mean occlusion map in I's frame, unaligned. */
  variants: string[];
  scores: MethodScores[];
  paired: PairedComparison[];
  statistics: EvaluationStatistics;
  images: number;
  folds: number;
  /** Per image, φ(E)/φ(base) per variant (base: I, or the keypoint-aligned image for keypoint). */
  ratios: { file: string; ratios: number[] }[];
}

/**
 * Fig. 20 with the faithfulness metrics: for each image, three maps made without the image itself
 * (k folds by sorted path order, as csm eval):
 * - canonical: the CMS of the other folds reprojected onto I (dense alignment);
 * - keypoint: every photo is warped by the 5-keypoint similarity onto the canonical face's five
 *   points (scaled to the model input), the model is fed those keypoint-aligned images, their
 *   occlusion maps are averaged over the other folds, and the mean map darkens the image's own
 *   keypoint-aligned input;
 * - none: occlusion maps on I averaged over the other folds in I's frame, with no alignment.
 * Each variant's base image is the one the model sees in it (I, or the keypoint-aligned image),
 * so the metrics compare φ(E)/φ(base): Average Drop and % Increase as Eq. 11–12, Win % as the
 * largest relative drop (ties split); the maps of an image share Eq. 10's sum.
 */
export async function alignmentFaithfulness(explainer: Explainer, files: string[], options: { folds?: number; bootstrap?: BootstrapOptions } = {}): Promise<AlignmentFaithfulness> {
  const frame = explainer.frame;
  if (!frame) throw new CsmError('the alignment ablation needs csm\'s own alignment (not --alignment)');
  const { input } = explainer.spec;
  if (input.width !== input.height) throw new CsmError('the alignment ablation needs a square model input');
  const W = input.width;
  const toInput = W / frame.size;
  const target = FIVE_POINTS.map((ids) => [toInput * ids.reduce((s, i) => s + frame.xy[2 * i]!, 0) / ids.length, toInput * ids.reduce((s, i) => s + frame.xy[2 * i + 1]!, 0) / ids.length] as [number, number]);
  const prepared = await prepareAll(explainer, files);
  const grid = (patch: number): Float32Array => {
    const stride = Math.max(1, Math.round(patch / 2));
    const pts: number[] = [];
    for (let y = stride / 2; y < W; y += stride) for (let x = stride / 2; x < W; x += stride) pts.push(x, y);
    return Float32Array.from(pts);
  };
  interface Item { p: PreparedImage; score: ScoreSpec; plan: OcclusionPlan; aligned: { pixels: Float32Array; tensor: Float32Array }; none: Float32Array; keypoint: Float32Array; classIndex: number }
  const items = new Map<string, Item>();
  const fold = await foldCms(prepared.map((x) => x.p.file), async (file) => {
    const { p, score } = prepared.find((x) => x.p.file === file)!;
    const plan = explainer.plan(p);
    const xy = grid(plan.patch);
    const imagePlan = buildPlan({ correspondence: { image: xy, canonical: xy, count: xy.length / 2, canonicalSize: W }, input, patch: plan.patch, fill: plan.fill, fillKind: plan.fillKind });
    const none = (await computeCis(explainer.session, { input: p.tensor, plan: imagePlan, score })).map;
    const mesh = p.meshXYZ!;
    const source = FIVE_POINTS.map((ids) => [ids.reduce((s, i) => s + mesh[3 * i]!, 0) / ids.length, ids.reduce((s, i) => s + mesh[3 * i + 1]!, 0) / ids.length] as [number, number]);
    const toAligned = similarityAffine(fitSimilarity(source, target));
    const image = warpAffine(p.photo, invertAffine(toAligned), W, W);
    const tensor = toModelInput([image], input);
    const keypoint = (await computeCis(explainer.session, { input: tensor, plan: imagePlan, score })).map;
    const predicted = await explainer.predict(p);
    items.set(file, { p, score, plan, aligned: { pixels: image.data, tensor }, none, keypoint, classIndex: predicted.prediction.classIndex ?? 0 });
    return computeCis(explainer.session, { input: p.tensor, plan, score });
  }, explainer.canonicalSize, options.folds ?? 5);
  const assigned = assignFolds([...items.keys()], fold.folds);
  const outOfFold = (key: 'none' | 'keypoint', f: number): Float32Array => {
    const out = new Float32Array(W * W);
    let n = 0;
    for (const [file, it] of items) {
      if (assigned.get(file) === f) continue;
      for (let q = 0; q < out.length; q++) out[q]! += it[key][q]!;
      n++;
    }
    return out.map((v) => v / Math.max(1, n));
  };
  const means = Array.from({ length: fold.folds }, (_, f) => ({ none: outOfFold('none', f), keypoint: outOfFold('keypoint', f) }));
  const head = explainer.head;
  const ratios: { file: string; ratios: number[] }[] = [];
  for (const [file, it] of items) {
    const f = assigned.get(file)!;
    const [canonical, keypoint, none] = equalSumHeatmaps([reprojectWithSupport(fold.cmsFor(file), it.plan), means[f]!.keypoint, means[f]!.none]);
    const prob = headScore(head, it.classIndex, 'prob');
    const per = it.p.tensor.length;
    const batch = new Float32Array(5 * per);
    const explain = (pixels: Float32Array, h: Float32Array): Float32Array => toModelInput([{ width: W, height: W, data: negativeExplanation(pixels, h) }], input);
    batch.set(it.p.tensor, 0);
    batch.set(explain(it.p.image.data, canonical!), per);
    batch.set(it.aligned.tensor, 2 * per);
    batch.set(explain(it.aligned.pixels, keypoint!), 3 * per);
    batch.set(explain(it.p.image.data, none!), 4 * per);
    const phi = evaluateScores(prob, (await explainer.session.infer(batch, 5, [prob.output]))[prob.output]!, 5);
    ratios.push({ file, ratios: [phi[1]! / phi[0]!, phi[3]! / phi[2]!, phi[4]! / phi[0]!] });
  }
  const variants = ['canonical', 'keypoint', 'none'];
  const images = ratios.map((r) => ({ file: r.file, classIndex: 0, label: '', original: 1, explained: r.ratios }));
  return { variants, ...summarise(variants, images, { reference: 'canonical', ...(options.bootstrap ? { bootstrap: options.bootstrap } : {}) }), images: ratios.length, folds: fold.folds, ratios };
}
