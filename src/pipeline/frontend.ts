/**
 * Front ends: where a CMS run gets its prepared images (decode + detection + mesh + crop, the
 * work of ImagePreparer) while the engine explains the current one (design.md, "The loop never
 * waits for the front end").
 *
 * Both front ends hand items back strictly in input order through a bounded queue: at most
 * `depth` items beyond the one the loop asked for are being prepared or waiting, so memory stays
 * flat whatever the size of the data set.
 * - `inline`: on the main thread, one item at a time, with the explainer's own preparer (the
 *   detector and mesh on the explained model's engine). Its work interleaves with the loop
 *   wherever the loop waits for a forward pass. The right one for the WebGPU engine (detector and
 *   mesh on the same device) and the fallback when workers are off; depth 0 is the serial run.
 * - `workers` (src/pipeline/workers.ts): worker threads, each with the detector and mesh on the
 *   CPU engine (onnxruntime-node, one intra-op thread).
 */
import { CsmError } from '../errors.js';
import type { Explainer } from '../saliency/explain.js';
import type { ImagePreparer, PreparedImage } from '../saliency/prepare.js';

/** One item of the input list, prepared or failed. */
export interface PreparedItem {
  /** Position in the input list. */
  index: number;
  item: string;
  /** One prepared image per photo of the item (one for an image, two for a verification pair). */
  prepared?: PreparedImage[];
  /**
   * Why the item could not be prepared. A CsmError (not a FatalError) skips the item with its
   * cause, as in a serial run; a FatalError (a front-end worker died) or any other error stops it.
   */
  error?: Error;
}

/** Counters of one stream. */
export interface FrontEndStats {
  /** Items prepared (or failed). */
  items: number;
  /** The most items ever being prepared or waiting beyond the one the loop asked for (≤ depth). */
  maxAhead: number;
  /** Seconds summed over the items, where the front end measured them (PreparedImage.timing). */
  decode: number;
  align: number;
  input: number;
}

export interface StreamOptions {
  /** First index to prepare (a resumed run starts where its checkpoint ends). Default 0. */
  from?: number;
  /** The photos of an item (default: the item itself; a pair "a|b|1" has two). */
  photos?: (item: string) => string[];
  /** Test and bench hook: called after each start with the number of items ahead. */
  onAhead?: (ahead: number) => void;
}

/** Items in input order. One consumer; `next` is called once per item, in order. */
export interface PreparedStream {
  /** The next item (never rejects: failures come back in `error`). */
  next(): Promise<PreparedItem>;
  /** Stops preparing ahead; waits for work already started. */
  close(): Promise<void>;
  readonly stats: FrontEndStats;
}

export interface FrontEnd {
  readonly kind: 'inline' | 'workers';
  /** For logs and sidecars, e.g. "workers (2 threads, depth 2)". */
  readonly description: string;
  /** Items prepared ahead of the one being explained, at most. */
  readonly depth: number;
  /** Starts preparing `items`; one stream at a time. */
  stream(items: readonly string[], options?: StreamOptions): PreparedStream;
  /** Ends the front end (its workers); the explainer stays open. */
  close(): Promise<void>;
}

/** Prepares the photos of one item; rejects with the item's error. */
export type PrepareItem = (photos: string[]) => Promise<PreparedImage[]>;

interface Slot { promise: Promise<PreparedItem>; resolve: (p: PreparedItem) => void }

/**
 * The ordered, bounded prefetch both front ends share: items are started in input order, at most
 * `concurrency` at once and never more than `depth` beyond the last one asked for; each result
 * waits in its slot until the consumer takes it.
 */
export class PrefetchStream implements PreparedStream {
  readonly stats: FrontEndStats = { items: 0, maxAhead: 0, decode: 0, align: 0, input: 0 };
  private readonly slots = new Map<number, Slot>();
  private readonly running = new Set<Promise<void>>();
  private readonly photos: (item: string) => string[];
  /** Next index to start. */
  private started: number;
  /** Indices below this have been asked for. */
  private asked: number;
  private closed = false;

  constructor(
    private readonly items: readonly string[],
    private readonly depth: number,
    private readonly concurrency: number,
    private readonly prepare: PrepareItem,
    private readonly options: StreamOptions = {},
    private readonly onClose?: () => void,
  ) {
    if (!Number.isInteger(depth) || depth < 0) throw new CsmError(`front end: depth must be a whole number ≥ 0, got ${depth}`);
    const from = options.from ?? 0;
    this.started = from;
    this.asked = from;
    this.photos = options.photos ?? ((item) => [item]);
    this.pump();
  }

  private slot(index: number): Slot {
    let s = this.slots.get(index);
    if (!s) {
      let resolve!: (p: PreparedItem) => void;
      const promise = new Promise<PreparedItem>((r) => { resolve = r; });
      s = { promise, resolve };
      this.slots.set(index, s);
    }
    return s;
  }

  /** Starts items while a place is free and the queue ahead of the consumer is not full. */
  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency && this.started < this.items.length && this.started < this.asked + this.depth) {
      const index = this.started++;
      const item = this.items[index]!;
      const ahead = this.started - this.asked;
      if (ahead > this.stats.maxAhead) this.stats.maxAhead = ahead;
      this.options.onAhead?.(ahead);
      const slot = this.slot(index);
      const task = (async () => {
        let result: PreparedItem;
        try {
          const prepared = await this.prepare(this.photos(item));
          for (const p of prepared) {
            if (!p.timing) continue;
            this.stats.decode += p.timing.decode;
            this.stats.align += p.timing.align;
            this.stats.input += p.timing.input;
          }
          result = { index, item, prepared };
        } catch (e) {
          result = { index, item, error: e instanceof Error ? e : new Error(String(e)) };
        }
        this.stats.items++;
        slot.resolve(result);
      })();
      this.running.add(task);
      void task.finally(() => { this.running.delete(task); this.pump(); });
    }
  }

  next(): Promise<PreparedItem> {
    const index = this.asked;
    if (index >= this.items.length) return Promise.reject(new CsmError(`front end: asked for item ${index + 1} of ${this.items.length}`));
    // Counting the item as asked for before it is ready lets the queue fill `depth` items beyond it.
    this.asked++;
    this.pump();
    const slot = this.slot(index);
    return slot.promise.then((r) => { this.slots.delete(index); return r; });
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.running.size) await Promise.all([...this.running]);
    this.slots.clear();
    this.onClose?.();
  }
}

/** Main-thread front end: the explainer's own preparer, one item at a time, prefetching. */
export class InlineFrontEnd implements FrontEnd {
  readonly kind = 'inline';
  readonly description: string;
  private active: PreparedStream | undefined;

  constructor(private readonly preparer: ImagePreparer, readonly depth = DEFAULT_DEPTH) {
    this.description = depth === 0 ? 'inline (serial)' : `inline (depth ${depth})`;
  }

  stream(items: readonly string[], options?: StreamOptions): PreparedStream {
    if (this.active) throw new CsmError('front end: one stream at a time (close the previous one first)');
    const prepare: PrepareItem = async (photos) => {
      const out: PreparedImage[] = [];
      for (const photo of photos) out.push(await this.preparer.prepare(photo));
      return out;
    };
    this.active = new PrefetchStream(items, this.depth, 1, prepare, options, () => { this.active = undefined; });
    return this.active;
  }

  async close(): Promise<void> {
    await this.active?.close();
  }
}

/** Items prepared ahead of the one being explained, by default. */
export const DEFAULT_DEPTH = 2;

export type FrontEndKind = 'auto' | 'inline' | 'workers';

export interface FrontEndOptions {
  /**
   * auto (the default): workers when the explained model runs on the CPU engine, inline on any
   * other engine. Why (bench/results/pipeline-cpu-local-2cpu.md, 2 cores, stride 4):
   * - On the CPU engine the workers' detector and mesh are the serial run's (onnxruntime-node's CPU
   *   provider), so maps are byte-identical, and the front end leaves the thread that drives the
   *   loop: wall per image / loop alone was 1.03–1.05 with workers against 1.07–1.12 serial and
   *   1.09–1.15 inline on csm-celeba100 (inline decodes on the loop's thread).
   * - On another engine (WebGPU) the serial run detects and meshes on that device: inline keeps
   *   them there, so the maps are the serial run's (workers would detect on the CPU instead).
   */
  kind?: FrontEndKind;
  /** Worker threads (workers front end). Default: {@link defaultWorkers}. */
  workers?: number;
  /** Items prepared ahead (default {@link DEFAULT_DEPTH}). */
  depth?: number;
  /** Testing only: a worker exits (code 3) when asked to prepare this photo. */
  crashOn?: string;
}

/** True for the engines whose detector and mesh the workers reproduce exactly (onnxruntime-node's CPU). */
export function runsOnCpu(explainer: Explainer): boolean {
  return explainer.session.engine === 'cpu';
}

/** The front end for an explainer: inline or worker threads (see {@link FrontEndOptions.kind}). */
export async function createFrontEnd(explainer: Explainer, options: FrontEndOptions = {}): Promise<FrontEnd> {
  const kind = options.kind ?? 'auto';
  const depth = options.depth ?? DEFAULT_DEPTH;
  const useWorkers = kind === 'workers' || (kind === 'auto' && runsOnCpu(explainer) && depth > 0);
  if (!useWorkers) return new InlineFrontEnd(explainer.preparer, depth);
  const { WorkerFrontEnd, defaultWorkers } = await import('./workers.js');
  return WorkerFrontEnd.start(explainer, { workers: options.workers ?? defaultWorkers(), depth, ...(options.crashOn ? { crashOn: options.crashOn } : {}) });
}
