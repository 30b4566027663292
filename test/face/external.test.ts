import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CsmError } from '../../src/errors.js';
import { correspondenceFromArrays, loadExternalAlignment, ExternalAlignmentError, type ExternalAlignment } from '../../src/face/external.js';
import { readNpyFile, writeNpyFile } from '../../src/image/npy.js';
import { CELEBA_DIR, celebaImages, skip } from '../helpers/data.js';

const HAVE_DATA = existsSync(join(CELEBA_DIR, 'frontal_vertices.npy'));
const WHY = `${CELEBA_DIR} is absent (csm-celeba100 test data not present)`;

let cached: ExternalAlignment | undefined;
async function alignment(): Promise<ExternalAlignment> {
  cached ??= await loadExternalAlignment(CELEBA_DIR);
  return cached;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  assert.unreachable('expected a rejection');
  throw new Error('unreachable');
}

test('correspondenceFromArrays copies and checks the arrays', () => {
  const c = correspondenceFromArrays([1, 2, 3, 4], new Float32Array([10, 20, 30, 40]), 100);
  assert.is(c.count, 2);
  assert.is(c.canonicalSize, 100);
  assert.equal(Array.from(c.image), [1, 2, 3, 4]);
  assert.equal(Array.from(c.canonical), [10, 20, 30, 40]);
  assert.throws(() => correspondenceFromArrays([1, 2, 3], [1, 2, 3], 10), (e: Error) => e instanceof CsmError && /odd length/.test(e.message));
  assert.throws(() => correspondenceFromArrays([1, 2], [1, 2, 3, 4], 10), (e: Error) => /1 points but canonicalXY has 2/.test(e.message));
  assert.throws(() => correspondenceFromArrays([1, 2], [1, 2], 0), (e: Error) => /canonicalSize/.test(e.message));
  assert.throws(() => correspondenceFromArrays([1, NaN], [1, 2], 10), (e: Error) => /non-finite/.test(e.message));
});

test('a missing alignment folder gives a clear error', async () => {
  const dir = join(tmpdir(), 'csm-no-such-alignment-folder');
  const e = await rejection(loadExternalAlignment(dir));
  assert.instance(e, ExternalAlignmentError);
  assert.ok(e.message.includes(dir) && /not found/.test(e.message), e.message);
});

test('loads the csm-celeba100 alignment', async () => {
  if (!HAVE_DATA) return skip('external alignment load', WHY);
  const a = await alignment();
  assert.is(a.stride, 20);
  assert.is(a.count, 2194);
  assert.is(a.fullVertexCount, 43867);
  assert.is(a.canonicalVertices.length, 2 * 2194);
  assert.is(a.canonicalImage.width, 619);
  assert.is(a.canonicalImage.height, 619);
  assert.ok(a.canonicalTriangles !== undefined);
  assert.is(a.canonicalTriangles!.length, 86906 * 3);
  assert.is(a.meshPathFor('images/000686.jpg'), join(CELEBA_DIR, 'meshes', '000686.npy'));
});

test('canonicalVertices equals frontal_vertices[::20] x, y', async () => {
  if (!HAVE_DATA) return skip('external canonical vertices', WHY);
  const a = await alignment();
  const full = await readNpyFile(join(CELEBA_DIR, 'frontal_vertices.npy'));
  assert.equal(full.shape, [43867, 3]);
  const f = full.data as Float32Array;
  for (let k = 0; k < a.count; k++) {
    const r = 20 * k;
    if (a.canonicalVertices[2 * k] !== f[3 * r] || a.canonicalVertices[2 * k + 1] !== f[3 * r + 1]) {
      assert.unreachable(`vertex ${k}: (${a.canonicalVertices[2 * k]}, ${a.canonicalVertices[2 * k + 1]}) vs frontal_vertices[${r}] (${f[3 * r]}, ${f[3 * r + 1]})`);
    }
  }
});

test('every photo gets a 2194-point correspondence inside its photo and inside F', async () => {
  const images = celebaImages();
  if (!HAVE_DATA || images === undefined) return skip('external correspondences', WHY);
  const a = await alignment();
  assert.is(images.length, 100);
  for (const img of images) {
    const c = await a.correspondenceForImage(img);
    assert.is(c.count, 2194);
    assert.is(c.image.length, 2 * 2194);
    assert.is(c.canonical, a.canonicalVertices);
    assert.is(c.canonicalSize, 619);
    let inside = 0;
    for (let k = 0; k < c.count; k++) {
      const x = c.image[2 * k]!;
      const y = c.image[2 * k + 1]!;
      if (x >= 0 && x < 178 && y >= 0 && y < 218) inside++;
      const u = c.canonical[2 * k]!;
      const v = c.canonical[2 * k + 1]!;
      if (!(u >= 0 && u < 619 && v >= 0 && v < 619)) assert.unreachable(`${basename(img)}: canonical point ${k} (${u}, ${v}) outside 619×619`);
    }
    assert.ok(inside / c.count >= 0.95, `${basename(img)}: only ${inside} of ${c.count} image points inside 178×218`);
  }
});

test('a mesh with the wrong row count or shape is refused, naming the file', async () => {
  if (!HAVE_DATA) return skip('external wrong mesh', WHY);
  const a = await alignment();
  const dir = await mkdtemp(join(tmpdir(), 'csm-external-'));
  try {
    const bad = join(dir, 'ten_rows.npy');
    await writeNpyFile(bad, { dtype: 'float32', shape: [10, 3], data: new Float32Array(30) });
    let e = await rejection(a.correspondenceFor(bad));
    assert.instance(e, ExternalAlignmentError);
    assert.ok(e.message.includes(bad), e.message);
    assert.match(e.message, /10 rows.*2194/);

    const flat = join(dir, 'two_cols.npy');
    await writeNpyFile(flat, { dtype: 'float32', shape: [2194, 2], data: new Float32Array(2194 * 2) });
    e = await rejection(a.correspondenceFor(flat));
    assert.ok(e.message.includes(flat) && /N×3/.test(e.message), e.message);

    const missing = join(dir, 'missing.npy');
    e = await rejection(a.correspondenceFor(missing));
    assert.instance(e, CsmError);
    assert.ok(e.message.includes(missing) && /not found/.test(e.message), e.message);

  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a custom layout and stride are honoured', async () => {
  if (!HAVE_DATA) return skip('external custom layout', WHY);
  const dir = await mkdtemp(join(tmpdir(), 'csm-external-layout-'));
  try {
    await mkdir(join(dir, 'dense'));
    await copyFile(join(CELEBA_DIR, 'frontal.jpg'), join(dir, 'F.jpg'));
    const full = await readNpyFile(join(CELEBA_DIR, 'frontal_vertices.npy'));
    await writeNpyFile(join(dir, 'canon.npy'), full);
    // A mesh for stride 1000: ceil(43867 / 1000) = 44 rows.
    await writeNpyFile(join(dir, 'dense', 'x.mesh.npy'), { dtype: 'float64', shape: [44, 3], data: new Float64Array(44 * 3).fill(5) });
    const a = await loadExternalAlignment(dir, {
      stride: 1000,
      layout: { meshDir: 'dense', meshExtension: '.mesh.npy', canonicalImage: 'F.jpg', canonicalVertices: 'canon.npy', canonicalTriangles: null },
    });
    assert.is(a.count, 44);
    assert.is(a.canonicalTriangles, undefined);
    assert.is(a.canonicalVertices[2 * 43], (full.data as Float32Array)[3 * 43000]);
    assert.is(a.meshPathFor('/photos/x.png'), join(dir, 'dense', 'x.mesh.npy'));
    const c = await a.correspondenceForImage('x.png');
    assert.is(c.count, 44);
    assert.is(c.image[0], 5);

    const e = await rejection(loadExternalAlignment(dir, { layout: { canonicalVertices: 'nope.npy' } }));
    assert.instance(e, ExternalAlignmentError);
    assert.ok(e.message.includes(join(dir, 'nope.npy')) && /not found/.test(e.message), e.message);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
