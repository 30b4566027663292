/**
 * What a CMS run iterates over, and how each item is explained: images of a class or value head,
 * a gallery for zero-shot identity (Eq. 7), or verification pairs (Eq. 8). A job is what `runCms`
 * and `computeCms` take; its `mode` is recorded in the outputs.
 */
import { CsmError } from '../errors.js';
import type { SkippedImage } from './cms-run.js';
import type { CisResult, Explainer } from './explain.js';
import type { PreparedImage } from './prepare.js';
import { fitThreshold, pairId, readGallery, type Pair } from './identity.js';
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

/** Zero-shot: every gallery image with another image of its identity, against those images. */
export async function galleryJob(explainer: Explainer, dir: string, onProgress?: (done: number, total: number) => void): Promise<CmsJob> {
  embeddingHead(explainer);
  const gallery = await readGallery(dir);
  const embeddings = new Map<string, Float32Array>();
  const skippedBefore: SkippedImage[] = [];
  let k = 0;
  for (const file of gallery.files) {
    try {
      embeddings.set(file, await explainer.embed(await explainer.prepare(file)));
    } catch (e) {
      if (!(e instanceof CsmError)) throw e;
      skippedBefore.push({ file, cause: e.message });
    }
    onProgress?.(++k, gallery.files.length);
  }
  const refs = (file: string): Float32Array[] => gallery.identities.get(gallery.identityOf.get(file)!)!.filter((f) => f !== file && embeddings.has(f)).map((f) => embeddings.get(f)!);
  const items = gallery.files.filter((f) => embeddings.has(f));
  return {
    items, skippedBefore, mode: { kind: 'zero-shot (Eq. 7)', gallery: dir, identities: gallery.identities.size },
    explain: (file, p) => explainer.cisZeroShot(p?.[0] ?? file, refs(file), gallery.identityOf.get(file)!),
  };
}

/**
 * Verification: τ given, or fitted on the unoccluded pairs, then one CIS per pair. `source` (the
 * pairs file) is recorded.
 */
export async function pairsJob(explainer: Explainer, pairs: Pair[], options: { source: string; tau?: number }): Promise<CmsJob> {
  embeddingHead(explainer);
  const skippedBefore: SkippedImage[] = [];
  let tau: number;
  let fitted: { accuracy: number; pairs: number } | undefined;
  if (options.tau !== undefined) {
    tau = options.tau;
    if (!(tau >= -1 && tau <= 1)) throw new CsmError(`τ is a cosine similarity in [-1, 1], got ${tau}`);
  } else {
    const embed = new Map<string, Float32Array>();
    const sims: number[] = [];
    const same: boolean[] = [];
    for (const p of pairs) {
      try {
        for (const f of [p.a, p.b]) if (!embed.has(f)) embed.set(f, await explainer.embed(await explainer.prepare(f)));
        sims.push(cosine(embed.get(p.a)!, embed.get(p.b)!));
        same.push(p.same);
      } catch (e) {
        if (!(e instanceof CsmError)) throw e;
        skippedBefore.push({ file: pairId(p), cause: e.message });
      }
    }
    if (!sims.length) throw new CsmError(`no pair of "${options.source}" could be embedded`);
    const fit = fitThreshold(sims, same);
    tau = fit.tau;
    fitted = { accuracy: fit.accuracy, pairs: sims.length };
  }
  const byId = new Map<string, Pair>(pairs.map((p) => [pairId(p), p]));
  return {
    items: pairs.map(pairId), skippedBefore, mode: { kind: 'verification (Eq. 8, sign fixed)', pairs: options.source, tau, fitted: fitted ?? null },
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
