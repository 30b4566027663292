/**
 * Compute pipelines from the WGSL files in shaders/ (one file per kernel, read at run time from the
 * package root, found by walking up from this module), cached per device and name, with the
 * workgroup size set through the shaders' `override` and clamped to the device's limits.
 * Dispatches too large for one dimension are folded into two: every kernel rebuilds its linear
 * invocation index as gid.x + gid.y · stride_x (stride_x in its uniform block) and bounds-checks it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CsmError } from '../../errors.js';

export type KernelName = 'occlude' | 'score' | 'gather' | 'preprocess' | 'reproject';

/** The package name whose root holds shaders/ (package.json `name`). */
const PACKAGE_NAME = 'csm';

function isCsmRoot(dir: string): boolean {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) return false;
  let name: unknown;
  try {
    name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
  } catch {
    return false; // an unreadable or malformed package.json is not ours: keep walking
  }
  if (name !== PACKAGE_NAME) return false;
  const shaders = join(dir, 'shaders');
  return existsSync(shaders) && statSync(shaders).isDirectory();
}

/**
 * The shaders/ folder of the csm package: the nearest directory at or above `from` (a file URL,
 * path, or directory; default this module) with a package.json named "csm" and a shaders/ folder.
 * Independent of the build layout (dist/src/…, src/… run directly, or an installed package).
 */
export function findShaderDirectory(from: string | URL = import.meta.url): string {
  const start = resolve(from instanceof URL || from.startsWith('file:') ? fileURLToPath(from) : from);
  let dir = existsSync(start) && statSync(start).isDirectory() ? start : dirname(start);
  const searched: string[] = [];
  for (;;) {
    searched.push(dir);
    if (isCsmRoot(dir)) return join(dir, 'shaders');
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new CsmError(`cannot find csm's WGSL shaders: no directory at or above ${searched[0]} has a package.json named "${PACKAGE_NAME}" and a shaders/ folder (searched ${searched.join(', ')})`);
}

let shaderDir: string | undefined;
const sources = new Map<KernelName, string>();

/** WGSL source of a kernel (shaders/NAME.wgsl at the package root). */
export function shaderSource(name: KernelName): string {
  let src = sources.get(name);
  if (!src) {
    shaderDir ??= findShaderDirectory();
    const file = join(shaderDir, `${name}.wgsl`);
    try {
      src = readFileSync(file, 'utf8');
    } catch (e) {
      throw new CsmError(`cannot read the ${name} kernel's WGSL source ${file}: ${(e as Error).message}`, { cause: e });
    }
    sources.set(name, src);
  }
  return src;
}

const pipelines = new WeakMap<GPUDevice, Map<string, { pipeline: GPUComputePipeline; workgroup: number }>>();

export function pipeline(device: GPUDevice, name: KernelName): { pipeline: GPUComputePipeline; workgroup: number } {
  let cache = pipelines.get(device);
  if (!cache) { cache = new Map(); pipelines.set(device, cache); }
  let entry = cache.get(name);
  if (!entry) {
    const workgroup = Math.min(64, device.limits.maxComputeWorkgroupSizeX, device.limits.maxComputeInvocationsPerWorkgroup);
    const module = device.createShaderModule({ label: name, code: shaderSource(name) });
    entry = {
      pipeline: device.createComputePipeline({ label: name, layout: 'auto', compute: { module, entryPoint: 'main', constants: { WORKGROUP_SIZE: workgroup } } }),
      workgroup,
    };
    cache.set(name, entry);
  }
  return entry;
}

/**
 * Workgroup counts for `invocations` threads, folded into 2-D past the per-dimension limit, and the
 * invocations per row of the fold (`strideX`), which the kernels need to rebuild their linear index.
 * `maxGroupsPerDimension` lowers the device's limit (tests use it to force a fold); it never raises it.
 */
export function dispatchSize(device: GPUDevice, invocations: number, workgroup: number, maxGroupsPerDimension?: number): { x: number; y: number; strideX: number } {
  const limit = device.limits.maxComputeWorkgroupsPerDimension;
  if (maxGroupsPerDimension !== undefined && !(Number.isInteger(maxGroupsPerDimension) && maxGroupsPerDimension >= 1)) {
    throw new CsmError(`maxGroupsPerDimension must be a positive integer, not ${maxGroupsPerDimension}`);
  }
  const max = Math.min(limit, maxGroupsPerDimension ?? limit);
  const groups = Math.max(1, Math.ceil(invocations / workgroup));
  let x = groups;
  let y = 1;
  if (groups > max) {
    y = Math.ceil(groups / max);
    if (y > max) throw new CsmError(`a dispatch of ${invocations} invocations exceeds ${max} × ${max} workgroups of ${workgroup}`);
    x = Math.ceil(groups / y);
  }
  // The shaders index with u32: every dispatched invocation's gid.x + gid.y · strideX must fit.
  if (x * y * workgroup > 2 ** 32) throw new CsmError(`a dispatch of ${invocations} invocations does not fit 32-bit indices`);
  return { x, y, strideX: x * workgroup };
}

/** Records one dispatch of `name` with the given uniform bytes and storage buffers (bindings 1…). */
export function encodeKernel(device: GPUDevice, encoder: GPUCommandEncoder, name: KernelName, uniform: ArrayBuffer, buffers: GPUBuffer[], groups: { x: number; y: number }): GPUBuffer {
  const { pipeline: p } = pipeline(device, name);
  const ubo = device.createBuffer({ label: `${name}.params`, size: Math.max(16, Math.ceil(uniform.byteLength / 16) * 16), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(ubo, 0, uniform);
  const bind = device.createBindGroup({
    layout: p.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: ubo } }, ...buffers.map((buffer, k) => ({ binding: k + 1, resource: { buffer } }))],
  });
  const pass = encoder.beginComputePass({ label: name });
  pass.setPipeline(p);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(groups.x, groups.y);
  pass.end();
  return ubo;
}

/** A storage buffer holding `data` (at least 4 bytes: WebGPU refuses empty bindings). */
export function storageBuffer(device: GPUDevice, label: string, data: ArrayBufferView | number, extraUsage = 0): GPUBuffer {
  const size = typeof data === 'number' ? data : data.byteLength;
  const buffer = device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 4) * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | extraUsage });
  if (typeof data !== 'number') device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return buffer;
}

/** Copies buffers back to the CPU in one submission (the finished maps only). */
export async function readBack(device: GPUDevice, parts: { buffer: GPUBuffer; bytes: number }[]): Promise<ArrayBuffer[]> {
  const encoder = device.createCommandEncoder({ label: 'readback' });
  const staging = parts.map(({ buffer, bytes }) => {
    const s = device.createBuffer({ label: 'staging', size: Math.max(16, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(buffer, 0, s, 0, Math.ceil(bytes / 4) * 4);
    return s;
  });
  device.queue.submit([encoder.finish()]);
  const out: ArrayBuffer[] = [];
  for (const [k, s] of staging.entries()) {
    await s.mapAsync(GPUMapMode.READ);
    out.push(s.getMappedRange(0, Math.ceil(parts[k]!.bytes / 4) * 4).slice(0));
    s.unmap();
    s.destroy();
  }
  return out;
}
