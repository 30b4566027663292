/**
 * What crosses the thread boundary between a front-end worker and the main thread: prepared
 * images (their typed arrays moved with a transfer list, not copied) and errors (class name,
 * message and fields, revived as the same CsmError subclass so that skip-with-cause, and a
 * caller's `instanceof`, work as in a serial run).
 */
import { CsmError, FatalError, ModelError, SpecError } from '../errors.js';
import { FaceChoiceError, NoFaceError } from '../face/align.js';
import { ExternalAlignmentError } from '../face/external.js';
import { NpyError } from '../image/npy.js';
import { ImageDecodeError } from '../image/types.js';
import type { PreparedImage } from '../saliency/prepare.js';

/** An error as a structured-cloneable record. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  /** instanceof CsmError / FatalError on the side that threw it. */
  csm: boolean;
  fatal: boolean;
  /** Own fields with primitive values (file, reason, …). */
  fields: Record<string, string | number | boolean>;
}

/** CsmError subclasses a front end can throw, by class name, so that they revive as themselves. */
const KNOWN: Record<string, new (...args: never[]) => CsmError> = {
  CsmError, FatalError, ModelError, SpecError, ImageDecodeError, NoFaceError, FaceChoiceError, ExternalAlignmentError, NpyError,
};

export function toWireError(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), csm: false, fatal: false, fields: {} };
  const fields: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(e)) if (['string', 'number', 'boolean'].includes(typeof v) && k !== 'name' && k !== 'message') fields[k] = v as string | number | boolean;
  return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}), csm: e instanceof CsmError, fatal: e instanceof FatalError, fields };
}

/**
 * The error again, on this side: a known CsmError subclass as itself, an unknown one as a
 * CsmError (or FatalError) carrying the original class name; anything else (a bug) as an Error.
 * The stack says where it was thrown.
 */
export function fromWireError(w: WireError, where: string): Error {
  const known = KNOWN[w.name];
  const base = w.fatal ? FatalError : w.csm ? CsmError : Error;
  // Reflect.construct runs the base constructor with the subclass's prototype: a real Error
  // (stack, instanceof) of the right class without calling the subclass's own constructor.
  const e: Error = known && w.csm ? Reflect.construct(CsmError, [w.message], known) : Reflect.construct(base, [w.message], base);
  Object.assign(e, w.fields);
  e.name = w.name;
  if (w.stack) e.stack = `${w.stack}\n    (thrown in ${where})`;
  return e;
}

/** The array itself when it owns a whole plain ArrayBuffer (safe to transfer), else a copy that does. */
function owned<T extends Float32Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? a : (a.slice() as T);
}

/**
 * A prepared image ready to post, and the buffers to move with it. The canonical points are the
 * same array for every image of a preparer, so they are copied (a few KB); any other array that
 * is a view into a larger buffer (a model output) is copied too, so a transfer never detaches
 * data the sender still uses.
 */
export function packPrepared(p: PreparedImage): { message: PreparedImage; transfer: ArrayBuffer[] } {
  const message: PreparedImage = {
    ...p,
    photo: { ...p.photo, data: owned(p.photo.data) },
    image: { ...p.image, data: owned(p.image.data) },
    tensor: owned(p.tensor),
    correspondence: { ...p.correspondence, image: owned(p.correspondence.image), canonical: p.correspondence.canonical.slice() },
    ...(p.meshXYZ ? { meshXYZ: owned(p.meshXYZ) } : {}),
  };
  const buffers = new Set<ArrayBuffer>();
  for (const a of [message.photo.data, message.image.data, message.tensor, message.correspondence.image, message.correspondence.canonical, message.meshXYZ]) {
    if (a) buffers.add(a.buffer as ArrayBuffer);
  }
  return { message, transfer: [...buffers] };
}
