/**
 * The worker-thread front end: N workers, each with its own ImagePreparer (the detector and the
 * mesh on the CPU engine, one intra-op thread), fed one item at a time by the ordered, bounded
 * PrefetchStream. Prepared images come back with their typed arrays in the transfer list; errors
 * come back as records and are revived as the same CsmError classes (wire.ts).
 *
 * A worker that dies (exits, or throws outside an item) ends the front end: the item it was
 * preparing, and every item started after that, fail with a FrontEndWorkerError, a FatalError, so
 * that a CMS run checkpoints what it has and stops with a clear message instead of hanging.
 * Workers are unref'ed while idle, so a front end left open never keeps the process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FatalError } from '../errors.js';
import type { ExternalLayout } from '../face/external.js';
import type { InputSpec } from '../models/spec.js';
import type { ExplainOptions, Explainer } from '../saliency/explain.js';
import type { PreparedImage } from '../saliency/prepare.js';
import { DEFAULT_DEPTH, PrefetchStream, type FrontEnd, type PreparedStream, type StreamOptions } from './frontend.js';
import { fromWireError, type WireError } from './wire.js';

/** A front-end worker died; the run cannot go on with fewer front-end workers than it planned. */
export class FrontEndWorkerError extends FatalError {}

/** What a worker needs to build the same preparer as the explainer's (structured-cloneable). */
export interface WorkerInit {
  input: InputSpec;
  options: ExplainOptions;
  external?: { dir: string; stride: number; layout: ExternalLayout };
  /** Testing only: exit with code 3 when asked to prepare this photo. */
  crashOn?: string;
}

/** Worker → main thread. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'init-failed'; error: WireError }
  | { type: 'done'; prepared: PreparedImage[] }
  | { type: 'failed'; error: WireError };

/** Main thread → worker. */
export type WorkerRequest = { type: 'prepare'; photos: string[] } | { type: 'close' };

/**
 * Front-end workers when none are asked for: one per core left after the explained model's, at
 * least 1 and at most 2. On 2 cores that is 1 (measured: bench/results/pipeline-*.md); the
 * front end of a 178×218 photo costs a small fraction of the occlusion loop, so a second worker
 * only pays off for large photos on machines with spare cores.
 */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

interface Task { photos: string[]; resolve: (p: PreparedImage[]) => void; reject: (e: Error) => void }

class FrontEndWorker {
  readonly worker: Worker;
  task: Task | undefined;
  closing = false;
  dead = false;
  private lastError: Error | undefined;
  /** Settles once: 'ready', or the reason the worker could not start. */
  readonly ready: Promise<void>;

  constructor(readonly id: number, init: WorkerInit, private readonly died: (w: FrontEndWorker, e: FrontEndWorkerError) => void) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    let started = false;
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (m: WorkerReply) => {
        if (m.type === 'ready') { started = true; this.worker.unref(); resolve(); return; }
        if (m.type === 'init-failed') { reject(fromWireError(m.error, `front-end worker ${id}`)); return; }
        const task = this.task;
        this.task = undefined;
        this.worker.unref();
        if (!task) return;
        if (m.type === 'done') task.resolve(m.prepared);
        else task.reject(fromWireError(m.error, `front-end worker ${id}`));
      });
      this.worker.on('error', (e) => { this.lastError = e; });
      // A reply that cannot be read would leave its item waiting for ever: fail it instead.
      this.worker.on('messageerror', (e) => {
        const task = this.task;
        this.task = undefined;
        task?.reject(new FrontEndWorkerError(`front-end worker ${id}: its reply for "${task.photos.join('", "')}" could not be read: ${e.message}`, { cause: e }));
      });
      this.worker.on('exit', (code) => {
        this.dead = true;
        if (this.closing) return;
        const doing = this.task ? ` while preparing "${this.task.photos.join('", "')}"` : '';
        const cause = this.lastError ? `: ${this.lastError.message}` : '';
        const error = new FrontEndWorkerError(`front-end worker ${id} died (exit code ${code})${doing}${cause}`, { cause: this.lastError });
        if (!started) reject(error);
        this.task?.reject(error);
        this.task = undefined;
        this.died(this, error);
      });
    });
    this.ready.catch(() => undefined);
  }

  run(task: Task): void {
    this.task = task;
    this.worker.ref();
    this.worker.postMessage({ type: 'prepare', photos: task.photos } satisfies WorkerRequest);
  }

  async close(): Promise<void> {
    if (this.dead) return;
    this.closing = true;
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.ref();
    this.worker.postMessage({ type: 'close' } satisfies WorkerRequest);
    // A worker that does not finish its goodbye in time is stopped.
    const timer = setTimeout(() => void this.worker.terminate(), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface WorkerFrontEndOptions {
  workers: number;
  depth?: number;
  crashOn?: string;
}

/** Front end on worker threads; start it with {@link WorkerFrontEnd.start} (or createFrontEnd). */
export class WorkerFrontEnd implements FrontEnd {
  readonly kind = 'workers';
  readonly description: string;
  private readonly idle: FrontEndWorker[] = [];
  private readonly waiting: Task[] = [];
  private broken: FrontEndWorkerError | undefined;
  private active: PreparedStream | undefined;
  private closed = false;

  private constructor(private readonly workers: FrontEndWorker[], readonly depth: number) {
    this.idle.push(...workers);
    this.description = `workers (${workers.length} thread${workers.length === 1 ? '' : 's'}, depth ${depth})`;
  }

  /**
   * Starts the workers and waits until each has opened its models: a model that cannot load is
   * an error here, before the run, not a skip of every image.
   */
  static async start(explainer: Explainer, options: WorkerFrontEndOptions): Promise<WorkerFrontEnd> {
    const count = options.workers;
    if (!Number.isInteger(count) || count < 1) throw new FatalError(`front end: workers must be a whole number ≥ 1, got ${count}`);
    const ext = explainer.external;
    const init: WorkerInit = {
      input: explainer.spec.input,
      options: explainer.options,
      ...(ext ? { external: { dir: ext.dir, stride: ext.stride, layout: { ...ext.layout } } } : {}),
      ...(options.crashOn ? { crashOn: options.crashOn } : {}),
    };
    let front: WorkerFrontEnd | undefined;
    const workers = Array.from({ length: count }, (_, k) => new FrontEndWorker(k + 1, init, (w, e) => front?.lost(w, e)));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw e;
    }
    front = new WorkerFrontEnd(workers, options.depth ?? Math.max(DEFAULT_DEPTH, count));
    return front;
  }

  private lost(w: FrontEndWorker, e: FrontEndWorkerError): void {
    this.broken ??= e;
    const at = this.idle.indexOf(w);
    if (at >= 0) this.idle.splice(at, 1);
    for (const t of this.waiting.splice(0)) t.reject(this.broken);
  }

  private run(photos: string[]): Promise<PreparedImage[]> {
    return new Promise<PreparedImage[]>((resolve, reject) => {
      if (this.broken) { reject(this.broken); return; }
      this.waiting.push({
        photos,
        resolve: (p) => { resolve(p); this.release(); },
        reject: (e) => { reject(e); this.release(); },
      });
      this.dispatch();
    });
  }

  /** A task settled: its worker (if alive) takes the next waiting task. */
  private release(): void {
    for (const w of this.workers) if (!w.task && !w.dead && !w.closing && !this.idle.includes(w)) this.idle.push(w);
    this.dispatch();
  }

  private dispatch(): void {
    while (this.idle.length && this.waiting.length) this.idle.shift()!.run(this.waiting.shift()!);
  }

  stream(items: readonly string[], options?: StreamOptions): PreparedStream {
    if (this.closed) throw new FatalError('front end: already closed');
    if (this.active) throw new FatalError('front end: one stream at a time (close the previous one first)');
    this.active = new PrefetchStream(items, this.depth, this.workers.length, (photos) => this.run(photos), options, () => { this.active = undefined; });
    return this.active;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.active?.close();
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
