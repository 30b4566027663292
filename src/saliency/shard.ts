/**
 * Static shards of a CMS run (design.md, "Scale out on engines people already run"): `--shard K/N`
 * keeps a stable share of a job's items, so that N machines of an array scheduler (Slurm array
 * jobs, Kubernetes Indexed Jobs) each explain one share and `csm merge` sums their exact
 * accumulators into the bytes of one run over the whole set.
 *
 * ## Convention
 * K is **0-based**: shard K of N with 0 ≤ K < N, as Kubernetes' `JOB_COMPLETION_INDEX` counts (and
 * Slurm's `SLURM_ARRAY_TASK_ID` with `--array=0-(N-1)`). `--shard auto/N` reads K from
 * `JOB_COMPLETION_INDEX`, else from `SLURM_ARRAY_TASK_ID`.
 *
 * ## Hashing rule
 * Each item has a key that does not depend on where the data is mounted nor on the listing order:
 * - `--images DIR`: the file's path relative to DIR (its name); `--images LIST`: the path relative
 *   to the list file's folder. Both with `/` separators, so a list beside the photos naming them
 *   splits exactly like the folder.
 * - `--gallery DIR`: the identity (the sub-folder name): an identity's images stay together, since
 *   each is explained against the others of its identity.
 * - `--pairs CSV`: `a|b|s`, a and b relative to the CSV's folder, s = 1 genuine, 0 impostor.
 *
 * The item goes to shard `SHA-256(UTF-8 key)[0..8] as a big-endian unsigned 64-bit integer mod N`.
 * The split depends only on the keys and N: the same on every machine, whatever the order of the
 * files or lines, and every item is in exactly one shard.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';
import { CsmError } from '../errors.js';

/** Shard K of N, 0 ≤ K < N. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** What a sharded run records (cms.json, and its checkpoint's fingerprint). */
export interface ShardInfo extends ShardSpec {
  /** What the key of an item is: "image path", "identity" or "pair". */
  by: string;
  /** The rule, in words. */
  rule: string;
  /** Items of the whole job (every shard), and of this shard. */
  listed: number;
  kept: number;
  /** SHA-256 of the sorted keys of the whole job, one per line: the same data set on every shard. */
  setSha256: string;
  /** Whether the whole job's items were in sorted (code unit) order, as a folder lists them. */
  sorted: boolean;
}

export const SHARD_RULE = 'SHA-256 of the item key, first 8 bytes as a big-endian uint64, mod N; K is 0-based';

/** Environment variables `--shard auto/N` reads K from, in this order. */
export const SHARD_INDEX_ENV = ['JOB_COMPLETION_INDEX', 'SLURM_ARRAY_TASK_ID'] as const;

/** A `--shard` value that cannot be used; the CLI reports it as a usage error. */
export class ShardSpecError extends CsmError {}

const WHOLE = /^(0|[1-9][0-9]*)$/;

/**
 * Parses `K/N` (0 ≤ K < N, N ≥ 1) or `auto/N` (K from JOB_COMPLETION_INDEX, else
 * SLURM_ARRAY_TASK_ID). Throws a {@link ShardSpecError} saying what is wrong.
 */
export function parseShard(text: string, env: Record<string, string | undefined> = process.env): ShardSpec {
  const m = /^\s*([^/\s]+)\s*\/\s*([^/\s]+)\s*$/.exec(text);
  if (!m) throw new ShardSpecError(`--shard takes K/N (shard K of N, K from 0 to N−1) or auto/N, got "${text}"`);
  const [, k, n] = m as unknown as [string, string, string];
  if (!WHOLE.test(n) || Number(n) < 1 || !Number.isSafeInteger(Number(n))) throw new ShardSpecError(`--shard ${text}: N (the number of shards) must be a whole number ≥ 1, got "${n}"`);
  const count = Number(n);
  let index: number;
  let from = '';
  if (k === 'auto') {
    const name = SHARD_INDEX_ENV.find((v) => env[v] !== undefined && env[v] !== '');
    if (!name) throw new ShardSpecError(`--shard auto/${count}: neither ${SHARD_INDEX_ENV.join(' nor ')} is set (give --shard K/${count} instead)`);
    const value = env[name]!.trim();
    if (!WHOLE.test(value)) throw new ShardSpecError(`--shard auto/${count}: ${name} is "${env[name]}", not a whole number`);
    index = Number(value);
    from = ` (${name}=${value})`;
  } else {
    if (!WHOLE.test(k)) throw new ShardSpecError(`--shard ${text}: K (this shard) must be a whole number from 0 to ${count - 1}, got "${k}"`);
    index = Number(k);
  }
  if (index >= count) {
    const hint = index === count ? `; shards count from 0 (the last of ${count} is ${count - 1}/${count}; a Slurm array is then --array=0-${count - 1})` : '';
    throw new ShardSpecError(`--shard: shard ${index}${from} is not below N = ${count}${hint}`);
  }
  return { index, count };
}

/** The shard (0 … count−1) of an item key: see the module comment. */
export function shardOf(key: string, count: number): number {
  if (!Number.isSafeInteger(count) || count < 1) throw new CsmError(`shard count must be a whole number ≥ 1, got ${count}`);
  const digest = createHash('sha256').update(key, 'utf8').digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(count));
}

const posix = (p: string): string => (sep === '/' ? p : p.split(sep).join('/'));

/** The key of an image of `--images SOURCE` (a folder or a list file): its path relative to the folder, or to the list's folder. */
export async function imageKeyOf(source: string): Promise<(file: string) => string> {
  const base = (await stat(source)).isDirectory() ? source : dirname(source);
  return (file) => posix(relative(base, file));
}

/** The key of an image of `--gallery DIR`: its identity (the first folder below DIR). */
export function identityKeyOf(dir: string): (file: string) => string {
  return (file) => posix(relative(dir, file)).split('/')[0]!;
}

/** The key of a pair id "a|b|s" of `--pairs CSV`: a and b relative to the CSV's folder. */
export function pairKeyOf(csv: string): (id: string) => string {
  const base = dirname(csv);
  return (id) => {
    const parts = id.split('|');
    // A path holding "|" cannot be split back; its whole id (absolute paths) is then the key.
    if (parts.length !== 3) return id;
    return `${posix(relative(base, parts[0]!))}|${posix(relative(base, parts[1]!))}|${parts[2]}`;
  };
}

/** The parts of a job sharding reads and changes (a CmsJob fits). */
export interface ShardableJob {
  items: string[];
  skippedBefore: { file: string; cause: string }[];
  shard?: ShardInfo;
}

/**
 * Keeps the items (and the items skipped before the run) of shard `spec.index` of `spec.count`,
 * in their order, and records the shard in `job.shard`. `keyOf` maps an item to its key; `by`
 * names what the key is. The job's other fields are kept as they are.
 */
export function shardJob<J extends ShardableJob>(job: J, spec: ShardSpec, keyOf: (item: string) => string, by: string): J & { shard: ShardInfo } {
  const all = [...job.items, ...job.skippedBefore.map((s) => s.file)];
  const keys = all.map(keyOf);
  const mine = (k: string): boolean => shardOf(k, spec.count) === spec.index;
  const items = job.items.filter((_, i) => mine(keys[i]!));
  const skippedBefore = job.skippedBefore.filter((_, i) => mine(keys[job.items.length + i]!));
  const sorted = job.items.every((f, i) => i === 0 || job.items[i - 1]! < f);
  const setSha256 = createHash('sha256').update([...new Set(keys)].sort().join('\n')).digest('hex');
  const shard: ShardInfo = {
    index: spec.index, count: spec.count, by, rule: SHARD_RULE,
    listed: all.length, kept: items.length + skippedBefore.length, setSha256, sorted,
  };
  return { ...job, items, skippedBefore, shard };
}

/** Splits keys into `count` shards (what every machine computes for its own): index → keys. */
export function splitKeys(keys: readonly string[], count: number): string[][] {
  const out: string[][] = Array.from({ length: count }, () => []);
  for (const k of keys) out[shardOf(k, count)]!.push(k);
  return out;
}
