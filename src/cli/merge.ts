/** `csm merge`: sums CMS accumulators of shards (run on other machines or folders) exactly. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { comparableFingerprint, coverageMask, CsmError, fingerprintDiff, loadAccumulator, versions, writeCanonicalMap, type CmsAccumulator, type ShardInfo, type WrittenMap } from '../index.js';
import { openOutput } from './out.js';
import { EXIT, UsageError, print } from './output.js';
import { spaceFromParams } from './space.js';

export const MERGE_HELP = `Usage: csm merge SHARD [SHARD…] --out DIR

Merges the CMS accumulators of several runs of the same model and parameters over disjoint image
sets (each SHARD is a "csm cms" output folder, or its checkpoint folder) into one CMS, exactly:
the result has the same bytes as one run over all the images. Shards made with different models
or parameters, or sharing an image, are refused (the message names the options that differ).
Writes the same files as "csm cms"; a DIR holding a finished run is refused without --force.

Shards of a split (csm cms --shard K/N) are checked: all of the same N and data set, each index
once, and every index from 0 to N−1 present; a missing one is refused unless --allow-missing
(then it is warned about and recorded). cms.json lists every shard merged.

Options:
  --allow-missing         merge the shards of a split even when some of the N are not given`;

export async function mergeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' }, force: { type: 'boolean' }, 'allow-missing': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { print(MERGE_HELP); return EXIT.ok; }
  if (positionals.length < 1) throw new UsageError('merge needs at least one SHARD folder');
  if (!values.out) throw new UsageError('merge needs --out DIR');
  const out = values.out;
  const lock = await openOutput(out, { finished: ['cms.json'], force: values.force ?? false });
  try {
    // Every shard is loaded and checked (parameters, split) before anything is merged.
    const loaded: { shard: string; acc: CmsAccumulator; params: Record<string, unknown>; split: ShardInfo | undefined }[] = [];
    for (const shard of positionals) {
      const dir = existsSync(join(shard, 'checkpoint', 'cms-state.json')) ? join(shard, 'checkpoint') : shard;
      const { acc, extra } = await loadAccumulator(dir);
      const fp = extra['fingerprint'];
      if (typeof fp !== 'object' || fp === null || Array.isArray(fp)) throw new CsmError(`shard "${shard}" records no fingerprint of its model and parameters (not a csm cms checkpoint?)`);
      const { shard: split, ...params } = fp as Record<string, unknown> & { shard?: ShardInfo };
      if (loaded.length) {
        const diff = fingerprintDiff(comparableFingerprint(loaded[0]!.params), comparableFingerprint(params), { names: [`"${positionals[0]}"`, `"${shard}"`] });
        if (diff.length) throw new CsmError(`shard "${shard}" was made with a different model or parameters than "${positionals[0]}": ${diff.join('; ')}`);
      }
      loaded.push({ shard, acc, params, split });
    }
    const shards = checkSplit(loaded, values['allow-missing'] ?? false);
    let merged: CmsAccumulator | undefined;
    for (const { acc } of loaded) merged = merged ? merged.merge(acc) : acc;
    if (merged!.images === 0) throw new CsmError(`no image was explained in any of the ${positionals.length} shards (all empty)`);
    // One run lists its images in list order; where that order was sorted (a folder), so is the merge's.
    const sorted = loaded.every((l) => l.split?.sorted);
    const written = await writeMergedCms(out, merged!, loaded[0]!.params, { sorted, sidecar: { merged: positionals, ...(shards ? { shards } : {}) } });
    print(`merged ${positionals.length} shards, ${merged!.images} images → ${written.files.find((f) => f.endsWith('-overlay.png'))}`);
  } finally {
    await lock.release();
  }
  return EXIT.ok;
}

/** What a merged CMS's cms.json records beyond the map: placed before and after the parameters. */
export interface MergedRecord {
  /** Whether the images were listed sorted (a folder): the sidecar's image list is then sorted, as csm cms lists it. */
  sorted: boolean;
  /** Fields after "kind" (what was merged). */
  sidecar: Record<string, unknown>;
  /** The mode beyond its kind (e.g. the images' source). */
  mode?: Record<string, unknown>;
  /** Counts beyond "explained". */
  counts?: Record<string, unknown>;
  /** Fields after the estimator (e.g. skipped files). */
  extra?: Record<string, unknown>;
}

/**
 * Writes a merged accumulator as csm cms writes a run (cms.npy, the figures, cms-regions.md,
 * cms.json): the map is sum / images, or sum / coverage under stratified sampling, on the canonical
 * space the fingerprint's parameters describe. Shared by csm merge and csm queue collect.
 */
export async function writeMergedCms(out: string, merged: CmsAccumulator, fingerprint: Record<string, unknown>, record: MergedRecord): Promise<WrittenMap> {
  const images = record.sorted ? [...merged.ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : merged.ids;
  const { mode, ...params } = fingerprint as Record<string, unknown> & { canonicalSize?: number };
  const space = await spaceFromParams(params, merged.size);
  // Shards of the first stratified runs (params.sampling.cms, before sampled CIS maps were
  // reconstructed over the dense plan) wrote sum / coverage; every other run writes sum / images.
  const stratified = /^sum \/ coverage/.test(String((params['sampling'] as { cms?: unknown } | undefined)?.cms ?? ''));
  return writeCanonicalMap(out, 'cms', stratified ? merged.meanCovered() : merged.mean(), { ...space, mask: coverageMask(merged.coverage) }, {
    kind: 'CMS', ...record.sidecar, mode: { kind: mode, ...record.mode }, params, run: { versions: versions() },
    counts: { explained: merged.images, ...record.counts }, estimator: stratified ? 'sum / coverage (stratified sampling)' : 'sum / images (Eq. 6)', ...record.extra, images,
  });
}

interface LoadedShard { shard: string; split: ShardInfo | undefined }

/**
 * Checks the shards of a split (--shard K/N): all made with --shard or none; one N and one data set;
 * each index once; every index present (else refused, or warned about with allowMissing). Returns
 * what cms.json records of them, undefined for runs made without --shard.
 */
function checkSplit(loaded: LoadedShard[], allowMissing: boolean): Record<string, unknown> | undefined {
  const split = loaded.filter((l) => l.split);
  if (!split.length) return undefined;
  if (split.length !== loaded.length) {
    const plain = loaded.find((l) => !l.split)!;
    throw new CsmError(`"${plain.shard}" was made without --shard and "${split[0]!.shard}" with --shard ${split[0]!.split!.index}/${split[0]!.split!.count}: merge the N shards of one split`);
  }
  const first = split[0]!;
  const { count, setSha256, by } = first.split!;
  const seen = new Map<number, string>();
  for (const l of split) {
    const s = l.split!;
    if (s.count !== count) throw new CsmError(`"${l.shard}" is shard ${s.index}/${s.count} but "${first.shard}" is shard ${first.split!.index}/${count}: the shards come from different splits`);
    if (s.setSha256 !== setSha256 || s.by !== by) throw new CsmError(`"${l.shard}" and "${first.shard}" are shards of different data sets (their full item lists differ): merge the shards of one split`);
    const twice = seen.get(s.index);
    if (twice !== undefined) throw new CsmError(`shard ${s.index}/${count} is given twice ("${twice}" and "${l.shard}")`);
    seen.set(s.index, l.shard);
  }
  const missing = Array.from({ length: count }, (_, k) => k).filter((k) => !seen.has(k));
  if (missing.length) {
    const list = missing.map((k) => `${k}/${count}`).join(', ');
    if (!allowMissing) throw new CsmError(`shard${missing.length > 1 ? 's' : ''} ${list} of the ${count}-way split ${missing.length > 1 ? 'are' : 'is'} missing: give all ${count} shard outputs, or --allow-missing to merge only these`);
    process.stderr.write(`csm merge: warning: shard${missing.length > 1 ? 's' : ''} ${list} of the ${count}-way split ${missing.length > 1 ? 'are' : 'is'} missing; the CMS covers only the shards given\n`);
  }
  return {
    count, by, rule: first.split!.rule, setSha256, listed: first.split!.listed, missing,
    given: split.map((l) => ({ index: l.split!.index, out: l.shard, items: l.split!.kept })).sort((a, b) => a.index - b.index),
  };
}
