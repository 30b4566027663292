/**
 * Worker behind the synchronous decodeImage (decode.ts): sharp only decodes asynchronously, so the
 * calling thread posts the bytes here, blocks on a shared flag, and takes the reply off its port
 * synchronously. The flag is raised after the reply is posted, whatever happens.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { decodeBytes } from './sharp-decode.js';
import { ImageDecodeError } from './types.js';
import { CsmError, FatalError } from '../errors.js';

export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  file: string;
  maxPixels: number;
  /** Int32Array over a SharedArrayBuffer: set to 1, then notified, once the reply is posted. */
  done: Int32Array;
}

export type DecodeReply =
  | { id: number; ok: true; width: number; height: number; data: Float32Array }
  | { id: number; ok: false; kind: 'decode'; reason: string; detail?: string }
  | { id: number; ok: false; kind: 'csm' | 'internal'; message: string; fatal: boolean; detail?: string };

const port = (workerData as { port: MessagePort }).port;

function text(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  return err instanceof Error ? err.message : String(err);
}

async function handle(req: DecodeRequest): Promise<void> {
  try {
    let reply: DecodeReply;
    const transfer: ArrayBuffer[] = [];
    try {
      const img = await decodeBytes(req.bytes, req.file, req.maxPixels);
      reply = { id: req.id, ok: true, width: img.width, height: img.height, data: img.data };
      transfer.push(img.data.buffer as ArrayBuffer);
    } catch (err) {
      if (err instanceof ImageDecodeError) reply = { id: req.id, ok: false, kind: 'decode', reason: err.reason, detail: text(err.cause) };
      else {
        const fatal = err instanceof FatalError;
        reply = { id: req.id, ok: false, kind: err instanceof CsmError ? 'csm' : 'internal', message: text(err) ?? 'unknown error', fatal, detail: text((err as Error)?.cause) };
      }
    }
    port.postMessage(reply, transfer);
  } catch (err) {
    port.postMessage({ id: req.id, ok: false, kind: 'internal', message: `decode worker: ${text(err)}`, fatal: false } satisfies DecodeReply);
  } finally {
    Atomics.store(req.done, 0, 1);
    Atomics.notify(req.done, 0);
  }
}

port.on('message', (req: DecodeRequest) => void handle(req));
