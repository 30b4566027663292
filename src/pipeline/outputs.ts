/**
 * Output writing off the loop's critical path (design.md: "outputs are written off the critical
 * path"): per-image outputs and checkpoints are queued and run one after another, in order,
 * while the loop goes on with the next image. The queue is bounded (`push` waits while `limit`
 * tasks are pending), so results waiting to be written never pile up.
 *
 * Order is what keeps checkpoints consistent: a checkpoint queued after image k's outputs runs
 * only once they succeeded, and after any task fails no later task runs; the failure is thrown
 * by the next `push` or by `drain`.
 */
export class OutputQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private failure: { error: unknown } | undefined;
  private readonly waiters: (() => void)[] = [];
  /** Seconds spent running tasks (their own time, whether or not the loop was waiting). */
  seconds = 0;
  /** Seconds `push` spent waiting for a free place (the loop stalled by outputs). */
  stalled = 0;

  /** `limit` 0 writes in line: `push` returns when its task is done (the serial behaviour). */
  constructor(readonly limit = 4) {}

  /** Queues `task`; throws the failure of an earlier task instead, if there was one. */
  async push(task: () => Promise<void> | void): Promise<void> {
    this.check();
    const t0 = performance.now();
    while (this.pending >= Math.max(1, this.limit)) {
      await new Promise<void>((r) => this.waiters.push(r));
      this.check();
    }
    this.stalled += (performance.now() - t0) / 1000;
    this.pending++;
    this.tail = this.tail.then(async () => {
      try {
        if (this.failure) return;
        // Let the loop start its next forward pass before this task takes the thread.
        if (this.limit > 0) await new Promise<void>((r) => setImmediate(r));
        const t1 = performance.now();
        try {
          await task();
        } finally {
          this.seconds += (performance.now() - t1) / 1000;
        }
      } catch (e) {
        this.failure ??= { error: e };
      } finally {
        this.pending--;
        this.waiters.shift()?.();
      }
    });
    if (this.limit === 0) await this.drain();
  }

  /** Waits for every queued task; throws the first failure. */
  async drain(): Promise<void> {
    while (this.pending > 0) await this.tail;
    this.check();
  }

  /** Waits for every queued task, ignoring failures (when the run is failing already). */
  async settle(): Promise<void> {
    while (this.pending > 0) await this.tail;
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}
