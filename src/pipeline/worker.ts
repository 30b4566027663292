/**
 * A front-end worker thread (started by workers.ts): builds the explainer's ImagePreparer with the
 * detector and the mesh on the CPU engine (onnxruntime-node, one intra-op thread, so that N
 * workers use N cores), then prepares one item at a time on request and posts the images back
 * with their buffers transferred. Item errors are posted as records; the thread keeps serving.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { engineOpener } from '../engine/registry.js';
import { loadExternalAlignment } from '../face/external.js';
import { ImagePreparer, type PreparedImage } from '../saliency/prepare.js';
import { packPrepared, toWireError } from './wire.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './workers.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

let preparer: ImagePreparer | undefined;
try {
  const external = init.external ? await loadExternalAlignment(init.external.dir, { stride: init.external.stride, layout: init.external.layout }) : undefined;
  preparer = await ImagePreparer.create(init.input, init.options, engineOpener('cpu', { threads: 1 }), external);
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'init-failed', error: toWireError(e) });
  port.close();
}

if (preparer) {
  const ready = preparer;
  port.on('message', async (m: WorkerRequest) => {
    if (m.type === 'close') {
      await ready.dispose();
      port.close();
      return;
    }
    if (init.crashOn !== undefined && m.photos.includes(init.crashOn)) process.exit(3);
    const prepared: PreparedImage[] = [];
    const transfer: ArrayBuffer[] = [];
    try {
      for (const photo of m.photos) {
        const packed = packPrepared(await ready.prepare(photo));
        prepared.push(packed.message);
        transfer.push(...packed.transfer);
      }
    } catch (e) {
      post({ type: 'failed', error: toWireError(e) });
      return;
    }
    post({ type: 'done', prepared }, transfer);
  });
}
