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
 * Queue overhead per chunk (W = 1), directly (measured in the worker: time outside the loop, the
 * front end's extra wait, the idle gap between chunks) and against the local run, with 95 %
 * bootstrap intervals over chunks (see `overhead` below).
 * The 1-minute load average is sampled every 2 s during each phase: other sessions may share the
 * machine, and the file says so.
 *
 * Then (unless --no-kill) one worker is SIGKILLed mid-chunk and a second one started: how long
 * until the chunk is back in the queue, the run's wall, and whether cms.npy is still byte-identical.
 *
 * Results: bench/results/queue-cpu-<tag or local-Ncpu>.json and .md.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { bootstrapMeans, classificationJob, computeCms, createExplainSetup, createFrontEnd, listImages, versions } from '../src/index.js';
import { celebaImages } from '../test/helpers/data.js';
import { startRedis } from '../test/helpers/redis.js';
import { REPO_ROOT } from '../scripts/paths.js';
import { CMS_DEFAULT_SAMPLING } from '../src/cli/cms.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string' }, stride: { type: 'string' }, chunk: { type: 'string' }, workers: { type: 'string' }, model: { type: 'string' },
    tag: { type: 'string' }, 'no-save': { type: 'boolean' }, 'no-kill': { type: 'boolean' },
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
  const setup = await createExplainSetup({ model, explain: { stride: Number(stride), sampling: CMS_DEFAULT_SAMPLING }, backend: 'cpu' });
  const frontEnd = await createFrontEnd(setup.explainer, { kind: 'auto' });
  const perImage: number[] = [];
  let last = 0;
  try {
    const job = classificationJob(setup.explainer, await listImages(dir), dir);
    const r = await computeCms(setup, job, join(root, 'local'), {
      frontEnd, checkpointEvery: 0,
      onProgress: (p) => { perImage.push(p.elapsed - last); last = p.elapsed; },
    });
    return { wall: (performance.now() - t0) / 1000, loop: r.run.seconds, frontEndWait: r.run.timing.frontEndWait, perImage, engine: setup.session.engine };
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
  chunkSeconds: number[]; setupSeconds: number[]; loopSeconds: number[]; frontEndWait: number[]; distinctWorkers: number; redisBytesPerChunk: number; resultBytesPerChunk: number;
  /** One worker: its idle seconds before each chunk (after the one it explained before; NaN for its first). */
  gaps: number[];
}
const redis = await startRedis();
const rows: QueueRow[] = [];

/** Lock and stall timings of the kill phase (shorter than the defaults, 30 s and 15 s, to keep the bench short). */
const KILL_STALL = ['--lock-duration', '10000', '--stalled-interval', '2000'];
interface KillResult { chunk: string; killedAfter: number; of: number; backAfter: number; wall: number; identical: boolean; finishedByOther: boolean; load: { mean: number; max: number; samples: number } }
let kill: KillResult | undefined;

/**
 * One worker SIGKILLed mid-chunk (some photos of a chunk explained), a second one started at
 * once: how long until the chunk is taken again (≈ the lock's expiry), the wall of the whole run
 * against the 1-worker run, and whether the result is still byte-identical.
 */
async function killPhase(conn: Redis): Promise<KillResult> {
  const run = 'bench-kill';
  const out = join(root, run);
  console.log(`queue: a worker SIGKILLed mid-chunk (${KILL_STALL.join(' ')})`);
  const queue = new Queue(`run.${run}`, { connection: conn, prefix: 'csm' });
  try {
    const measured = await withLoad(async () => {
      const t0 = performance.now();
      cli(['queue', 'submit', '--images', dir, '--model', model, '--stride', stride, '--redis', redis.url, '--run', run, '--chunk', String(chunk)]);
      const args = ['worker', '--redis', redis.url, '--run', run, '--backend', 'cpu', '--quiet', ...KILL_STALL];
      const doomed = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
      let victim: { id: string; done: number; total: number; started: number } | undefined;
      while (!victim) {
        await new Promise((r) => setTimeout(r, 100));
        for (const j of await queue.getActive()) {
          const p = j.progress as { done?: number; total?: number };
          // The second chunk, so that the worker is past its start-up; mid-way through it.
          if (j.id !== 'chunk-00000' && p && p.done! >= 2 && p.done! < p.total!) victim = { id: j.id!, done: p.done!, total: p.total!, started: j.attemptsStarted };
        }
      }
      doomed.kill('SIGKILL');
      const killed = performance.now();
      const rescuer = exitOf([...args, '--exit-when-done']);
      let backAfter = NaN;
      while (Number.isNaN(backAfter)) {
        await new Promise((r) => setTimeout(r, 100));
        // Back: in the queue again, or already taken again (a new start of the job), or done.
        const state = await queue.getJobState(victim.id);
        const started = (await queue.getJob(victim.id))?.attemptsStarted ?? 0;
        if (state === 'waiting' || state === 'completed' || started > victim.started) backAfter = (performance.now() - killed) / 1000;
      }
      const e = await rescuer;
      if (e.code !== 0) throw new Error(`the second worker failed: ${e.stderr}`);
      cli(['queue', 'collect', '--redis', redis.url, '--run', run, '--out', out]);
      return { victim, backAfter, wall: (performance.now() - t0) / 1000, doomed: doomed.pid };
    });
    const { victim, backAfter, wall, doomed } = measured.value;
    const summary = JSON.parse((await conn.hget(`csm-queue:${run}:done`, victim.id))!) as { worker: string };
    const r: KillResult = { chunk: victim.id, killedAfter: victim.done, of: victim.total, backAfter, wall, identical: readFileSync(join(out, 'cms.npy')).equals(localNpy), finishedByOther: !summary.worker.endsWith(`:${doomed}`), load: measured.load };
    console.log(`  killed ${r.chunk} after ${r.killedAfter}/${r.of}; back after ${r.backAfter.toFixed(1)} s; ${r.wall.toFixed(1)} s in all; byte-identical: ${r.identical}`);
    return r;
  } finally {
    await queue.close();
  }
}
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
    const summaries = Object.values(await conn.hgetall(`csm-queue:${run}:done`)).map((t) => JSON.parse(t) as { chunk: number; started: number; finished: number; seconds: number; setupSeconds: number; loop: { wall: number; frontEndWait: number }; worker: string });
    summaries.sort((a, b) => a.chunk - b.chunk);
    const key = (c: number): string => `csm:run.${run}:chunk-${String(c).padStart(5, '0')}`;
    // SAMPLES 0: every field of the job's hash (the default samples 5 and can miss the result).
    const sizes = await Promise.all(summaries.map((s) => conn.call('MEMORY', 'USAGE', key(s.chunk), 'SAMPLES', '0') as Promise<number>));
    const resultBytes = await Promise.all(summaries.map((s) => conn.hstrlen(key(s.chunk), 'returnvalue')));
    // Idle time of a worker between two chunks (BullMQ handing over the next one), one worker only.
    const byStart = [...summaries].sort((a, b) => a.started - b.started);
    const gapBefore = new Map(byStart.slice(1).map((x, i) => [x.chunk, (x.started - byStart[i]!.finished) / 1000]));
    const gaps = W === 1 ? summaries.map((x) => gapBefore.get(x.chunk) ?? NaN) : [];
    const row: QueueRow = {
      workers: W, chunks: summaries.length, wall: measured.value, imagesPerSecond: N / measured.value,
      identical: readFileSync(join(out, 'cms.npy')).equals(localNpy), load: measured.load,
      chunkSeconds: summaries.map((s) => s.seconds), setupSeconds: summaries.map((s) => s.setupSeconds),
      loopSeconds: summaries.map((s) => s.loop.wall), frontEndWait: summaries.map((s) => s.loop.frontEndWait),
      distinctWorkers: new Set(summaries.map((s) => s.worker)).size,
      redisBytesPerChunk: sizes.reduce((a: number, b) => a + Number(b ?? 0), 0) / sizes.length,
      resultBytesPerChunk: resultBytes.reduce((a, b) => a + b, 0) / resultBytes.length, gaps,
    };
    rows.push(row);
    console.log(`  ${row.wall.toFixed(1)} s, ${row.imagesPerSecond.toFixed(2)} images/s, byte-identical: ${row.identical}, load ${row.load.mean.toFixed(1)}`);
  }
  if (!values['no-kill']) kill = await killPhase(conn);
  conn.disconnect();
} finally {
  await redis.close();
}

// Overhead per chunk with one worker: its time on each chunk (less model start-up) − the local time on the same images.
const one = rows.find((r) => r.workers === 1);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
/**
 * Overhead per chunk, two ways (1 worker):
 * - direct, measured inside the worker on each chunk after the first (which also opens the model):
 *   its time outside the explaining loop (payload checks, checkpoint, gzip, storing the result),
 *   the loop's extra wait for the front end (its pipeline starts again at each chunk; the local
 *   run's wait per chunk of photos subtracted), and the worker's idle gap before the chunk
 *   (BullMQ handing it over). Little affected by the machine's load;
 * - against the local run: the chunk's time (less opening the model) minus the local run's time on
 *   the same photos, and end to end (queue wall − local wall) / chunks. Both compare runs made at
 *   different moments, so on a shared machine they carry its load changes.
 */
let overhead: {
  chunks: number; direct: number; directInterval: { low: number; high: number };
  outsideLoop: number; extraFrontEndWait: number; gap: number;
  vsLocal: number; vsLocalInterval: { low: number; high: number }; endToEnd: number;
} | undefined;
if (one) {
  const order = one.chunkSeconds.map((_, c) => c).filter((c) => one.setupSeconds[c]! < 0.05);
  const outside = order.map((c) => one.chunkSeconds[c]! - one.setupSeconds[c]! - one.loopSeconds[c]!);
  // All of it: a local run's loop waits for the front end at its start only (counted in the first chunk here).
  const wait = order.map((c) => one.frontEndWait[c]!);
  const gaps = order.map((c) => (Number.isNaN(one.gaps[c]!) ? 0 : one.gaps[c]!));
  const gap = mean(gaps);
  const direct = order.map((_, i) => outside[i]! + wait[i]! + gaps[i]!);
  const vsLocal = one.chunkSeconds.map((x, c) => x - one.setupSeconds[c]! - local.value.perImage.slice(c * chunk, (c + 1) * chunk).reduce((a, b) => a + b, 0));
  const [directInterval, vsLocalInterval] = [bootstrapMeans([direct])[0]!, bootstrapMeans([vsLocal])[0]!];
  overhead = {
    chunks: one.chunks, direct: mean(direct), directInterval, outsideLoop: mean(outside), extraFrontEndWait: mean(wait), gap,
    vsLocal: mean(vsLocal), vsLocalInterval, endToEnd: (one.wall - local.value.wall) / one.chunks,
  };
}

const result = {
  bench: 'queue', tag, date: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, versions: versions(),
  images: N, model, stride: Number(stride), chunk, engine: local.value.engine,
  local: { wall: local.value.wall, loop: local.value.loop, imagesPerSecond: N / local.value.wall, load: local.load, perImage: local.value.perImage },
  queue: rows, overhead, kill,
};
const f = (x: number, d = 2) => x.toFixed(d);
const md = `# Job queue (BullMQ on Redis): throughput and overhead, CPU, ${tag}

\`npm run bench:queue\` (bench/queue.ts), ${result.date}. ${result.cpus} × ${result.cpu}; ${result.engine}.
The 1-minute load average while each phase ran is
in the table; with ${result.cpus} cores, a load above ${result.cpus} means other work competed for them, so
these numbers are an upper bound on the cost and can be rerun on a quiet machine with the same command.

Data: the first ${N} photos of csm-celeba100 (a subset, to keep the bench to a few minutes), model
\`${model}\`, \`--stride ${stride}\`, csm cms's default sampling (${JSON.stringify(CMS_DEFAULT_SAMPLING)}, as submit writes into the jobs), canonical size 256, CPU engine, default front end and threads;
chunks of ${chunk} photos. Local = the \`csm cms\` code path in one process (model load included in
its wall time). Queue = \`csm queue submit\`, W \`csm worker --exit-when-done\` processes started together
(each loads the model), \`csm queue collect\`; wall from submit to the end of collect.

| run | wall (s) | photos/s | chunks | workers that finished chunks | cms.npy = local | load avg (mean / max) |
|---|---:|---:|---:|---:|---|---:|
| local | ${f(local.value.wall, 1)} | ${f(N / local.value.wall)} | – | – | – | ${f(local.load.mean, 1)} / ${f(local.load.max, 1)} |
${rows.map((r) => `| queue, ${r.workers} worker${r.workers === 1 ? '' : 's'} | ${f(r.wall, 1)} | ${f(r.imagesPerSecond)} | ${r.chunks} | ${r.distinctWorkers} | ${r.identical ? 'byte-identical' : '**differs**'} | ${f(r.load.mean, 1)} / ${f(r.load.max, 1)} |`).join('\n')}

${overhead ? `**Queue overhead per chunk** (1 worker, chunks of ${chunk} photos, ${f(local.value.loop / (N / chunk))} s of local explaining per chunk):

- **direct, measured in the worker: ${f(overhead.direct, 3)} s per chunk** (95 % bootstrap interval over the ${overhead.chunks - 1} chunks after
  the first: ${f(overhead.directInterval.low, 3)} to ${f(overhead.directInterval.high, 3)} s) = time outside the explaining loop ${f(overhead.outsideLoop, 3)} s (payload
  checks, the chunk's checkpoint written, gzipped and stored as the job's result: ${f(one!.resultBytesPerChunk / 1024, 1)} kB of
  result, ${f(one!.redisBytesPerChunk / 1024, 1)} kB of Redis memory per chunk) + the loop's wait for the front end, whose
  pipeline starts again at each chunk, ${f(overhead.extraFrontEndWait, 3)} s (all counted: an upper bound, since a local run
  waits at its start only, ${f(local.value.frontEndWait, 2)} s in all here) + the worker's idle gap between chunks (BullMQ
  handing over the next one) ${f(overhead.gap, 3)} s. Measured on the worker's own clock, these depend little on
  the machine's load (they grow with it, so a quiet machine gives less).
- against the local run (load-sensitive: the runs were made at different moments): the chunk's
  time less opening the model, minus the local run's time on the same photos, ${f(overhead.vsLocal)} s per chunk
  (interval ${f(overhead.vsLocalInterval.low)} to ${f(overhead.vsLocalInterval.high)} s); end to end, (queue wall − local wall) / chunks =
  ${f(overhead.endToEnd)} s, which also holds node and model start-up in the worker process and the three CLI calls.
` : ''}
${kill ? `**A worker SIGKILLed mid-chunk** (\`${KILL_STALL.join(' ')}\`; the defaults are 30000 and 15000): ${kill.chunk}
killed after ${kill.killedAfter} of its ${kill.of} photos, a second worker started at once; the chunk was back in the
queue ${f(kill.backAfter, 1)} s after the kill (the lock's expiry plus at most one stalled-check interval), finished
by ${kill.finishedByOther ? 'the second worker' : '**the killed worker?**'}, and the whole run took ${f(kill.wall, 1)} s against ${one ? f(one.wall, 1) : '?'} s without the kill
(load ${f(kill.load.mean, 1)}). cms.npy: ${kill.identical ? '**byte-identical** to the local run' : '**differs from the local run**'}.
` : ''}
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
