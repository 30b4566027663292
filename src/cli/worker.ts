/** `csm worker`: explains queued chunks (csm queue submit) until stopped, or until the run is done. */
import { parseArgs } from 'node:util';
import { CsmError, parseSpec } from '../index.js';
import { DEFAULT_STALL, runQueueWorker, type ChunkPayload } from '../queue/index.js';
import { EXPLAIN_OPTIONS, explainOptionsFromFlags, int } from './explain-args.js';
import { FRONT_END_HELP, FRONT_END_OPTIONS, frontEndFromFlags, frontEndOptions } from './front-end-args.js';
import { EXIT, UsageError, print, warn } from './output.js';
import { REDIS_HELP, REDIS_OPTIONS, withRedis } from './redis-args.js';

export const WORKER_HELP = `Usage: csm worker --redis URL [--run NAME] [options]

Takes chunks of queued CMS runs (csm queue submit) and explains them, each one exactly as csm cms
would, returning the chunk's exact accumulator to Redis. Run as many as you like, on any machines
that see the same image paths (and, for a model file, the same file). Bad images are skipped with
their cause, as in a local run. A worker killed mid-chunk loses nothing: once the chunk's lock
expires (--lock-duration) a live worker's stalled check (every --stalled-interval) puts it back.
A chunk that throws is retried (submit's --attempts, with backoff) and then ends failed, its
cause shown by csm queue status. A job is data only and is checked before anything runs.

Options:
  --run NAME              serve only this run                   [default: every run, oldest first]
  --concurrency N         chunks explained at once in this process (each its own model session)
                                                                                     [default: 1]
  --exit-when-done        stop when no chunk is waiting, delayed or active (else wait for more)
  --lock-duration MS      a chunk's lock, renewed every half of it while it runs [default: ${DEFAULT_STALL.lockDuration}]
  --stalled-interval MS   how often to look for chunks whose worker died          [default: ${DEFAULT_STALL.stalledInterval}]
  --max-stalled N         a chunk stalling more often than this ends failed          [default: ${DEFAULT_STALL.maxStalledCount}]
  --backend, --vulkan-icd, --batch, --threads   the engine, as for csm cms
  --quiet                 no line per chunk

${REDIS_HELP}

${FRONT_END_HELP}

SIGINT or SIGTERM: finish the chunk in hand, then stop (a second one stops at once; the chunk
then goes back to the queue when its lock expires).`;

const WORKER_OPTIONS = {
  ...REDIS_OPTIONS,
  ...FRONT_END_OPTIONS,
  backend: EXPLAIN_OPTIONS.backend,
  'vulkan-icd': EXPLAIN_OPTIONS['vulkan-icd'],
  batch: EXPLAIN_OPTIONS.batch,
  threads: EXPLAIN_OPTIONS.threads,
  quiet: EXPLAIN_OPTIONS.quiet,
  help: EXPLAIN_OPTIONS.help,
  concurrency: { type: 'string' },
  'exit-when-done': { type: 'boolean' },
  'lock-duration': { type: 'string' },
  'stalled-interval': { type: 'string' },
  'max-stalled': { type: 'string' },
} as const;

/** The setup options of a chunk: its flags parsed as csm cms parses them, its spec checked as a spec file is. */
function chunkSetup(payload: ChunkPayload, engine: { backend: string; batch?: number; threads?: number }) {
  let explain;
  try {
    explain = explainOptionsFromFlags(payload.flags);
  } catch (e) {
    // A bad flag in a job is the job's fault, not this command line's.
    throw e instanceof UsageError ? new CsmError(e.message) : e;
  }
  const spec = payload.spec ? parseSpec(payload.spec, `of job ${payload.run}/${payload.chunk}`) : undefined;
  return {
    model: payload.model.name, ...(spec ? { spec } : {}), explain, ...(payload.flags.alignment ? { alignment: payload.flags.alignment } : {}),
    backend: engine.backend, ...(engine.batch ? { batch: engine.batch } : {}), ...(engine.threads ? { threads: engine.threads } : {}),
  };
}

export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, allowPositionals: false, options: WORKER_OPTIONS });
  if (values.help) { print(WORKER_HELP); return EXIT.ok; }
  const concurrency = int(values.concurrency, '--concurrency', 1, 1, 64)!;
  const lockDuration = int(values['lock-duration'], '--lock-duration', DEFAULT_STALL.lockDuration, 100, 3_600_000)!;
  const stalledInterval = int(values['stalled-interval'], '--stalled-interval', DEFAULT_STALL.stalledInterval, 100, 3_600_000)!;
  const maxStalledCount = int(values['max-stalled'], '--max-stalled', DEFAULT_STALL.maxStalledCount, 0, 1000)!;
  const batch = values.batch === undefined || values.batch === 'auto' ? undefined : int(values.batch, '--batch', 0, 1, 4096)!;
  const threads = values.threads === undefined ? undefined : int(values.threads, '--threads', 0, 1, 256)!;
  frontEndOptions(values);
  if (values['vulkan-icd']) {
    const { configureVulkanIcd } = await import('../index.js');
    const icd = configureVulkanIcd(values['vulkan-icd']);
    if (icd.action === 'unavailable') warn(`--vulkan-icd ${values['vulkan-icd']}: ${icd.message}`);
  }
  const engine = { backend: values.backend ?? 'auto', ...(batch ? { batch } : {}), ...(threads ? { threads } : {}) };
  let signals = 0;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => { stop = r; });
  const onSignal = (): void => {
    if (++signals > 1) process.exit(130);
    warn('csm worker: stopping after the chunk in hand (again to stop at once)');
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await withRedis(values, async (client, target) => {
      warn(`csm worker: ${target.shown}, ${values.run ? `run "${values.run}"` : 'every run'}, concurrency ${concurrency}`);
      const r = await runQueueWorker({
        client, target, ...(values.run ? { run: values.run } : {}), concurrency, exitWhenDone: values['exit-when-done'] ?? false,
        lockDuration, stalledInterval, maxStalledCount,
        setupOptions: async (payload) => chunkSetup(payload, engine),
        frontEnd: (setup) => frontEndFromFlags(values, setup.explainer),
        log: values.quiet ? () => {} : warn,
        stop: stopped,
      });
      warn(`csm worker: done, ${r.chunks} chunk${r.chunks === 1 ? '' : 's'} explained here`);
      return EXIT.ok;
    }, { persistent: true });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
