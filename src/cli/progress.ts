/**
 * Progress for long runs: a bar with rate and ETA redrawn in place on a terminal (one line, cut to
 * the terminal's width so that it never wraps); plain lines (at most one per percent or every
 * 10 s) when stderr is a file or a pipe, so logs stay readable.
 */
export class Progress {
  private lastLine = 0;
  private lastPercent = -1;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly label: string, private readonly enabled = true) {}

  update(done: number, total: number, elapsed: number, note = ''): void {
    if (!this.enabled) return;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (total - done) / rate : 0;
    const percent = total ? Math.floor((100 * done) / total) : 100;
    const text = `${this.label} ${done}/${total} (${percent}%) ${rate.toFixed(2)}/s ETA ${formatSeconds(eta)}${note ? `  ${note}` : ''}`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round((width * done) / Math.max(1, total));
      const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`;
      // A line longer than the terminal wraps, and '\r' then returns to its last row only.
      const columns = process.stderr.columns;
      process.stderr.write(`\r${columns && line.length >= columns ? line.slice(0, columns - 1) : line}\x1b[K`);
      if (done >= total) process.stderr.write('\n');
      return;
    }
    const now = performance.now();
    if (percent !== this.lastPercent || now - this.lastLine > 10_000 || done >= total) {
      process.stderr.write(`${text}\n`);
      this.lastPercent = percent;
      this.lastLine = now;
    }
  }

  /** A message that must not be overwritten by the bar. */
  note(message: string): void {
    process.stderr.write(`${this.tty ? '\r\x1b[K' : ''}${message}\n`);
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}
