/**
 * Run by probe.ts in a child process (never imported): loads Dawn, asks it for adapters in the
 * ways csm does, and prints one JSON line (a ProbeOutput) on stdout. Dawn's own warnings go to this
 * process's stderr, which the parent captures, so they never reach the user's terminal.
 */
import type { ProbeAdapter, ProbeOutput, ProbeRequest } from './probe.js';

const REQUESTS: { request: ProbeRequest['request']; options: Record<string, string> }[] = [
  { request: 'default', options: {} },
  { request: 'high-performance', options: { powerPreference: 'high-performance' } },
  { request: 'compatibility', options: { featureLevel: 'compatibility' } },
];

function describe(adapter: GPUAdapter): ProbeAdapter {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const l = adapter.limits;
  const features = [...adapter.features].map(String).sort();
  return {
    vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
    isFallbackAdapter: Boolean(info.isFallbackAdapter),
    featureLevel: features.includes('core-features-and-limits') ? 'core' : 'compatibility',
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
    features,
  };
}

function emit(out: ProbeOutput): void {
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
}

let binding: { create: (options: string[]) => GPU };
try {
  binding = (await import('webgpu')) as unknown as typeof binding;
} catch (e) {
  emit({ loaded: false, error: `the WebGPU binding (npm package "webgpu") cannot load: ${(e as Error).message}`, requests: [] });
  await new Promise(() => { /* emit exits */ });
}
// Dawn's instance must stay reachable while adapters live (platform.md, crash 1).
const gpu = binding!.create([]);
(globalThis as { csmProbeGpu?: GPU }).csmProbeGpu = gpu;
const requests: ProbeRequest[] = [];
for (const { request, options } of REQUESTS) {
  try {
    const adapter = await gpu.requestAdapter(options as GPURequestAdapterOptions);
    requests.push({ request, adapter: adapter ? describe(adapter) : null });
  } catch (e) {
    // An option this Dawn does not know (featureLevel in old builds) is refused, not ignored.
    requests.push({ request, adapter: null, unsupported: (e as Error).message.split('\n')[0]! });
  }
}
emit({ loaded: true, requests });
