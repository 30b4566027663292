/**
 * The front-end flags of commands that explain a data set (cms): which front end prepares the
 * next images while the engine explains this one, and how far ahead. Parsed here so the commands
 * stay thin; the choice itself is the library's (createFrontEnd).
 */
import type { ParseArgsConfig } from 'node:util';
import { createFrontEnd, DEFAULT_DEPTH, defaultWorkers, type Explainer, type FrontEnd, type FrontEndKind } from '../index.js';
import { UsageError } from './output.js';

export const FRONT_END_OPTIONS = {
  'front-end': { type: 'string' },
  workers: { type: 'string' },
  prefetch: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const FRONT_END_HELP = `Front end (decode, detection and mesh of the next images while the engine explains this one):
  --front-end auto|workers|inline
                          workers: worker threads, detector and mesh on the CPU engine (1 thread
                          each); inline: this thread, on the model's engine, prefetching
                          [default: auto = workers with --backend cpu, inline on a GPU]
  --workers N             front-end worker threads                 [default: ${defaultWorkers()} here]
  --prefetch N            images prepared ahead of the one being explained (0: serial)
                                                                   [default: ${DEFAULT_DEPTH}]`;

type Values = { [K in keyof typeof FRONT_END_OPTIONS]?: string };

/** The front-end options the flags ask for; a usage error before any work when they are wrong. */
export function frontEndOptions(values: Values): { kind: FrontEndKind; workers?: number; depth?: number } {
  const kinds: FrontEndKind[] = ['auto', 'workers', 'inline'];
  const kind = (values['front-end'] ?? 'auto') as FrontEndKind;
  if (!kinds.includes(kind)) throw new UsageError(`--front-end takes ${kinds.join(' | ')}, got "${values['front-end']}"`);
  const count = (v: string | undefined, flag: string, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > 64) throw new UsageError(`${flag} takes a whole number from ${min} to 64, got "${v}"`);
    return n;
  };
  const workers = count(values.workers, '--workers', 1);
  const depth = count(values.prefetch, '--prefetch', 0);
  return { kind, ...(workers ? { workers } : {}), ...(depth !== undefined ? { depth } : {}) };
}

/** The front end the flags ask for (the caller closes it). */
export async function frontEndFromFlags(values: Values, explainer: Explainer): Promise<FrontEnd> {
  return createFrontEnd(explainer, frontEndOptions(values));
}
