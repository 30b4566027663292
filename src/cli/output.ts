/** How the CLI talks: results to stdout, messages and errors to stderr, and its exit codes. */
import { CsmError } from '../errors.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A mistake in the command line itself; printed with a pointer to --help. */
export class UsageError extends Error {}

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function warn(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Maps an error to a message and exit code; unexpected errors keep their stack for bug reports. */
export function report(e: unknown, command: string): number {
  // node:util parseArgs reports unknown flags and missing values with ERR_PARSE_ARGS_* codes.
  const parseArgsError = typeof (e as { code?: unknown })?.code === 'string' && (e as { code: string }).code.startsWith('ERR_PARSE_ARGS');
  if (e instanceof UsageError || parseArgsError) {
    warn(`csm ${command}: ${(e as Error).message}\nRun "csm ${command} --help" for usage.`);
    return EXIT.usage;
  }
  if (e instanceof CsmError) {
    warn(`csm ${command}: ${e.message}`);
    return EXIT.failure;
  }
  warn(`csm ${command}: unexpected error: ${(e as Error)?.stack ?? String(e)}`);
  return EXIT.failure;
}

/** Fixed-width table for terminal listings. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, k) => Math.max(...rows.map((r) => (r[k] ?? '').length)));
  return rows.map((r) => r.map((c, k) => (k === r.length - 1 ? c : c.padEnd(widths[k]!))).join('  ')).join('\n');
}
