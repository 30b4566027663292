/** `--shard K/N` of `csm cms`: parsing, help, and the one place a job is cut to its shard (saliency/shard.ts). */
import { identityKeyOf, imageKeyOf, pairKeyOf, parseShard, ShardSpecError, shardJob, type CmsJob, type ShardSpec } from '../index.js';
import { UsageError } from './output.js';

export const SHARD_OPTIONS = { shard: { type: 'string' } } as const;

export const SHARD_HELP = `Shards (run one share per machine, then csm merge the N outputs):
  --shard K/N             explain only shard K of N, K from 0 to N−1 (0-based, as Kubernetes'
                          JOB_COMPLETION_INDEX; a Slurm array is then --array=0-(N−1)). An item's
                          shard is SHA-256(key) mod N, key = its path relative to the --images
                          folder (or list file's folder), its identity (--gallery), or the pair
                          (--pairs): the same split on every machine, in any listing order
  --shard auto/N          K from $JOB_COMPLETION_INDEX, else $SLURM_ARRAY_TASK_ID`;

/** The parsed --shard value, undefined when not given; a bad value is a usage error. */
export function shardFlag(value: string | undefined): ShardSpec | undefined {
  if (value === undefined) return undefined;
  try {
    return parseShard(value);
  } catch (e) {
    if (e instanceof ShardSpecError) throw new UsageError(e.message);
    throw e;
  }
}

/** The job cut to its shard (unchanged without --shard), keyed as SHARD_HELP says. */
export async function applyShard(job: CmsJob, spec: ShardSpec | undefined, source: { images?: string | undefined; gallery?: string | undefined; pairs?: string | undefined }): Promise<CmsJob> {
  if (!spec) return job;
  if (source.images !== undefined) return shardJob(job, spec, await imageKeyOf(source.images), 'image path');
  if (source.gallery !== undefined) return shardJob(job, spec, identityKeyOf(source.gallery), 'identity');
  return shardJob(job, spec, pairKeyOf(source.pairs!), 'pair');
}
