/**
 * Which WebGPU adapters Dawn finds, asked in a child process (probe-child.js): Dawn prints its
 * warnings straight to the process's stderr and can crash or hang inside a bad driver, and neither
 * may reach or stop the process that asked. The child's stderr is kept (for --verbose) and mined
 * for the few lines that say why no adapter was found.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Env } from './icd.js';

export interface ProbeAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** `core` when the adapter has the `core-features-and-limits` feature. */
  featureLevel: 'core' | 'compatibility';
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupsPerDimension: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupStorageSize: number;
    maxStorageBuffersPerShaderStage: number;
  };
  features: string[];
}

export interface ProbeRequest {
  /** `default`: requestAdapter(); `high-performance`: what the webgpu engine asks for; `compatibility`: featureLevel 'compatibility'. */
  request: 'default' | 'high-performance' | 'compatibility';
  adapter: ProbeAdapter | null;
  /** Set when this Dawn refuses the request's options. */
  unsupported?: string;
}

/** What the child prints. */
export interface ProbeOutput {
  loaded: boolean;
  error?: string;
  requests: ProbeRequest[];
}

export interface ProbeResult extends ProbeOutput {
  /** A sentence saying why the probe gave no answer (crash, hang, no output); absent when it answered. */
  failure?: string;
  /** Dawn's lines that explain a missing adapter (e.g. "vkCreateInstance: Found no drivers!"). */
  dawnMessages: string[];
  /** The child's whole stderr, for --verbose. */
  stderr: string;
  seconds: number;
}

/** The compiled child script. */
export const PROBE_CHILD = fileURLToPath(new URL('./probe-child.js', import.meta.url));

/** A software adapter: Dawn's flag, or a known software rasteriser (the webgpu engine's test too, runtime.ts). */
export function isSoftwareAdapter(a: Pick<ProbeAdapter, 'isFallbackAdapter' | 'device' | 'description'>): boolean {
  return a.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(`${a.device} ${a.description}`);
}

const NOTABLE = /couldn't load|could not load|found no drivers|VK_ERROR|no adapter|not supported|failed|required|cannot|unable/i;

/** The few stderr lines worth showing without --verbose. */
export function notableDawnLines(stderr: string): string[] {
  const lines = stderr.split('\n')
    .map((l) => l.replace(/^\s*(warning|error):\s*/i, '').trim())
    .filter((l) => l && !/^at /.test(l) && !/artificially reduced/.test(l) && NOTABLE.test(l));
  return [...new Set(lines)].slice(0, 6);
}

/**
 * Runs the probe with `env` (default process.env; pass the env configureVulkanIcd changed). Never
 * throws: a crash, hang or garbled answer becomes `failure`.
 */
export function probeAdapters(options: { env?: Env; timeoutMs?: number; child?: string } = {}): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = options.child ?? PROBE_CHILD;
  const t0 = performance.now();
  return new Promise((done) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const finish = (partial: Partial<ProbeResult>): void => {
      done({ loaded: false, requests: [], ...partial, dawnMessages: notableDawnLines(stderr), stderr, seconds: (performance.now() - t0) / 1000 });
    };
    let proc;
    try {
      proc = spawn(process.execPath, [child], { env: (options.env ?? process.env) as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      finish({ failure: `The WebGPU probe could not be started (${(e as Error).message}).` });
      return;
    }
    proc.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    // Bounded: a driver that loops printing warnings must not fill the memory.
    proc.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < 1 << 20) stderr += s; });
    const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      finish({ failure: `The WebGPU probe could not be started (${e.message}).` });
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split('\n').pop() ?? '';
      let parsed: ProbeOutput | undefined;
      try { parsed = JSON.parse(line) as ProbeOutput; } catch { parsed = undefined; }
      if (parsed && Array.isArray(parsed.requests)) {
        finish(parsed);
      } else if (timedOut) {
        finish({ failure: `The WebGPU probe (Dawn, in a child process) gave no answer within ${Math.round(timeoutMs / 1000)} s and was stopped: a GPU driver hangs while Dawn starts. Run "csm doctor --verbose" to see Dawn's messages; "--backend cpu" avoids the GPU.` });
      } else if (signal || (code !== null && code > 128)) {
        finish({ failure: `The WebGPU probe (Dawn, in a child process) crashed (${signal ?? `exit code ${code}`}) while looking for adapters: Dawn or a GPU driver failed at start-up. Run "csm doctor --verbose" to see Dawn's messages; "--backend cpu" avoids the GPU.` });
      } else {
        finish({ failure: `The WebGPU probe (Dawn, in a child process) ended with exit code ${code} without an answer. Run "csm doctor --verbose" to see its messages.` });
      }
    });
  });
}

/** What makes two answers the same adapter. */
export function adapterKey(a: ProbeAdapter): string {
  return JSON.stringify([a.vendor, a.architecture, a.device, a.description, a.isFallbackAdapter, a.featureLevel]);
}

/** Distinct adapters over all requests (the requests often return the same one). */
export function distinctAdapters(probe: ProbeOutput): ProbeAdapter[] {
  const seen = new Map<string, ProbeAdapter>();
  for (const r of probe.requests) if (r.adapter && !seen.has(adapterKey(r.adapter))) seen.set(adapterKey(r.adapter), r.adapter);
  return [...seen.values()];
}

/**
 * What `--backend auto` would pick: the webgpu engine asks Dawn for a high-performance adapter
 * and uses it only when it is hardware; else the CPU engine.
 */
export function autoChoice(probe: ProbeResult): { engine: 'webgpu' | 'cpu'; reason: string } {
  if (probe.failure) return { engine: 'cpu', reason: 'the WebGPU probe failed (above)' };
  if (!probe.loaded) return { engine: 'cpu', reason: probe.error ?? 'Dawn cannot load' };
  const a = probe.requests.find((r) => r.request === 'high-performance')?.adapter ?? probe.requests.find((r) => r.request === 'default')?.adapter;
  if (!a) return { engine: 'cpu', reason: 'Dawn finds no WebGPU adapter' };
  const name = `${a.vendor || '?'} ${a.device || a.architecture || a.description}`.trim();
  if (isSoftwareAdapter(a)) return { engine: 'cpu', reason: `the only adapter is a software one (${name}); the CPU engine is faster there, and --backend webgpu forces it` };
  return { engine: 'webgpu', reason: `hardware adapter ${name}` };
}
