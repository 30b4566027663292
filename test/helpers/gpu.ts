/**
 * The GPU for tests: Dawn on whatever adapter exists (lavapipe on CI). Where none exists the tests
 * print why they skip; in CI (CI=true) a missing adapter fails them, since .ci/run installs one.
 */
import { GpuRuntime, GpuUnavailableError } from '../../src/engine/webgpu/runtime.js';
import { skip } from './data.js';

export async function gpuOrSkip(what: string): Promise<GpuRuntime | undefined> {
  try {
    return await GpuRuntime.acquire(true);
  } catch (e) {
    if (!(e instanceof GpuUnavailableError)) throw e;
    skip(what, e.message);
    return undefined;
  }
}
