/**
 * NumPy `.npy` reader and writer (format versions 1.0, 2.0 and 3.0; see numpy.lib.format).
 *
 * Reading: little- and big-endian numeric arrays of the dtypes in {@link NpyDtype}. Big-endian data
 * is converted to the host's byte order. Fortran-order arrays are transposed on reading, so
 * `data` is ALWAYS in C order (last axis fastest) whatever the file says; `fortranOrder` only
 * reports how the file stored it. Object, structured, string, bool, complex and float16 arrays are
 * refused. Every malformed input raises {@link NpyError}, naming the file and the cause.
 *
 * Writing: version 1.0 (2.0 only when the header would not fit in 1.0, as NumPy does),
 * little-endian, C order, header padded with spaces so that the data starts at a multiple of 64
 * bytes.
 */
import { readFile } from 'node:fs/promises';
import { OutputWriteError, writeFileAtomic } from '../io/atomic.js';
import { CsmError } from '../errors.js';

export type NpyDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int16' | 'uint16';

export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int16Array | Uint16Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Elements in C order (last axis fastest), host byte order. Always C order, see fortranOrder. */
  data: NpyData;
  /**
   * Whether the FILE stored the array in Fortran order. The reader has already transposed such
   * data into C order, so callers never need to act on this flag.
   */
  fortranOrder: boolean;
}

/** What writeNpy takes: an array in C order. */
export interface NpyInput {
  dtype: NpyDtype;
  shape: readonly number[];
  data: NpyData;
}

/** Any .npy that cannot be read or written. `file` is the path (or the name the caller gave). */
export class NpyError extends CsmError {
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string, options?: { cause?: unknown; action?: 'read' | 'write' }) {
    super(`cannot ${options?.action ?? 'read'} NumPy file "${file}": ${reason}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.file = file;
    this.reason = reason;
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface DtypeInfo {
  size: number;
  /** Type code and size as in a descr string, without the byte-order character. */
  code: string;
  make: (buffer: ArrayBuffer, length: number) => NpyData;
  ctor: Function;
}

const DTYPES: Record<NpyDtype, DtypeInfo> = {
  float32: { size: 4, code: 'f4', make: (b, n) => new Float32Array(b, 0, n), ctor: Float32Array },
  float64: { size: 8, code: 'f8', make: (b, n) => new Float64Array(b, 0, n), ctor: Float64Array },
  int32: { size: 4, code: 'i4', make: (b, n) => new Int32Array(b, 0, n), ctor: Int32Array },
  int64: { size: 8, code: 'i8', make: (b, n) => new BigInt64Array(b, 0, n), ctor: BigInt64Array },
  uint8: { size: 1, code: 'u1', make: (b, n) => new Uint8Array(b, 0, n), ctor: Uint8Array },
  int16: { size: 2, code: 'i2', make: (b, n) => new Int16Array(b, 0, n), ctor: Int16Array },
  uint16: { size: 2, code: 'u2', make: (b, n) => new Uint16Array(b, 0, n), ctor: Uint16Array },
};

const BY_CODE = new Map<string, NpyDtype>(Object.entries(DTYPES).map(([name, info]) => [info.code, name as NpyDtype]));

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---- header dict: a Python literal ------------------------------------------------------------

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

/** Parses the small subset of Python literal syntax that .npy headers use. Throws Error(reason). */
function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at character ${i} of header ${JSON.stringify(text.trim())}`);
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === undefined) return fail('unexpected end');
    if (c === '{') {
      i++;
      const map = new Map<string, PyValue>();
      for (;;) {
        ws();
        if (text[i] === '}') { i++; return map; }
        const key = value();
        if (typeof key !== 'string') fail('dict key is not a string');
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        map.set(key as string, value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return map; }
        fail('expected "," or "}"');
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      for (;;) {
        ws();
        if (text[i] === close) { i++; return items; }
        items.push(value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === close) { i++; return items; }
        fail(`expected "," or "${close}"`);
      }
    }
    if (c === "'" || c === '"') {
      i++;
      let s = '';
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\') {
          i++;
          if (i >= text.length) break;
        }
        s += text[i];
        i++;
      }
      if (text[i] !== c) fail('unterminated string');
      i++;
      return s;
    }
    const m = /^(-?\d+)[lL]?|^(True|False|None)\b/.exec(text.slice(i));
    if (m) {
      i += m[0].length;
      if (m[1] !== undefined) return Number(m[1]);
      return m[2] === 'True' ? true : m[2] === 'False' ? false : null;
    }
    return fail(`unexpected character ${JSON.stringify(c)}`);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

function parseDescr(descr: PyValue, file: string): { dtype: NpyDtype; swap: boolean } {
  if (typeof descr !== 'string') {
    throw new NpyError(file, 'structured (record) dtypes are not supported: "descr" is not a plain type string');
  }
  const m = /^([<>|=!]?)([a-zA-Z])(\d*)$/.exec(descr);
  if (!m) throw new NpyError(file, `unsupported or invalid dtype "${descr}"`);
  const [, order, kind, size] = m as unknown as [string, string, string, string];
  if (kind === 'O') throw new NpyError(file, `object arrays (dtype "${descr}") are not supported: they hold pickled Python objects`);
  const dtype = BY_CODE.get(kind + size);
  if (dtype === undefined) {
    throw new NpyError(file, `unsupported dtype "${descr}" (supported: ${[...BY_CODE.keys()].join(', ')}, any byte order)`);
  }
  const little = order === '<' || ((order === '=' || order === '' || order === '|') && HOST_LITTLE_ENDIAN);
  const big = order === '>' || order === '!';
  const swap = DTYPES[dtype].size > 1 && (HOST_LITTLE_ENDIAN ? big : little);
  return { dtype, swap };
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let o = 0; o + size <= bytes.length; o += size) {
    for (let a = o, b = o + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** Reorders elements stored in Fortran order (first axis fastest) into C order. */
function fortranToC(src: NpyData, shape: readonly number[]): NpyData {
  const nd = shape.length;
  if (nd < 2 || src.length === 0) return src;
  const dst = new (src.constructor as new (n: number) => NpyData)(src.length) as unknown as { [k: number]: number | bigint };
  const from = src as unknown as { [k: number]: number | bigint };
  const fstride: number[] = [];
  let s = 1;
  for (let k = 0; k < nd; k++) { fstride.push(s); s *= shape[k]!; }
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  for (let c = 0; c < src.length; c++) {
    dst[c] = from[f]!;
    // Advance the C-order multi-index (last axis fastest) and its Fortran offset.
    for (let k = nd - 1; k >= 0; k--) {
      idx[k]!++;
      f += fstride[k]!;
      if (idx[k]! < shape[k]!) break;
      f -= idx[k]! * fstride[k]!;
      idx[k] = 0;
    }
  }
  return dst as unknown as NpyData;
}

// ---- reading ---------------------------------------------------------------------------------

/** Parses .npy bytes. `file` names the source in errors. */
export function readNpy(bytes: Uint8Array, file: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) {
    throw new NpyError(file, 'not a .npy file (bad magic; expected "\\x93NUMPY")');
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = bytes[8]! | (bytes[9]! << 8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(file, 'truncated header length');
    headerLen = (bytes[8]! | (bytes[9]! << 8) | (bytes[10]! << 16)) + bytes[11]! * 0x1000000;
    headerStart = 12;
  } else {
    throw new NpyError(file, `unsupported format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) {
    throw new NpyError(file, `header claims ${headerLen} bytes but the file has only ${bytes.length - headerStart} after the preamble`);
  }
  const headerBytes = bytes.subarray(headerStart, dataStart);
  const header = major === 3 ? new TextDecoder('utf-8').decode(headerBytes) : Buffer.from(headerBytes).toString('latin1');

  let dict: PyValue;
  try {
    dict = parsePyLiteral(header);
  } catch (e) {
    throw new NpyError(file, `bad header dict: ${(e as Error).message}`);
  }
  if (!(dict instanceof Map)) throw new NpyError(file, `bad header: not a dict: ${JSON.stringify(header.trim())}`);
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!dict.has(key)) throw new NpyError(file, `bad header: missing key "${key}"`);
  }
  const extra = [...dict.keys()].filter((k) => k !== 'descr' && k !== 'fortran_order' && k !== 'shape');
  if (extra.length > 0) throw new NpyError(file, `bad header: unexpected keys ${extra.map((k) => `"${k}"`).join(', ')}`);

  const fortranOrder = dict.get('fortran_order');
  if (typeof fortranOrder !== 'boolean') throw new NpyError(file, 'bad header: "fortran_order" is not True or False');
  const rawShape = dict.get('shape');
  if (!Array.isArray(rawShape) || !rawShape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new NpyError(file, 'bad header: "shape" is not a tuple of non-negative integers');
  }
  const shape = rawShape as number[];
  const { dtype, swap } = parseDescr(dict.get('descr')!, file);

  const info = DTYPES[dtype];
  let count = 1;
  for (const d of shape) count *= d;
  const byteCount = count * info.size;
  if (!Number.isSafeInteger(byteCount)) throw new NpyError(file, `shape (${shape.join(', ')}) is too large`);
  const available = bytes.length - dataStart;
  if (available < byteCount) {
    throw new NpyError(file, `data is truncated: shape (${shape.join(', ')}) of ${dtype} needs ${byteCount} bytes, the file has ${available}`);
  }
  // Copy into a fresh, aligned buffer of its own (the header length need not leave the data
  // aligned, and a Node Buffer's slice() would share its pool instead of copying).
  const copy = new Uint8Array(byteCount);
  copy.set(bytes.subarray(dataStart, dataStart + byteCount));
  if (swap) swapBytes(copy, info.size);
  let data = info.make(copy.buffer, count);
  if (fortranOrder) data = fortranToC(data, shape);
  return { dtype, shape: [...shape], data, fortranOrder };
}

/** Reads and parses a .npy file; unreadable files also raise NpyError. */
export async function readNpyFile(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new NpyError(path, reason, { cause: e });
  }
  return readNpy(bytes, path);
}

// ---- writing ---------------------------------------------------------------------------------

/** Serialises a C-order array as .npy (version 1.0, little-endian, data aligned to 64 bytes). */
export function writeNpy(array: NpyInput, file = '<memory>'): Uint8Array {
  const info = DTYPES[array.dtype];
  const fail = (reason: string): never => {
    throw new NpyError(file, reason, { action: 'write' });
  };
  if (info === undefined) fail(`unsupported dtype "${String(array.dtype)}"`);
  if (!(array.data instanceof (info.ctor as new () => NpyData))) {
    fail(`dtype ${array.dtype} needs a ${info.ctor.name}, got ${(array.data as object)?.constructor?.name ?? typeof array.data}`);
  }
  let count = 1;
  for (const d of array.shape) {
    if (!Number.isSafeInteger(d) || d < 0) fail(`bad shape [${array.shape.join(', ')}]: not non-negative integers`);
    count *= d;
  }
  if (count !== array.data.length) fail(`shape [${array.shape.join(', ')}] has ${count} elements but data has ${array.data.length}`);

  const order = info.size === 1 ? '|' : '<';
  const shapeText = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  const dict = `{'descr': '${order}${info.code}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let major = 1;
  let preamble = 10;
  // Pad with spaces and end with \n so that preamble + header is a multiple of 64.
  let total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  if (total - preamble > 0xffff) {
    major = 2;
    preamble = 12;
    total = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  }
  const headerLen = total - preamble;
  const header = dict + ' '.repeat(headerLen - dict.length - 1) + '\n';

  const dataBytes = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(total + dataBytes.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  if (major === 1) {
    out[8] = headerLen & 0xff;
    out[9] = headerLen >>> 8;
  } else {
    new DataView(out.buffer).setUint32(8, headerLen, true);
  }
  for (let k = 0; k < header.length; k++) out[preamble + k] = header.charCodeAt(k);
  out.set(dataBytes, total);
  if (!HOST_LITTLE_ENDIAN) swapBytes(out.subarray(total), info.size);
  return out;
}

/**
 * Writes an array to a .npy file, atomically (temporary file, fsync, rename: io/atomic.ts); a
 * failed write raises NpyError naming the path and leaves no partial file.
 */
export async function writeNpyFile(path: string, array: NpyInput): Promise<void> {
  const bytes = writeNpy(array, path);
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    if (e instanceof OutputWriteError) throw new NpyError(path, e.reason, { cause: e, action: 'write' });
    throw e;
  }
}
