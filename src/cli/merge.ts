/** `csm merge`: sums CMS accumulators of shards (run on other machines or folders) exactly. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { coverageMask, CsmError, fingerprintDiff, loadAccumulator, versions, writeCanonicalMap, type CmsAccumulator } from '../index.js';
import { openOutput } from './out.js';
import { EXIT, UsageError, print } from './output.js';
import { spaceFromParams } from './space.js';

export const MERGE_HELP = `Usage: csm merge SHARD [SHARD…] --out DIR

Merges the CMS accumulators of several runs of the same model and parameters over disjoint image
sets (each SHARD is a "csm cms" output folder, or its checkpoint folder) into one CMS, exactly:
the result has the same bytes as one run over all the images. Shards made with different models
or parameters, or sharing an image, are refused (the message names the options that differ).
Writes the same files as "csm cms"; a DIR holding a finished run is refused without --force.`;

export async function mergeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { print(MERGE_HELP); return EXIT.ok; }
  if (positionals.length < 1) throw new UsageError('merge needs at least one SHARD folder');
  if (!values.out) throw new UsageError('merge needs --out DIR');
  const out = values.out;
  const lock = await openOutput(out, { finished: ['cms.json'], force: values.force ?? false });
  try {
    let merged: CmsAccumulator | undefined;
    let fingerprint: Record<string, unknown> | undefined;
    for (const shard of positionals) {
      const dir = existsSync(join(shard, 'checkpoint', 'cms-state.json')) ? join(shard, 'checkpoint') : shard;
      const { acc, extra } = await loadAccumulator(dir);
      const fp = extra['fingerprint'];
      if (typeof fp !== 'object' || fp === null || Array.isArray(fp)) throw new CsmError(`shard "${shard}" records no fingerprint of its model and parameters (not a csm cms checkpoint?)`);
      if (fingerprint !== undefined) {
        const diff = fingerprintDiff(fingerprint, fp as Record<string, unknown>, { names: [`"${positionals[0]}"`, `"${shard}"`] });
        if (diff.length) throw new CsmError(`shard "${shard}" was made with a different model or parameters than "${positionals[0]}": ${diff.join('; ')}`);
      }
      fingerprint ??= fp as Record<string, unknown>;
      merged = merged ? merged.merge(acc) : acc;
    }
    const params = fingerprint as Record<string, unknown> & { canonicalSize?: number };
    const space = await spaceFromParams(params, merged!.size);
    const written = await writeCanonicalMap(out, 'cms', merged!.mean(), { ...space, mask: coverageMask(merged!.coverage) }, {
      kind: 'CMS', merged: positionals, params, run: { versions: versions() },
      counts: { explained: merged!.images }, images: merged!.ids,
    });
    print(`merged ${positionals.length} shards, ${merged!.images} images → ${written.files.find((f) => f.endsWith('-overlay.png'))}`);
  } finally {
    await lock.release();
  }
  return EXIT.ok;
}
