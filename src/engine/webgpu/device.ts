/**
 * One WebGPU device for the process, from Dawn's Node binding (`webgpu`), shared with
 * onnxruntime-web's WebGPU execution provider. Facts this file works around (platform.md):
 * - Dawn's instance must stay reachable for the life of the process, or it is destroyed under a
 *   live device (random segfaults): it is kept in a module variable and in navigator.gpu.
 * - queue.writeBuffer crashes on views of a SharedArrayBuffer, which onnxruntime-web's threaded
 *   WASM memory is: such views are copied into a plain buffer first.
 * - onnxruntime-web initialises its WebGPU backend once per process, so the device is never
 *   replaced; it is destroyed only by releaseGpu().
 */
import { CsmError } from '../../errors.js';

export class GpuUnavailableError extends CsmError {}

/** The GPU device was lost (driver reset, out of memory, destroyed): a run must stop, not skip. */
export class GpuLostError extends CsmError {
  readonly fatal = true;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: { vendor: string; architecture: string; device: string; description: string; fallback: boolean };
  /** Set when the device is lost; every engine call checks it. */
  lost?: string;
}

let instance: GPU | undefined;
let found: Promise<{ adapter: GPUAdapter; info: GpuContext['adapter'] }> | undefined;
let context: Promise<GpuContext> | undefined;

function patchWriteBuffer(device: GPUDevice): void {
  const queue = device.queue;
  const original = queue.writeBuffer.bind(queue);
  queue.writeBuffer = ((buffer: GPUBuffer, offset: number, data: BufferSource, dataOffset?: number, size?: number): undefined => {
    let src = data;
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      // dataOffset and size count elements of the original view type; rescale to bytes.
      const bytesPer = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
      return original(buffer, offset, src, dataOffset === undefined ? undefined : dataOffset * bytesPer, size === undefined ? undefined : size * bytesPer);
    }
    if (data instanceof SharedArrayBuffer) src = new Uint8Array(data).slice();
    return original(buffer, offset, src, dataOffset, size);
  }) as GPUQueue['writeBuffer'];
}

/** Loads Dawn and finds an adapter (once); no device yet, so a refused adapter costs nothing. */
function findAdapter(): Promise<{ adapter: GPUAdapter; info: GpuContext['adapter'] }> {
  found ??= (async () => {
    let binding: { create: (o: string[]) => GPU; globals: object };
    try {
      binding = (await import('webgpu')) as unknown as typeof binding;
    } catch (e) {
      throw new GpuUnavailableError(`the WebGPU binding (npm package "webgpu") cannot load: ${(e as Error).message}`);
    }
    // onnxruntime-web checks `instanceof GPUDevice` and reads GPUBufferUsage: they must be globals.
    Object.assign(globalThis, binding.globals);
    instance = binding.create([]);
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (nav) {
      try { Object.defineProperty(nav, 'gpu', { value: instance, configurable: true }); } catch { /* read-only navigator: keep ours below */ }
    } else {
      Object.defineProperty(globalThis, 'navigator', { value: { gpu: instance }, configurable: true, writable: true });
    }
    const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      throw new GpuUnavailableError('no WebGPU adapter: Dawn found no Vulkan driver. On a GPU server install the vendor\'s Vulkan driver; on a CPU-only Debian machine, Mesa\'s lavapipe: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1');
    }
    const info = adapter.info;
    const fallback = Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description}`);
    return { adapter, info: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, fallback } };
  })();
  return found.catch((e) => { found = undefined; throw e; });
}

/**
 * The process's GPU device. `allowFallback` admits software adapters (lavapipe, SwiftShader):
 * right for tests and `--backend webgpu`, wrong for `--backend auto`, where the CPU engine is faster.
 */
export async function acquireGpu(allowFallback: boolean): Promise<GpuContext> {
  const { adapter, info } = await findAdapter();
  if (info.fallback && !allowFallback) {
    throw new GpuUnavailableError(`only a software WebGPU adapter is present (${info.vendor} ${info.device || info.architecture}); the CPU engine is faster there (--backend webgpu forces it)`);
  }
  context ??= (async () => {
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      },
    });
    patchWriteBuffer(device);
    const ctx: GpuContext = { device, adapter: info };
    void device.lost.then((lost) => { ctx.lost = `${lost.reason}: ${lost.message}`; });
    return ctx;
  })();
  return context.catch((e) => { context = undefined; throw e; });
}

/** Throws GpuLostError if the device is gone. */
export function checkAlive(ctx: GpuContext): void {
  if (ctx.lost) throw new GpuLostError(`the GPU device was lost (${ctx.lost}); the run stops here and can be resumed from its checkpoint`);
}

/** Destroys the device (tests, process end). After this no WebGPU engine can start again. */
export async function releaseGpu(): Promise<void> {
  if (!context) return;
  const ctx = await context.catch(() => undefined);
  ctx?.device.destroy();
}
