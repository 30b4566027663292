/**
 * What a CMS run iterates over, and how each item is explained: images of a class or value head,
 * a gallery for zero-shot identity (Eq. 7), or verification pairs (Eq. 8). A job is what `runCms`
 * and `computeCms` take; its `mode` is recorded in the outputs.
 */
import { CsmError } from '../errors.js';
import type { SkippedImage } from './cms-run.js';
import type { CisResult, Explainer } from './explain.js';
import type { PreparedImage } from './prepare.js';
import { resolve } from 'node:path';
import { fitThreshold, pairId, readGallery, splitPairs, verificationAccuracy, type Pair } from './identity.js';
import { cosine } from './score.js';
import type { ShardInfo } from './shard.js';

export interface CmsJob {
  /** What the run goes through, in order: image paths (or "PHOTO#N"), or pair ids. */
  items: string[];
  /** Explains an item; `prepared` holds its photos when a front end (pipeline/) prepared them. */
  explain: (item: string, prepared?: PreparedImage[]) => Promise<CisResult>;
  /** The photos of an item for a front end to prepare (default: the item itself; a pair: both photos). */
  photos?: (item: string) => string[];
  /** How φ is defined and over what (recorded in the sidecar; its `kind` in the fingerprint). */
  mode: Record<string, unknown>;
  /** Items dropped before the run (an image or pair that could not be embedded). */
  skippedBefore: SkippedImage[];
  /** Set when the job keeps one static shard of its items (shard.ts, `--shard K/N`). */
  shard?: ShardInfo;
}

/** A class or value head over images; `source` (a folder, a list file…) is recorded. */
export function classificationJob(explainer: Explainer, items: string[], source: string): CmsJob {
  const head = explainer.head;
  if (head.confidence === 'embedding') throw new CsmError(`head "${head.name}" gives embeddings: explain it over a gallery (Eq. 7) or pairs (Eq. 8)`);
  return { items, explain: (f, p) => explainer.cis(p?.[0] ?? f), mode: { kind: 'classification', images: source }, skippedBefore: [] };
}

function embeddingHead(explainer: Explainer): void {
  const head = explainer.head;
  if (head.confidence !== 'embedding') throw new CsmError(`galleries and pairs explain identity heads; head "${head.name}" gives ${head.confidence} outputs`);
}

export interface GalleryOptions {
  /**
   * A separate reference set, REFS/<identity>/<image> (the paper's Eq. 7: the nearest reference
   * of the query's true identity). A query whose identity has no reference is skipped with that
   * cause; a reference that is the query's own file is never used.
   */
  references?: string;
  /** Instead of references: each gallery image against the other images of its identity. */
  leaveOneOut?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Zero-shot recognition (Eq. 7): every gallery image (DIR/<identity>/<image>) explained against
 * the embeddings of its identity in a separate reference set, or, with `leaveOneOut`, against the
 * other images of its identity in the gallery.
 */
export async function galleryJob(explainer: Explainer, dir: string, options: GalleryOptions): Promise<CmsJob> {
  embeddingHead(explainer);
  if ((options.references === undefined) === !options.leaveOneOut) throw new CsmError('zero-shot identity needs either a reference set (--references DIR) or leave-one-out within the gallery (--leave-one-out), not both');
  const gallery = await readGallery(dir);
  const refs = options.references !== undefined ? await readGallery(options.references) : gallery;
  const embeddings = new Map<string, Float32Array>();
  const failed: SkippedImage[] = [];
  let k = 0;
  for (const file of refs.files) {
    try {
      embeddings.set(file, await explainer.embed(await explainer.prepare(file)));
    } catch (e) {
      if (!(e instanceof CsmError)) throw e;
      failed.push({ file, cause: e.message });
    }
    options.onProgress?.(++k, refs.files.length);
  }
  const referencesOf = (file: string): Float32Array[] => (refs.identities.get(gallery.identityOf.get(file)!) ?? []).filter((f) => f !== resolve(file) && f !== file && embeddings.has(f)).map((f) => embeddings.get(f)!);
  const skippedBefore: SkippedImage[] = [];
  const items: string[] = [];
  for (const file of gallery.files) {
    const identity = gallery.identityOf.get(file)!;
    if (options.leaveOneOut && failed.some((f) => f.file === file)) skippedBefore.push(failed.find((f) => f.file === file)!);
    else if (referencesOf(file).length === 0) {
      skippedBefore.push({ file, cause: options.leaveOneOut ? `identity "${identity}" has no other gallery image that could be embedded` : `identity "${identity}" has no usable image in the reference set "${options.references}"` });
    } else items.push(file);
  }
  return {
    items, skippedBefore,
    mode: {
      kind: 'zero-shot (Eq. 7)', gallery: dir, identities: gallery.identities.size,
      references: options.leaveOneOut ? 'leave-one-out: the other gallery images of the identity' : options.references,
      ...(options.leaveOneOut ? {} : { referenceImages: embeddings.size, referencesSkipped: failed }),
    },
    explain: (file, p) => explainer.cisZeroShot(p?.[0] ?? file, referencesOf(file), gallery.identityOf.get(file)!),
  };
}

/**
 * Verification: τ given, or fitted on a separate half of the pairs (splitPairs: genuine and
 * impostor pairs alternate) and then only the held-out half is explained, so that τ never saw the
 * pairs it explains; the sidecar records the fitting pairs and the held-out accuracy. A pair that
 * cannot be embedded while fitting is skipped once, with its cause. `source` (the pairs file) is
 * recorded.
 */
export async function pairsJob(explainer: Explainer, pairs: Pair[], options: { source: string; tau?: number }): Promise<CmsJob> {
  embeddingHead(explainer);
  const skippedBefore: SkippedImage[] = [];
  let tau: number;
  let explained: Pair[] = pairs;
  let fitted: Record<string, unknown> | undefined;
  if (options.tau !== undefined) {
    tau = options.tau;
    if (!(tau >= -1 && tau <= 1)) throw new CsmError(`τ is a cosine similarity in [-1, 1], got ${tau}`);
  } else {
    const embed = new Map<string, Float32Array>();
    const similarity = async (p: Pair): Promise<number | undefined> => {
      try {
        for (const f of [p.a, p.b]) if (!embed.has(f)) embed.set(f, await explainer.embed(await explainer.prepare(f)));
        return cosine(embed.get(p.a)!, embed.get(p.b)!);
      } catch (e) {
        if (!(e instanceof CsmError)) throw e;
        skippedBefore.push({ file: pairId(p), cause: e.message });
        return undefined;
      }
    };
    const measure = async (ps: Pair[]): Promise<{ pairs: Pair[]; sims: number[] }> => {
      const out: { pairs: Pair[]; sims: number[] } = { pairs: [], sims: [] };
      for (const p of ps) { const s = await similarity(p); if (s !== undefined) { out.pairs.push(p); out.sims.push(s); } }
      return out;
    };
    const split = splitPairs(pairs);
    const fit = await measure(split.fit);
    const held = await measure(split.held);
    for (const kind of [true, false]) {
      if (!fit.pairs.some((p) => p.same === kind)) throw new CsmError(`"${options.source}": τ cannot be fitted: the fitting half (every other ${kind ? 'genuine' : 'impostor'} pair) has no ${kind ? 'genuine' : 'impostor'} pair that could be embedded; give --tau or more pairs`);
    }
    if (!held.pairs.length) throw new CsmError(`"${options.source}": no held-out pair to explain (τ is fitted on half of the pairs and the other half is explained); give --tau or more pairs`);
    const fit0 = fitThreshold(fit.sims, fit.pairs.map((p) => p.same));
    tau = fit0.tau;
    explained = held.pairs;
    fitted = {
      rule: 'τ fitted on every other genuine and every other impostor pair (the 1st, 3rd, … of each); the other half is held out and explained',
      pairs: fit.pairs.map(pairId), accuracy: fit0.accuracy,
      heldOut: {
        pairs: held.pairs.length, genuine: held.pairs.filter((p) => p.same).length,
        accuracy: verificationAccuracy(held.sims, held.pairs.map((p) => p.same), tau),
        baseline: held.pairs.filter((p) => !p.same).length / held.pairs.length,
      },
    };
  }
  const byId = new Map<string, Pair>(explained.map((p) => [pairId(p), p]));
  return {
    // A pair skipped while fitting is not listed again among the items (it would be counted twice).
    items: explained.map(pairId), skippedBefore, mode: { kind: 'verification (Eq. 8, sign fixed)', pairs: options.source, tau, tauFrom: fitted ? 'fitted on a separate half of the pairs' : 'given', fitted: fitted ?? null },
    explain: (id, prepared) => { const p = byId.get(id)!; return explainer.cisPair(prepared?.[0] ?? p.a, prepared?.[1] ?? p.b, p.same, tau); },
    photos: (id) => { const p = byId.get(id)!; return [p.a, p.b]; },
  };
}

/**
 * Identity without labels: Eq. 7 with each photo's own unoccluded embedding as its only reference,
 * so φ = cos(e(occluded photo), e(photo)) and a drop says how far hiding a region moves the identity
 * descriptor. For a folder of photos of unknown people (no gallery, no pairs); it is not the
 * paper's LFW setup (a separate gallery of known people), and the sidecar says so.
 */
export function selfReferenceJob(explainer: Explainer, items: string[], source: string): CmsJob {
  embeddingHead(explainer);
  return {
    items, skippedBefore: [],
    mode: { kind: 'zero-shot (Eq. 7), reference = the unoccluded photo itself', images: source, note: 'no identity labels: φ = cos(e(occluded), e(unoccluded)); not a separate reference set' },
    explain: async (file, p) => {
      const prepared = p?.[0] ?? await explainer.prepare(file);
      return explainer.cisZeroShot(prepared, [await explainer.embed(prepared)], 'itself');
    },
  };
}
