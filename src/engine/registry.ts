/**
 * Engines by name with a priority, in the manner of onnxruntime-web's backend registry: `auto`
 * tries them from the highest priority down, remembers why each failed, and if none starts
 * throws one error that lists every engine's reason.
 */
import { CsmError } from '../errors.js';
import type { ResolvedModel } from '../models/load.js';
import type { Engine, EngineOptions, EngineSession, ModelOpener } from './types.js';

/** `auto` is true when the engine is being tried by `--backend auto` (it may then refuse, e.g. a software GPU). */
interface Registered { load: (auto: boolean) => Promise<Engine>; priority: number }

const ENGINES = new Map<string, Registered>();

export function registerEngine(name: string, load: (auto: boolean) => Promise<Engine>, priority: number): void {
  ENGINES.set(name, { load, priority });
}

export function engineNames(): string[] {
  return [...ENGINES.entries()].sort((a, b) => b[1].priority - a[1].priority).map(([n]) => n);
}

export class NoEngineError extends CsmError {}

/** Opens `model` on the named engine, or on the first that starts for `auto`. */
export async function openEngine(choice: string, model: ResolvedModel, options: EngineOptions = {}): Promise<EngineSession> {
  const names = choice === 'auto' ? engineNames() : [choice];
  const reasons: string[] = [];
  for (const name of names) {
    const entry = ENGINES.get(name);
    if (!entry) throw new NoEngineError(`unknown backend "${name}" (backends: auto, ${engineNames().join(', ')})`);
    try {
      return await (await entry.load(choice === 'auto')).open(model, options);
    } catch (e) {
      if (choice !== 'auto') throw e;
      reasons.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new NoEngineError(`no backend could start:\n  ${reasons.join('\n  ')}`);
}

/** A ModelOpener for a backend choice: how a stage that runs models is told where to run them. */
export function engineOpener(choice: string, defaults: EngineOptions = {}): ModelOpener {
  return (model, options = {}) => openEngine(choice, model, { ...defaults, ...options });
}

/** Where a caller names no engine: the CPU reference. */
export const cpuOpener: ModelOpener = engineOpener('cpu');

// A new engine is one folder under src/engine/ and one line here.
registerEngine('cpu', async () => (await import('./cpu/engine.js')).cpuEngine, 0);
// The GPU engine goes first under auto, but only on a real (hardware) adapter. Under auto, Dawn is
// asked first in a child process, so that on a machine without a GPU its warnings never reach the
// user and Dawn is not loaded into this process at all.
registerEngine('webgpu', async (auto) => {
  if (auto) {
    const { autoChoice, probeAdapters } = await import('./webgpu/probe.js');
    const choice = autoChoice(await probeAdapters({ timeoutMs: 20_000 }));
    if (choice.engine !== 'webgpu') throw new NoEngineError(`not used: ${choice.reason}`);
  }
  return (await import('./webgpu/engine.js')).webgpuEngine(!auto);
}, 10);
