/**
 * onnxruntime-web's WebGPU build, loaded once. Its 26 MB WASM module makes V8's background
 * tier-up compiler block Node for ~30 s at session creation and exit; `--liftoff-only` (set before
 * the module is compiled) avoids that (platform.md). The flag applies to the whole process.
 */
import v8 from 'node:v8';
import type * as OrtWeb from 'onnxruntime-web';

export type Ort = typeof OrtWeb;

let loading: Promise<Ort> | undefined;

export function loadOrtWeb(): Promise<Ort> {
  loading ??= (async () => {
    v8.setFlagsFromString('--liftoff-only');
    const ort = (await import('onnxruntime-web/webgpu')) as unknown as Ort;
    // One WASM thread: the GPU does the work; worker threads would only add start-up time.
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    return ort;
  })();
  return loading;
}
