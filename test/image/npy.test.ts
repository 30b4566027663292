import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy, readNpyFile, writeNpy, writeNpyFile, NpyError, type NpyInput } from '../../src/image/npy.js';
import { CsmError } from '../../src/errors.js';
import { CELEBA_DIR, skip } from '../helpers/data.js';

// ---- helpers: hand-made .npy bytes -------------------------------------------------------------

/** Builds a .npy file from a header dict string and raw data bytes, exactly as given. */
function npyBytes(dict: string, data: Uint8Array, version: 1 | 2 | 3 = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(data, total);
  return out;
}

/** Big-endian float32 bytes of the given values. */
function f4be(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, k) => view.setFloat32(4 * k, v, false));
  return out;
}

function f4le(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function throwsNpy(fn: () => unknown, file: string, cause: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, NpyError);
    assert.instance(e, CsmError);
    const msg = (e as Error).message;
    assert.ok(msg.includes(file), `message names the file: ${msg}`);
    assert.match(msg, cause);
    return;
  }
  assert.unreachable(`expected NpyError matching ${cause}`);
}

// ---- round trips ---------------------------------------------------------------------------------

const samples: NpyInput[] = [
  { dtype: 'float32', shape: [2, 3], data: new Float32Array([0, -1.5, 3.25, 1e-30, 65504, -0]) },
  { dtype: 'float64', shape: [3], data: new Float64Array([Math.PI, -1e300, 5e-324]) },
  { dtype: 'int32', shape: [2, 2], data: new Int32Array([-2147483648, 2147483647, 0, -7]) },
  { dtype: 'int64', shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 62n + 3n]) },
  { dtype: 'uint8', shape: [2, 2, 2], data: new Uint8Array([0, 1, 2, 127, 128, 200, 254, 255]) },
  { dtype: 'int16', shape: [4], data: new Int16Array([-32768, 32767, 0, -1]) },
  { dtype: 'uint16', shape: [1, 3], data: new Uint16Array([0, 65535, 1234]) },
  { dtype: 'float32', shape: [], data: new Float32Array([42]) },
  { dtype: 'float32', shape: [0, 3], data: new Float32Array(0) },
];

for (const s of samples) {
  test(`round trip ${s.dtype} shape [${s.shape.join(', ')}]`, () => {
    const bytes = writeNpy(s);
    const headerLen = new DataView(bytes.buffer).getUint16(8, true);
    assert.is(bytes[6], 1, 'version 1.0');
    assert.is((10 + headerLen) % 64, 0, 'data starts at a multiple of 64');
    assert.is(bytes[10 + headerLen - 1], 0x0a, 'header ends with a newline');
    const back = readNpy(bytes, 'roundtrip.npy');
    assert.is(back.dtype, s.dtype);
    assert.equal(back.shape, [...s.shape]);
    assert.is(back.fortranOrder, false);
    assert.is(back.data.constructor, s.data.constructor);
    assert.equal(Array.from(back.data as ArrayLike<number | bigint>), Array.from(s.data as ArrayLike<number | bigint>));
  });
}

test('writeNpy header matches what NumPy writes', () => {
  const bytes = writeNpy({ dtype: 'float32', shape: [2194, 3], data: new Float32Array(2194 * 3) });
  const header = new TextDecoder().decode(bytes.subarray(10, 128));
  assert.is(header.trimEnd(), "{'descr': '<f4', 'fortran_order': False, 'shape': (2194, 3), }");
  const one = writeNpy({ dtype: 'uint8', shape: [5], data: new Uint8Array(5) });
  assert.ok(new TextDecoder().decode(one.subarray(10, 128)).startsWith("{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }"));
});

test('writeNpy rejects data that does not fit its shape or dtype', () => {
  throwsNpy(() => writeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }), '<memory>', /4 elements but data has 3/);
  throwsNpy(() => writeNpy({ dtype: 'int32', shape: [2], data: new Float32Array(2) }), '<memory>', /needs a Int32Array/);
});

test('writeNpyFile / readNpyFile round trip on disk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-npy-'));
  try {
    const path = join(dir, 'a.npy');
    await writeNpyFile(path, { dtype: 'int32', shape: [3, 2], data: new Int32Array([1, 2, 3, 4, 5, 6]) });
    const a = await readNpyFile(path);
    assert.equal(a.shape, [3, 2]);
    assert.equal(Array.from(a.data as Int32Array), [1, 2, 3, 4, 5, 6]);
    let err: unknown;
    await readNpyFile(join(dir, 'missing.npy')).catch((e: unknown) => { err = e; });
    assert.instance(err, NpyError);
    assert.match((err as Error).message, /missing\.npy.*file not found/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ---- hand-made fixtures --------------------------------------------------------------------------

test("big-endian '>f4' is converted to native order", () => {
  const values = [1.5, -2, 3.140625, 1e10, -0.125, 7];
  const bytes = npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", f4be(values));
  const a = readNpy(bytes, 'be.npy');
  assert.is(a.dtype, 'float32');
  assert.equal(a.shape, [2, 3]);
  assert.equal(Array.from(a.data as Float32Array), values);
});

test("big-endian '>i2' and '>i8' are converted too", () => {
  const i2 = new Uint8Array([0x01, 0x02, 0xff, 0xfe]);
  const a = readNpy(npyBytes("{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", i2), 'be2.npy');
  assert.equal(Array.from(a.data as Int16Array), [0x0102, -2]);
  const i8 = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd]);
  const b = readNpy(npyBytes("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }", i8), 'be8.npy');
  assert.equal(Array.from(b.data as BigInt64Array), [-3n]);
});

test('version 2.0 header (4-byte header length)', () => {
  const values = [1, 2, 3, 4];
  const bytes = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f4le(values), 2);
  assert.is(bytes[6], 2);
  const a = readNpy(bytes, 'v2.npy');
  assert.equal(a.shape, [4]);
  assert.equal(Array.from(a.data as Float32Array), values);
});

test('version 3.0 header (utf-8)', () => {
  const bytes = npyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(new Int32Array([5, -6]).buffer), 3);
  assert.equal(Array.from(readNpy(bytes, 'v3.npy').data as Int32Array), [5, -6]);
});

test('fortran_order arrays are transposed to C order', () => {
  // The 2×3 matrix [[1, 2, 3], [4, 5, 6]] stored column-major: 1, 4, 2, 5, 3, 6.
  const bytes = npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f4le([1, 4, 2, 5, 3, 6]));
  const a = readNpy(bytes, 'fortran.npy');
  assert.is(a.fortranOrder, true);
  assert.equal(a.shape, [2, 3]);
  assert.equal(Array.from(a.data as Float32Array), [1, 2, 3, 4, 5, 6]);
});

test('fortran_order 3-D array is transposed to C order', () => {
  // shape (2, 3, 4), value at [i, j, k] = 100i + 10j + k; Fortran order: i fastest, then j, then k.
  const fortran: number[] = [];
  for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) fortran.push(100 * i + 10 * j + k);
  const c: number[] = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) c.push(100 * i + 10 * j + k);
  const bytes = npyBytes("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }", new Uint8Array(new Int32Array(fortran).buffer));
  assert.equal(Array.from(readNpy(bytes, 'f3.npy').data as Int32Array), c);
});

test('header written by Python 2 (long ints, key order, no trailing comma)', () => {
  const bytes = npyBytes('{"shape": (2L,), "fortran_order": False, "descr": "<u2"}', new Uint8Array(new Uint16Array([9, 10]).buffer));
  assert.equal(Array.from(readNpy(bytes, 'py2.npy').data as Uint16Array), [9, 10]);
});

// ---- malformed inputs ---------------------------------------------------------------------------

test('malformed inputs raise NpyError naming the file and the cause', () => {
  const ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const data = f4le([1, 2, 3, 4, 5, 6]);
  const good = npyBytes(ok, data);

  const badMagic = good.slice();
  badMagic[1] = 0x41;
  throwsNpy(() => readNpy(badMagic, 'magic.npy'), 'magic.npy', /bad magic/);
  throwsNpy(() => readNpy(new Uint8Array([1, 2, 3]), 'tiny.npy'), 'tiny.npy', /bad magic/);

  const badVersion = good.slice();
  badVersion[6] = 9;
  throwsNpy(() => readNpy(badVersion, 'ver.npy'), 'ver.npy', /unsupported format version 9\.0/);

  throwsNpy(() => readNpy(good.subarray(0, 40), 'cut-header.npy'), 'cut-header.npy', /header claims/);
  throwsNpy(() => readNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", data), 'dict.npy'), 'dict.npy', /bad header dict/);
  throwsNpy(() => readNpy(npyBytes("{'descr': '<f4', 'shape': (2, 3), }", data), 'nokey.npy'), 'nokey.npy', /missing key "fortran_order"/);
  throwsNpy(() => readNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", data), 'extra.npy'), 'extra.npy', /unexpected keys "x"/);
  throwsNpy(() => readNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", data), 'neg.npy'), 'neg.npy', /shape/);
  throwsNpy(() => readNpy(npyBytes("{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 3), }", data), 'fo.npy'), 'fo.npy', /fortran_order/);
  throwsNpy(() => readNpy(npyBytes("[1, 2]", data), 'list.npy'), 'list.npy', /not a dict/);

  throwsNpy(() => readNpy(npyBytes(ok, data.subarray(0, 20)), 'short.npy'), 'short.npy', /truncated: shape \(2, 3\) of float32 needs 24 bytes, the file has 20/);

  throwsNpy(() => readNpy(npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", data), 'object.npy'), 'object.npy', /object arrays/);
  throwsNpy(() => readNpy(npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", data), 'complex.npy'), 'complex.npy', /unsupported dtype "<c8"/);
  throwsNpy(() => readNpy(npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", data), 'struct.npy'), 'struct.npy', /structured/);
});

// ---- real data ------------------------------------------------------------------------------------

test('reads a real PRNet mesh from csm-celeba100', async () => {
  const path = join(CELEBA_DIR, 'meshes', '000686.npy');
  if (!existsSync(path)) {
    skip('npy real mesh', `${path} is absent (csm-celeba100 test data not present)`);
    return;
  }
  const a = await readNpyFile(path);
  assert.is(a.dtype, 'float32');
  assert.equal(a.shape, [2194, 3]);
  assert.is(a.data.length, 2194 * 3);
  for (const v of a.data as Float32Array) assert.ok(Number.isFinite(v), 'finite');
  // x, y are pixel coordinates in a 178×218 photo: the mean point must lie inside it.
  let mx = 0;
  let my = 0;
  for (let k = 0; k < 2194; k++) { mx += a.data[3 * k] as number; my += a.data[3 * k + 1] as number; }
  mx /= 2194;
  my /= 2194;
  assert.ok(mx > 0 && mx < 178 && my > 0 && my < 218, `mean point (${mx}, ${my}) inside the photo`);
  // Write it back and read it again: identical values in C order.
  const again = readNpy(writeNpy(a), 'copy');
  assert.equal(Array.from(again.data as Float32Array), Array.from(a.data as Float32Array));
});

test.run();
