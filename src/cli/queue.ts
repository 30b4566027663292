/** `csm queue submit|status|collect|retry|remove`: a CMS run spread over workers by a BullMQ queue on Redis (src/queue/). */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileSha256, listImages, printableName, readSignature, resolveModel, zooEntry } from '../index.js';
import { CHUNK_FLAGS, collectRun, removeRun, retryFailed, runStatus, submitRun, type ChunkPayload, type RunStatus } from '../queue/index.js';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, explainOptionsFromFlags, int } from './explain-args.js';
import { CMS_DEFAULT_SAMPLING } from './cms.js';
import { writeMergedCms } from './merge.js';
import { openOutput } from './out.js';
import { EXIT, UsageError, print, printJson } from './output.js';
import { formatSeconds } from './progress.js';
import { REDIS_HELP, REDIS_OPTIONS, withRedis } from './redis-args.js';
import { SPEC_HELP, specFromFlags } from './spec-flags.js';

export const QUEUE_HELP = `Usage:
  csm queue submit --images DIR|LIST --model MODEL [cms options] --redis URL --run NAME [--chunk N]
  csm queue status --redis URL --run NAME [--json]
  csm queue collect --redis URL --run NAME --out DIR [--allow-missing] [--force]
  csm queue retry --redis URL --run NAME          failed chunks go back to the queue
  csm queue remove --redis URL --run NAME         drop the run: its jobs, results and record

A CMS run spread over any number of workers (csm worker, on machines that see the same image
paths) through a BullMQ queue on Redis. submit cuts the images (as csm cms lists them) into
chunks of N consecutive images, one job each with the id chunk-NNNNN, so submitting the same run
again adds nothing twice. A job is data only: image paths, the model's name and SHA-256, its spec,
and the options below. Each worker returns its chunk's exact accumulator; collect merges them
(refusing any image counted twice) and writes the same files as csm cms, whose cms.npy has the
bytes of one local csm cms run over the same images with the same options. As with csm merge,
no cms-convergence.png (a curve of one image at a time does not survive chunking).
Sampling defaults as in csm cms (a stratified 1/4 of the points per image; --sampling grid for
every point), and the choice is written into every job.

Submit:
  --images DIR|LIST       a folder's files (sorted), or a list file (paths must be the same on
                          every worker; they are stored absolute)
  --run NAME              the run's name (letters, digits, . _ -)                 [required]
  --chunk N               images per chunk                                       [default: 25]
  --attempts N            tries per chunk before it ends failed                   [default: 3]
  --backoff MS            delay before the first retry, doubling after         [default: 5000]
Collect:
  --out DIR               output folder (refused if it holds a finished run, unless --force)
  --allow-missing         merge the finished chunks even if some are not (recorded in cms.json)
Status:
  --json                  the status as JSON

${REDIS_HELP}

Options of submit (as csm cms; engine options are the worker's, csm worker --help):
${EXPLAIN_HELP.split('\nEngine:')[0]}

${SPEC_HELP}`;

const QUEUE_OPTIONS = {
  ...EXPLAIN_OPTIONS,
  ...REDIS_OPTIONS,
  images: { type: 'string' },
  chunk: { type: 'string' },
  attempts: { type: 'string' },
  backoff: { type: 'string' },
  'allow-missing': { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof QUEUE_OPTIONS; allowPositionals: true }>>['values'];

const needRun = (values: Values): string => {
  if (!values.run) throw new UsageError('--run NAME is required');
  return values.run;
};

export async function queueCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: QUEUE_OPTIONS });
  const [action, ...rest] = positionals;
  if (values.help || !action) { print(QUEUE_HELP); return values.help ? EXIT.ok : EXIT.usage; }
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
  switch (action) {
    case 'submit': return submit(values);
    case 'status': return status(values);
    case 'collect': return collect(values);
    case 'retry': return retry(values);
    case 'remove': return remove(values);
    default: throw new UsageError(`unknown action "${action}": submit, status, collect, retry or remove`);
  }
}

async function submit(values: Values): Promise<number> {
  const run = needRun(values);
  if (!values.images) throw new UsageError('submit needs --images DIR|LIST');
  if (!values.model) throw new UsageError('submit needs --model (a zoo name such as emotion, or FILE.onnx)');
  for (const flag of ['backend', 'vulkan-icd', 'batch', 'threads', 'save-cis'] as const) {
    if (values[flag as keyof Values] !== undefined) throw new UsageError(`--${flag} is an option of csm worker (each worker picks its own engine), not of submit`);
  }
  const chunkSize = int(values.chunk, '--chunk', 25, 1, 100_000)!;
  const attempts = int(values.attempts, '--attempts', 3, 1, 100)!;
  const backoffMs = int(values.backoff, '--backoff', 5000, 0, 86_400_000)!;
  // The options are parsed here as the workers will parse them: a bad one stops the submit.
  explainOptionsFromFlags(values, { sampling: CMS_DEFAULT_SAMPLING });
  const flags: ChunkPayload['flags'] = {};
  for (const f of CHUNK_FLAGS) {
    const v = values[f];
    if (v !== undefined) flags[f] = f === 'alignment' ? resolve(v) : v;
  }
  // csm cms's default sampling is written into the jobs, so that a worker never falls back on a
  // default of its own and the collected map equals a local csm cms run with the same flags.
  if (values.sampling === undefined && values.keep === undefined && values.points === undefined) {
    flags.sampling = CMS_DEFAULT_SAMPLING.kind;
    if ('keep' in CMS_DEFAULT_SAMPLING) flags.keep = `1/${CMS_DEFAULT_SAMPLING.keep}`;
  }
  const modelFile = existsSync(values.model);
  const spec = await specFromFlags(values, modelFile ? await readSignature(values.model) : undefined, basename(values.model, '.onnx'));
  const model = await resolveModel(values.model, spec);
  const name = !modelFile && zooEntry(values.model) ? values.model : resolve(values.model);
  const images = (await listImages(values.images)).map((f) => resolve(f));
  return withRedis(values, async (client) => {
    const done = await submitRun(client, {
      run, images, source: values.images!, model: { name, sha256: await fileSha256(model.path) },
      ...(spec && modelFile ? { spec: JSON.parse(JSON.stringify(spec)) as Record<string, unknown> } : {}),
      flags, chunkSize, attempts, backoffMs,
    });
    const r = done.record;
    if (values.json) printJson({ run, images: r.images, chunks: r.chunks, added: done.added, already: done.already });
    else print(`run "${run}": ${r.images} images in ${r.chunks} chunk${r.chunks === 1 ? '' : 's'} of ≤ ${r.chunkSize}; ${done.added} added${done.already ? `, ${done.already} already in the queue` : ''}. Start workers: csm worker --redis URL --run ${run}`);
    return EXIT.ok;
  });
}

function statusText(s: RunStatus): string {
  const c = s.chunks;
  const lines = [
    `run "${s.run}" (submitted ${s.submitted}): ${c.done} of ${c.total} chunks done, ${c.active} active, ${c.waiting} waiting, ${c.retrying} retrying, ${c.failed} failed`,
    `images: ${s.images.explained + s.images.skipped + s.images.inActiveChunks} of ${s.images.total} (${s.images.explained} explained, ${s.images.skipped} skipped${s.images.inActiveChunks ? `, ${s.images.inActiveChunks} in active chunks` : ''})` +
      (s.throughput !== null ? `; ${s.throughput.toFixed(2)} images/s over ${formatSeconds(s.elapsed!)} by ${s.workers.length} worker${s.workers.length === 1 ? '' : 's'}; ETA ${s.eta === null ? '?' : formatSeconds(s.eta)}` : ''),
  ];
  for (const a of s.active) lines.push(`  active   ${a.job}: ${a.done}/${a.total}`);
  for (const r of s.retrying) lines.push(`  retrying ${r.job} (attempt ${r.attempts} of ${r.maxAttempts} failed): ${r.cause}`);
  for (const f of s.failed) lines.push(`  failed   ${f.job} after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}: ${f.cause}`);
  for (const k of s.skipped.slice(0, 20)) lines.push(`  skipped  ${printableName(k.file)}: ${k.cause}`);
  if (s.skipped.length > 20) lines.push(`  … and ${s.skipped.length - 20} more skipped (--json lists all)`);
  return lines.join('\n');
}

async function status(values: Values): Promise<number> {
  const run = needRun(values);
  return withRedis(values, async (client) => {
    const s = await runStatus(client, run);
    if (values.json) printJson(s);
    else print(statusText(s));
    return EXIT.ok;
  });
}

async function collect(values: Values): Promise<number> {
  const run = needRun(values);
  if (!values.out) throw new UsageError('collect needs --out DIR');
  const out = values.out;
  const lock = await openOutput(out, { finished: ['cms.json'], force: values.force ?? false });
  try {
    return await withRedis(values, async (client, target) => {
      const c = await collectRun(client, run, { allowMissing: values['allow-missing'] ?? false });
      const r = c.record;
      const written = await writeMergedCms(out, c.acc, c.fingerprint, {
        sorted: r.sorted,
        sidecar: { queue: { run, redis: target.shown, submitted: r.submitted, chunks: r.chunks, chunkSize: r.chunkSize, missing: c.missing, collected: c.chunks.map(({ skipped, ...s }) => ({ ...s, skipped: skipped.length })) } },
        mode: { images: r.source }, counts: { listed: r.images, skipped: c.skipped.length }, extra: { skipped: c.skipped },
      });
      if (values.json) printJson({ out, images: c.acc.images, skipped: c.skipped, missing: c.missing, files: written.files });
      else {
        print(`collected ${c.chunks.length} of ${r.chunks} chunks of run "${run}": CMS of ${c.acc.images} images (${c.skipped.length} skipped) → ${written.files.find((f) => f.endsWith('-overlay.png'))}`);
        for (const s of c.skipped) print(`  skipped ${printableName(s.file)}: ${s.cause}`);
      }
      return EXIT.ok;
    });
  } finally {
    await lock.release();
  }
}

async function retry(values: Values): Promise<number> {
  const run = needRun(values);
  return withRedis(values, async (client) => {
    const n = await retryFailed(client, run);
    print(`run "${run}": ${n} failed chunk${n === 1 ? '' : 's'} back in the queue`);
    return EXIT.ok;
  });
}

async function remove(values: Values): Promise<number> {
  const run = needRun(values);
  return withRedis(values, async (client) => {
    const known = await removeRun(client, run);
    print(known ? `run "${run}" removed (jobs, results, record)` : `no run "${run}" was recorded; its queue, if any, is removed`);
    return EXIT.ok;
  });
}
