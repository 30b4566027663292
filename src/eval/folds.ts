/**
 * Out-of-fold CMS for the evaluation: no image is explained by a CMS it contributed to. The images
 * are put in k folds by their sorted order (the i-th in sorted path order goes to fold i mod k),
 * every image's CIS is computed once, each fold's CIS maps are summed in one CmsAccumulator, and
 * the CMS used for an image of fold f is the exact mean of the other folds' accumulators merged.
 */
import { CsmError } from '../errors.js';
import { CmsAccumulator, type CmsInput } from '../saliency/cms.js';

export interface FoldCms {
  /** Number of folds actually used (min(k, images)). */
  folds: number;
  /** How images were assigned to folds, in words (recorded in eval.json). */
  assignment: string;
  /** The fold of each file that contributed a CIS. */
  foldOf: Map<string, number>;
  /** Per fold, the CMS of all the other folds. */
  cms: Float32Array[];
  /** The CMS of all images (for figures; not used to evaluate). */
  all: CmsAccumulator;
  /** Each image's own CIS map (the `cis` method). */
  cis: Map<string, Float32Array>;
  skipped: { file: string; cause: string }[];
  /** The CMS for a file: the mean over the folds it is not in. */
  cmsFor(file: string): Float32Array;
  cisFor(file: string): Float32Array;
}

/** Fold index of every file: sorted path order, i mod k. */
export function assignFolds(files: readonly string[], k: number): Map<string, number> {
  const sorted = [...new Set(files)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return new Map(sorted.map((f, i) => [f, i % k]));
}

/**
 * Computes every image's CIS once (through `cis`, which throws CsmError for an image it cannot
 * explain) and the k out-of-fold CMS maps.
 */
export async function foldCms(
  files: readonly string[], cis: (file: string) => Promise<CmsInput>, size: number, k = 5,
  onImage?: (done: number, total: number) => void,
): Promise<FoldCms> {
  if (!Number.isInteger(k) || k < 2) throw new CsmError(`k-fold CMS needs k ≥ 2 folds, got ${k}`);
  const unique = [...new Set(files)];
  const folds = Math.min(k, unique.length);
  if (folds < 2) throw new CsmError('an out-of-fold CMS needs at least 2 images (or give --cms)');
  const assigned = assignFolds(unique, folds);
  const accs = Array.from({ length: folds }, () => new CmsAccumulator(size));
  const maps = new Map<string, Float32Array>();
  const foldOf = new Map<string, number>();
  const skipped: { file: string; cause: string }[] = [];
  for (const [n, file] of unique.entries()) {
    try {
      const c = await cis(file);
      const f = assigned.get(file)!;
      accs[f]!.add(c, file);
      maps.set(file, c.map);
      foldOf.set(file, f);
    } catch (e) {
      if (!(e instanceof CsmError)) throw e;
      skipped.push({ file, cause: e.message });
    }
    onImage?.(n + 1, unique.length);
  }
  const cms = accs.map((_, f) => {
    const rest = new CmsAccumulator(size);
    accs.forEach((a, g) => { if (g !== f) rest.merge(a); });
    if (rest.images === 0) throw new CsmError(`fold ${f + 1} of ${folds}: the other folds hold no explained image`);
    return rest.mean();
  });
  const all = new CmsAccumulator(size);
  for (const a of accs) all.merge(a);
  return {
    folds, assignment: `sorted path order, i-th image in fold (i mod ${folds})`, foldOf, cms, all, cis: maps, skipped,
    cmsFor: (file) => {
      const f = foldOf.get(file);
      if (f === undefined) throw new CsmError(`"${file}" has no out-of-fold CMS (its CIS failed)`);
      return cms[f]!;
    },
    cisFor: (file) => {
      const m = maps.get(file);
      if (!m) throw new CsmError(`"${file}" has no CIS`);
      return m;
    },
  };
}
