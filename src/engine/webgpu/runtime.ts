/**
 * GpuRuntime: the process's one Dawn instance, adapter and device, shared by csm's kernels and by
 * onnxruntime-web's WebGPU execution provider (one device, so buffers pass between them without
 * copies). Two facts of Dawn for Node (platform.md) shape it:
 * - Crash 1: the object returned by `create()` must stay reachable while a device lives, so the
 *   runtime keeps it in module state for the life of the process.
 * - Crash 2: `GPUQueue.writeBuffer` crashes on views of a SharedArrayBuffer, and onnxruntime-web's
 *   WASM heap is one; see `guardSharedWrites`.
 * The globals that onnxruntime-web demands are written in one place, `exposeToOnnxruntimeWeb`.
 */
import { CsmError, FatalError } from '../../errors.js';
import { isSoftwareAdapter } from './probe.js';

export class GpuUnavailableError extends CsmError {}

/** The GPU device was lost (driver reset, out of memory, destroyed): a run must stop, not skip. */
export class GpuLostError extends FatalError {}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software adapter (lavapipe, SwiftShader): correct but slower than the CPU engine. */
  fallback: boolean;
}

interface DawnBinding { create: (options: string[]) => GPU; globals: Record<string, unknown> }

/** Dawn's instance: module state so that it is never garbage-collected while a device lives (Crash 1). */
let instance: GPU | undefined;
let found: Promise<{ adapter: GPUAdapter; info: AdapterSummary }> | undefined;
let current: Promise<GpuRuntime> | undefined;

/**
 * onnxruntime-web checks `device instanceof GPUDevice`, reads `GPUBufferUsage` / `GPUMapMode` and
 * looks for `navigator.gpu` before its first session: in Node these must be globals. This is the
 * only place csm writes globals.
 */
function exposeToOnnxruntimeWeb(binding: DawnBinding, gpu: GPU): void {
  for (const [name, value] of Object.entries(binding.globals)) {
    if (name.startsWith('GPU') && !(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav) {
    try {
      Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
      return;
    } catch {
      // A read-only navigator: replace it below.
    }
  }
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/**
 * onnxruntime-web's WebGPU build calls `device.queue.writeBuffer` with views of its WASM heap, a
 * SharedArrayBuffer, which Dawn for Node cannot take (Crash 2). onnxruntime-web is handed this
 * device, so its queue's writeBuffer copies such views into a plain buffer first; csm's own writes
 * never pass shared memory and go through unchanged.
 */
function guardSharedWrites(device: GPUDevice): void {
  const queue = device.queue;
  const write = queue.writeBuffer.bind(queue);
  queue.writeBuffer = ((buffer: GPUBuffer, offset: number, data: BufferSource, dataOffset?: number, size?: number): undefined => {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      const copy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      // dataOffset and size count elements of the original view's type; the copy counts bytes.
      const bytesPer = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
      return write(buffer, offset, copy, dataOffset === undefined ? undefined : dataOffset * bytesPer, size === undefined ? undefined : size * bytesPer);
    }
    return write(buffer, offset, data instanceof SharedArrayBuffer ? new Uint8Array(data).slice() : data, dataOffset, size);
  }) as GPUQueue['writeBuffer'];
}

/** Loads Dawn and finds an adapter (once); no device yet, so a refused adapter costs nothing. */
function findAdapter(): Promise<{ adapter: GPUAdapter; info: AdapterSummary }> {
  found ??= (async () => {
    let binding: DawnBinding;
    try {
      binding = (await import('webgpu')) as unknown as DawnBinding;
    } catch (e) {
      throw new GpuUnavailableError(`the WebGPU binding (npm package "webgpu") cannot load: ${(e as Error).message}`);
    }
    instance = binding.create([]);
    exposeToOnnxruntimeWeb(binding, instance);
    const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      throw new GpuUnavailableError('no WebGPU adapter: Dawn found no Vulkan driver ("csm doctor" says why). On a GPU server install the vendor\'s Vulkan driver; on a CPU-only Debian machine, Mesa\'s lavapipe: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1');
    }
    const info = adapter.info;
    const fallback = isSoftwareAdapter({ isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter), device: info.device, description: info.description });
    return { adapter, info: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, fallback } };
  })();
  return found.catch((e) => {
    found = undefined;
    throw e;
  });
}

export class GpuRuntime {
  /** Why the device was lost, once it is; every engine call checks it. */
  lost?: string;

  private constructor(readonly device: GPUDevice, readonly adapter: AdapterSummary) {
    void device.lost.then((lost) => { this.lost = `${lost.reason}: ${lost.message}`; });
  }

  /**
   * The process's runtime. `allowFallback` admits software adapters: right for tests and
   * `--backend webgpu`, wrong for `--backend auto`, where the CPU engine is faster.
   */
  static async acquire(allowFallback: boolean): Promise<GpuRuntime> {
    const { adapter, info } = await findAdapter();
    if (info.fallback && !allowFallback) {
      throw new GpuUnavailableError(`only a software WebGPU adapter is present (${info.vendor} ${info.device || info.architecture}); the CPU engine is faster there (--backend webgpu forces it)`);
    }
    current ??= (async () => {
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
      guardSharedWrites(device);
      return new GpuRuntime(device, info);
    })();
    return current.catch((e) => {
      current = undefined;
      throw e;
    });
  }

  /** Throws GpuLostError if the device is gone. */
  checkAlive(): void {
    if (this.lost) throw new GpuLostError(`the GPU device was lost (${this.lost}); the run stops here and can be resumed from its checkpoint`);
  }

  /** Destroys the device (tests, process end). After this no WebGPU engine can start again. */
  static async release(): Promise<void> {
    if (!current) return;
    const runtime = await current.catch(() => undefined);
    runtime?.device.destroy();
  }
}
