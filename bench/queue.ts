/**
 * Scaling bench of the job queue (not a test): `npm run bench:queue [-- --images 40 --stride 8
 * --chunk 5 --workers 1,2,4 --model gender --tag T --no-save]`.
 *
 * On a private redis-server (test/helpers/redis.ts) and the first N photos of csm-celeba100:
 * 1. local: the same code path as `csm cms` (createExplainSetup, the CPU engine's default front
 *    end, computeCms) in this process, timing every image;
 * 2. for each worker count W: `csm queue submit`, W `csm worker --exit-when-done` processes of the
 *    built CLI started together, `csm queue collect`; the wall time from submit to collect, the
 *    throughput, and whether cms.npy has the local run's bytes.
 * Queue overhead per chunk (W = 1): for each chunk, the worker's time on it (less opening the
 * model, done once per worker) minus the local run's time on the same images, with a 95 %
 * bootstrap interval over chunks; and end to end, (queue wall − local wall) / chunks, where the
 * queue wall also holds node and model start-up in the worker process and the CLI calls.
 * The 1-minute load average is sampled every 2 s during each phase: other sessions may share the
 * machine, and the file says so.
 *
 * Results: bench/results/queue-cpu-<tag or local-Ncpu>.json and .md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { bootstrapMeans, classificationJob, computeCms, createExplainSetup, createFrontEnd, listImages, versions } from '../src/index.js';
import { celebaImages } from '../test/helpers/data.js';
import { startRedis } from '../test/helpers/redis.js';
import { REPO_ROOT } from '../scripts/paths.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string' }, stride: { type: 'string' }, chunk: { type: 'string' }, workers: { type: 'string' }, model: { type: 'string' },
    tag: { type: 'string' }, 'no-save': { type: 'boolean' },
  },
});
const N = Number(values.images ?? 40);
const stride = values.stride ?? '8';
const chunk = Number(values.chunk ?? 5);
const workerCounts = (values.workers ?? '1,2,4').split(',').map(Number);
const model = values.model ?? 'gender';
const tag = values.tag ?? `local-${cpus().length}cpu`;
const CLI = join(REPO_ROOT, 'bin', 'csm.js');

const celeba = celebaImages();
if (!celeba) throw new Error('bench needs ../shared/data/csm-celeba100 (or CSM_TEST_DATA)');
const root = mkdtempSync(join(tmpdir(), 'csm-bench-queue-'));
const dir = join(root, 'images');
mkdirSync(dir);
for (const f of celeba.slice(0, N)) symlinkSync(f, join(dir, basename(f)));

/** Samples the 1-minute load average every 2 s while `work` runs. */
async function withLoad<T>(work: () => Promise<T>): Promise<{ value: T; load: { mean: number; max: number; samples: number } }> {
  const samples = [loadavg()[0]!];
  const timer = setInterval(() => samples.push(loadavg()[0]!), 2000);
  try {
    const value = await work();
    samples.push(loadavg()[0]!);
    return { value, load: { mean: samples.reduce((a, b) => a + b, 0) / samples.length, max: Math.max(...samples), samples: samples.length } };
  } finally {
    clearInterval(timer);
  }
}

const exitOf = (args: string[]): Promise<{ code: number | null; stderr: string }> => new Promise((resolve) => {
  const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  c.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  c.on('exit', (code) => resolve({ code, stderr }));
});

function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`csm ${args.slice(0, 2).join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

// 1. Local, timing every image (onProgress after each).
console.log(`local: ${N} images, ${model}, stride ${stride}`);
const local = await withLoad(async () => {
  const t0 = performance.now();
  const setup = await createExplainSetup({ model, explain: { stride: Number(stride) }, backend: 'cpu' });
  const frontEnd = await createFrontEnd(setup.explainer, { kind: 'auto' });
  const perImage: number[] = [];
  let last = 0;
  try {
    const job = classificationJob(setup.explainer, await listImages(dir), dir);
    const r = await computeCms(setup, job, join(root, 'local'), {
      frontEnd, checkpointEvery: 0,
      onProgress: (p) => { perImage.push(p.elapsed - last); last = p.elapsed; },
    });
    return { wall: (performance.now() - t0) / 1000, loop: r.run.seconds, perImage, engine: setup.session.engine };
  } finally {
    await frontEnd.close();
    await setup.dispose();
  }
});
const localNpy = readFileSync(join(root, 'local', 'cms.npy'));
console.log(`  ${local.value.wall.toFixed(1)} s wall, loop ${local.value.loop.toFixed(1)} s, load ${local.load.mean.toFixed(1)}`);

// 2. The queue with W workers.
interface QueueRow {
  workers: number; chunks: number; wall: number; imagesPerSecond: number; identical: boolean; load: { mean: number; max: number; samples: number };
  chunkSeconds: number[]; setupSeconds: number[]; distinctWorkers: number; redisBytesPerChunk: number;
}
const redis = await startRedis();
const rows: QueueRow[] = [];
try {
  const conn = new Redis(redis.port, '127.0.0.1');
  for (const W of workerCounts) {
    const run = `bench-w${W}`;
    const out = join(root, run);
    console.log(`queue: ${W} worker${W === 1 ? '' : 's'}, chunks of ${chunk}`);
    const measured = await withLoad(async () => {
      const t0 = performance.now();
      cli(['queue', 'submit', '--images', dir, '--model', model, '--stride', stride, '--redis', redis.url, '--run', run, '--chunk', String(chunk)]);
      const exits = await Promise.all(Array.from({ length: W }, () => exitOf(['worker', '--redis', redis.url, '--run', run, '--exit-when-done', '--backend', 'cpu', '--quiet'])));
      for (const e of exits) if (e.code !== 0) throw new Error(`a worker failed: ${e.stderr}`);
      cli(['queue', 'collect', '--redis', redis.url, '--run', run, '--out', out]);
      return (performance.now() - t0) / 1000;
    });
    const summaries = Object.values(await conn.hgetall(`csm-queue:${run}:done`)).map((t) => JSON.parse(t) as { chunk: number; seconds: number; setupSeconds: number; worker: string });
    summaries.sort((a, b) => a.chunk - b.chunk);
    const sizes = await Promise.all(summaries.map((s) => conn.memory('USAGE', `csm:run.${run}:chunk-${String(s.chunk).padStart(5, '0')}`)));
    const row: QueueRow = {
      workers: W, chunks: summaries.length, wall: measured.value, imagesPerSecond: N / measured.value,
      identical: readFileSync(join(out, 'cms.npy')).equals(localNpy), load: measured.load,
      chunkSeconds: summaries.map((s) => s.seconds), setupSeconds: summaries.map((s) => s.setupSeconds),
      distinctWorkers: new Set(summaries.map((s) => s.worker)).size,
      redisBytesPerChunk: sizes.reduce((a: number, b) => a + Number(b ?? 0), 0) / sizes.length,
    };
    rows.push(row);
    console.log(`  ${row.wall.toFixed(1)} s, ${row.imagesPerSecond.toFixed(2)} images/s, byte-identical: ${row.identical}, load ${row.load.mean.toFixed(1)}`);
  }
  conn.disconnect();
} finally {
  await redis.close();
}

// Overhead per chunk with one worker: its time on each chunk (less model start-up) − the local time on the same images.
const one = rows.find((r) => r.workers === 1);
let overhead: { perChunk: number; interval: { low: number; high: number }; endToEnd: number; chunks: number } | undefined;
if (one) {
  const perChunk = one.chunkSeconds.map((s, c) => s - one.setupSeconds[c]! - local.value.perImage.slice(c * chunk, (c + 1) * chunk).reduce((a, b) => a + b, 0));
  const [interval] = bootstrapMeans([perChunk]);
  overhead = { perChunk: perChunk.reduce((a, b) => a + b, 0) / perChunk.length, interval: interval!, endToEnd: (one.wall - local.value.wall) / one.chunks, chunks: one.chunks };
}

const result = {
  bench: 'queue', tag, date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, versions: versions(),
  images: N, model, stride: Number(stride), chunk, engine: local.value.engine,
  local: { wall: local.value.wall, loop: local.value.loop, imagesPerSecond: N / local.value.wall, load: local.load, perImage: local.value.perImage },
  queue: rows, overhead,
};
const f = (x: number, d = 2) => x.toFixed(d);
const md = `# Job queue (BullMQ on Redis): throughput and overhead, CPU, ${tag}

\`npm run bench:queue\` (bench/queue.ts), ${result.date}. ${result.cpus} × ${result.cpu}; ${result.engine}.
**The machine is shared with other sessions**: the 1-minute load average while each phase ran is
in the table; with ${result.cpus} cores, a load above ${result.cpus} means other work competed for them, so
these numbers are an upper bound on the cost and can be rerun on a quiet machine with the same command.

Data: the first ${N} photos of csm-celeba100 (a subset, to keep the bench to a few minutes), model
\`${model}\`, \`--stride ${stride}\`, canonical size 256, CPU engine, default front end and threads;
chunks of ${chunk} photos. Local = the \`csm cms\` code path in one process (model load included in
its wall time). Queue = \`csm queue submit\`, W \`csm worker --exit-when-done\` processes started together
(each loads the model), \`csm queue collect\`; wall from submit to the end of collect.

| run | wall (s) | photos/s | chunks | workers that finished chunks | cms.npy = local | load avg (mean / max) |
|---|---:|---:|---:|---:|---|---:|
| local | ${f(local.value.wall, 1)} | ${f(N / local.value.wall)} | – | – | – | ${f(local.load.mean, 1)} / ${f(local.load.max, 1)} |
${rows.map((r) => `| queue, ${r.workers} worker${r.workers === 1 ? '' : 's'} | ${f(r.wall, 1)} | ${f(r.imagesPerSecond)} | ${r.chunks} | ${r.distinctWorkers} | ${r.identical ? 'byte-identical' : '**differs**'} | ${f(r.load.mean, 1)} / ${f(r.load.max, 1)} |`).join('\n')}

${overhead ? `**Queue overhead per chunk** (1 worker, ${overhead.chunks} chunks of ${chunk}): the worker's time on a chunk,
less opening the model (once per worker), minus the local run's time on the same photos:
**${f(overhead.perChunk)} s per chunk** (95 % bootstrap interval over chunks ${f(overhead.interval.low)} to ${f(overhead.interval.high)} s),
against ${f(local.value.loop / (N / chunk))} s of local explaining per chunk. It holds the Redis round trips, the
chunk's checkpoint written, gzipped and stored as the job's result (${f(one!.redisBytesPerChunk / 1024, 1)} kB of Redis memory
per chunk), and the front end's pipeline starting again at each chunk. End to end, (queue wall − local
wall) / chunks = **${f(overhead.endToEnd)} s per chunk**, which adds node and model start-up in the worker
process and the three CLI calls.` : ''}

With ${result.cpus} cores, more workers do not add compute: the ${workerCounts.filter((w) => w > result.cpus).join(', ') || '–'}-worker row shows the cost of
oversubscription (model sessions, threads and front ends competing), not a speed-up.
`;
console.log(md);
if (!values['no-save']) {
  const base = join(REPO_ROOT, 'bench', 'results', `queue-cpu-${tag}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${base}.md`, md);
  console.log(`→ ${base}.md`);
}
rmSync(root, { recursive: true, force: true });
