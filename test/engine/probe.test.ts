/**
 * The WebGPU probe's child-process handling (crash, hang, garbage, answers) with fake children,
 * and what doctor concludes from an answer. The real probe runs in test/cli/doctor.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { autoChoice, distinctAdapters, notableDawnLines, probeAdapters, type ProbeAdapter, type ProbeOutput, type ProbeResult } from '../../src/engine/webgpu/probe.js';
import { diagnoseVulkan, inspectVulkan, type VulkanReport } from '../../src/engine/webgpu/icd.js';
import { formatDoctor, headlineOf } from '../../src/cli/doctor.js';

const dir = mkdtempSync(join(tmpdir(), 'csm-probe-'));
function child(name: string, body: string): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, body);
  return file;
}

const adapter = (over: Partial<ProbeAdapter>): ProbeAdapter => ({
  vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: 'NVIDIA: 550.90.07', isFallbackAdapter: false, featureLevel: 'core',
  limits: { maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 32, maxComputeWorkgroupsPerDimension: 65535, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 49152, maxStorageBuffersPerShaderStage: 16 },
  features: ['core-features-and-limits'], ...over,
});
const lavapipe = adapter({ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15', description: 'llvmpipe: Mesa 25.0.7', isFallbackAdapter: true });
const answer = (a: ProbeAdapter | null): ProbeResult => ({
  loaded: true, requests: (['default', 'high-performance', 'compatibility'] as const).map((request) => ({ request, adapter: a })), dawnMessages: [], stderr: '', seconds: 0.1,
});

test('a child that answers: its JSON is returned and its stderr kept apart', async () => {
  const out: ProbeOutput = { loaded: true, requests: [{ request: 'default', adapter: lavapipe }] };
  const r = await probeAdapters({ child: child('ok', `process.stderr.write('Warning: vkCreateInstance: Found no drivers!\\n    at Foo (x.cpp:1)\\n'); console.log(${JSON.stringify(JSON.stringify(out))});`) });
  assert.is(r.failure, undefined);
  assert.equal(r.requests, out.requests);
  assert.equal(r.dawnMessages, ['vkCreateInstance: Found no drivers!']);
  assert.match(r.stderr, /at Foo/);
});

test('a child that crashes, hangs, or prints garbage: a clear sentence, never a throw', async () => {
  const crash = await probeAdapters({ child: child('crash', `process.stderr.write('Segmentation fault in driver\\n'); process.kill(process.pid, 'SIGSEGV');`) });
  assert.match(crash.failure!, /crashed \(SIGSEGV\) while looking for adapters/);
  assert.match(crash.failure!, /--backend cpu/);
  const t0 = Date.now();
  const hang = await probeAdapters({ timeoutMs: 500, child: child('hang', 'setInterval(() => {}, 1000);') });
  assert.ok(Date.now() - t0 < 30_000, 'the hung child is stopped, not waited on');
  assert.match(hang.failure!, /gave no answer within 1 s and was stopped/);
  const garbage = await probeAdapters({ child: child('garbage', 'console.log("hello"); process.exitCode = 3;') });
  assert.match(garbage.failure!, /ended with exit code 3 without an answer/);
  const missing = await probeAdapters({ child: join(dir, 'nope.mjs') });
  assert.match(missing.failure!, /ended with exit code 1 without an answer/);
  for (const r of [crash, hang, garbage]) assert.is(autoChoice(r).engine, 'cpu');
});

test('auto picks webgpu only on a hardware adapter', () => {
  assert.equal(autoChoice(answer(adapter({}))), { engine: 'webgpu', reason: 'hardware adapter nvidia NVIDIA H200' });
  assert.is(autoChoice(answer(lavapipe)).engine, 'cpu');
  assert.match(autoChoice(answer(lavapipe)).reason, /software/);
  // A software rasteriser that does not set isFallbackAdapter is still software.
  assert.is(autoChoice(answer(adapter({ isFallbackAdapter: false, vendor: 'google', device: 'SwiftShader Device' }))).engine, 'cpu');
  assert.equal(autoChoice(answer(null)), { engine: 'cpu', reason: 'Dawn finds no WebGPU adapter' });
  assert.is(distinctAdapters(answer(lavapipe)).length, 1);
});

test('notable Dawn lines skip noise', () => {
  assert.equal(notableDawnLines('Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16\nWarning: Couldn\'t load Vulkan: libvulkan.so.1\n    at X (y.cpp:2)\n'), ['Couldn\'t load Vulkan: libvulkan.so.1']);
});

function fakeVulkan(nvidia: boolean, caps?: string): VulkanReport {
  const root = mkdtempSync(join(tmpdir(), 'csm-probe-root-'));
  const env: Record<string, string> = { PATH: '/usr/bin', HOME: '/home/u' };
  if (caps) env['NVIDIA_DRIVER_CAPABILITIES'] = caps;
  if (nvidia) {
    const r = inspectVulkan(root, env);
    r.nvidia.present = true;
    r.nvidia.kernelDriver = 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.90.07';
    if (caps) r.nvidia.graphicsCapability = false;
    return r;
  }
  return inspectVulkan(root, env);
}

test('doctor\'s verdict: NVIDIA present without an adapter names the cause and the fix', () => {
  const v = fakeVulkan(true, 'compute,utility');
  const findings = diagnoseVulkan(v);
  const h = headlineOf(answer(null), v, findings);
  assert.match(h, /^An NVIDIA driver is present, but Dawn finds no NVIDIA Vulkan adapter; --backend auto uses the cpu engine\./);
  // The first problem found is the missing loader (the fake root has none), then the capability.
  assert.match(h, /Cause: The Vulkan loader libvulkan\.so\.1 is not found/);
  assert.match(h, /1 more finding below/);
  const text = formatDoctor({
    headline: h, auto: autoChoice(answer(null)), adapters: [], probe: { loaded: true, requests: answer(null).requests, dawnMessages: ['vkCreateInstance: Found no drivers!'], seconds: 0.2 },
    vulkan: v, vulkanIcd: { mode: 'off', action: 'off', set: {}, message: '' }, findings, packages: [],
  });
  assert.match(text, /Dawn: vkCreateInstance: Found no drivers!/);
  assert.match(text, /PROBLEM: An NVIDIA driver is present .* without "graphics"/s);
  assert.match(text, /Fix: Start the container with the graphics capability/);
  assert.match(text, /NVIDIA_DRIVER_CAPABILITIES\s+compute,utility/);

  assert.match(headlineOf(answer(adapter({})), fakeVulkan(true), []), /^GPU ready: hardware adapter nvidia NVIDIA H200/);
  assert.match(headlineOf(answer(lavapipe), fakeVulkan(false), []), /^No GPU: Dawn finds only a software adapter \(mesa llvmpipe-llvm-15\)/);
  assert.match(headlineOf(answer(lavapipe), fakeVulkan(true), []), /Dawn finds only the software adapter mesa llvmpipe-llvm-15\).*csm found no cause/);
  assert.match(headlineOf(answer(null), fakeVulkan(false), []), /^Dawn finds no WebGPU adapter; --backend auto uses the cpu engine\.$/);
});

test.run();
