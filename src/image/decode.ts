/**
 * Reading photos: PNG or JPEG → planar float RGB (0..255). Pixels are decoded by sharp
 * (sharp-decode.ts), after header.ts has checked the format and the declared size; files are read
 * by read-file.ts, which opens only regular files and caps their size. Every failure is an
 * ImageDecodeError whose message names the file and gives the cause in one plain sentence.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { inspectHeader } from './header.js';
import { DEFAULT_MAX_FILE_BYTES, FileRefusal, readRegularFile, resolveNonUtf8Name } from './read-file.js';
import { decodeBytes, DECODE_TIMEOUT_S, DEFAULT_MAX_PIXELS } from './sharp-decode.js';
import { DecoderUnavailableError, ImageDecodeError, type RgbImage } from './types.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';
import { CsmError } from '../errors.js';

export { DEFAULT_MAX_PIXELS, DEFAULT_MAX_FILE_BYTES };

export interface ReadImageOptions {
  /** Refuse images with more pixels (width*height) than this; default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  /** Refuse files larger than this many bytes; default DEFAULT_MAX_FILE_BYTES (256 MiB). */
  maxBytes?: number;
}

/**
 * Read a file and decode it. `path` may be a Buffer for a name that is not UTF-8; a string name in
 * which Node has replaced such bytes by U+FFFD is looked up in its folder. Only regular files (or
 * links to them) of at most `maxBytes` are read. Every failure is an ImageDecodeError naming the file.
 */
export async function readImage(path: string | Buffer, options: number | ReadImageOptions = {}): Promise<RgbImage> {
  const { maxPixels = DEFAULT_MAX_PIXELS, maxBytes = DEFAULT_MAX_FILE_BYTES } = typeof options === 'number' ? { maxPixels: options } : options;
  const name = typeof path === 'string' ? path : path.toString('utf8');
  let bytes: Buffer;
  try {
    bytes = await readWithFallback(path, maxBytes);
  } catch (err) {
    if (err instanceof FileRefusal) throw new ImageDecodeError(name, err.reason, err.cause === undefined ? undefined : { cause: err.cause });
    throw err;
  }
  return decodeBytes(bytes, name, maxPixels);
}

async function readWithFallback(path: string | Buffer, maxBytes: number): Promise<Buffer> {
  try {
    return await readRegularFile(path, maxBytes);
  } catch (err) {
    const missing = err instanceof FileRefusal && (err.cause as { code?: unknown } | undefined)?.code === 'ENOENT';
    if (!missing || typeof path !== 'string') throw err;
    const real = await resolveNonUtf8Name(path);
    if (real === undefined) throw err;
    return readRegularFile(real, maxBytes);
  }
}

/**
 * Decode PNG or JPEG bytes into a planar float RGB image (0..255), without blocking the thread.
 * EXIF orientation is applied; alpha is dropped, not composited. `file` only names the input in
 * errors. Throws ImageDecodeError on any failure.
 */
export function decodeImageAsync(bytes: Uint8Array, file: string, maxPixels: number = DEFAULT_MAX_PIXELS): Promise<RgbImage> {
  return decodeBytes(bytes, file, maxPixels);
}

/**
 * decodeImageAsync, synchronously: the decode runs in a worker thread while this thread waits.
 * For small images and code that cannot await; readImage and decodeImageAsync do not block.
 */
export function decodeImage(bytes: Uint8Array, file: string, maxPixels: number = DEFAULT_MAX_PIXELS): RgbImage {
  // The cheap refusals (empty, not an image, too large) need no worker.
  inspectHeader(bytes, file, maxPixels);
  const worker = syncWorker();
  const done = new Int32Array(new SharedArrayBuffer(4));
  const id = nextRequest++;
  const copy = new Uint8Array(bytes.byteLength); // exactly these bytes, not the whole underlying buffer
  copy.set(bytes);
  worker.port.postMessage({ id, bytes: copy, file, maxPixels, done } satisfies DecodeRequest, [copy.buffer]);
  if (Atomics.wait(done, 0, 0, SYNC_WAIT_MS) === 'timed-out') {
    dropWorker(worker);
    throw new ImageDecodeError(file, `decoding took longer than ${SYNC_WAIT_MS / 1000} s and was stopped`);
  }
  for (;;) {
    const received = receiveMessageOnPort(worker.port);
    if (received === undefined) {
      dropWorker(worker);
      throw new CsmError(`cannot read image "${file}": the decode worker gave no answer`);
    }
    const reply = received.message as DecodeReply;
    if (reply.id !== id) continue; // left over from a call that timed out
    if (reply.ok) return { width: reply.width, height: reply.height, data: reply.data };
    const cause = reply.detail === undefined ? undefined : { cause: new Error(reply.detail) };
    if (reply.kind === 'decode') throw new ImageDecodeError(file, reply.reason, cause);
    if (reply.fatal) throw new DecoderUnavailableError(reply.message, cause);
    if (reply.kind === 'csm') throw new CsmError(reply.message, cause);
    throw new Error(reply.message, cause);
  }
}

/** Startup of the worker (loading sharp) plus the longest decode libvips is allowed. */
const SYNC_WAIT_MS = (DECODE_TIMEOUT_S + 30) * 1000;

interface SyncWorker {
  worker: Worker;
  port: MessagePort;
}

let current: SyncWorker | undefined;
let nextRequest = 1;

/** One worker per thread, started on first use; it does not keep the process alive. */
function syncWorker(): SyncWorker {
  if (current) return current;
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: { port: port2 }, transferList: [port2] });
  worker.unref();
  port1.unref();
  const entry: SyncWorker = { worker, port: port1 };
  const forget = (): void => {
    if (current === entry) current = undefined;
  };
  worker.on('error', forget);
  worker.on('exit', forget);
  current = entry;
  return entry;
}

function dropWorker(entry: SyncWorker): void {
  if (current === entry) current = undefined;
  entry.port.close();
  void entry.worker.terminate();
}
