/**
 * MediaPipe's canonical face model (468 vertices, 898 triangles), read at run time from the
 * installed `@mediapipe/face_mesh` package, and its frontal projection into a square canonical
 * image: the face F of Algorithm 1 onto which saliency is painted.
 *
 * The model is not copied into this repository: it ships inside the package's packed asset
 * bundle as the protobuf `GeometryPipelineMetadata` (file geometry_pipeline_metadata_landmarks.binarypb).
 * Inspecting its bytes gives this layout (field numbers as on the wire):
 *   GeometryPipelineMetadata { 1: canonical_mesh (Mesh3d), 2: procrustes_landmark_basis (repeated), 3: input_source }
 *   Mesh3d { 1: vertex_type (0 = VERTEX_PT), 2: primitive_type (0 = TRIANGLE),
 *            3: vertex_buffer (repeated float, stored unpacked), 4: index_buffer (repeated uint32, unpacked) }
 * VERTEX_PT means 5 floats per vertex: x, y, z (centimetres) and u, v (texture, 0..1).
 *
 * Axes of the model (checked against the data, and by test/face/canonical.test.ts): y is up,
 * z points towards the viewer (the nose tip has the largest z), and x points to the SUBJECT'S LEFT:
 * the subject's right-eye outer corner (landmark 33) has x < 0 and u < 0.5. So the plain frontal
 * projection image x = vertex x, image y = −vertex y looks like an ordinary, unmirrored photo of
 * a face: the subject's right eye on the image's left, as in MediaPipe's own landmark output.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { CsmError } from '../errors.js';
import { readImage, resizeBilinear, type RgbImage } from '../image/index.js';
import type { CanonicalFaceModel, CanonicalFrame } from './types.js';

/** Vertices and triangles of MediaPipe's 468-landmark face mesh; anything else is a different model. */
export const CANONICAL_VERTEX_COUNT = 468;
export const CANONICAL_TRIANGLE_COUNT = 898;

const ASSET_SUFFIX = 'geometry_pipeline_metadata_landmarks.binarypb';
const BUNDLE = 'face_mesh_solution_packed_assets.data';
const BUNDLE_INDEX = 'face_mesh_solution_packed_assets_loader.js';
const FLOATS_PER_VERTEX = 5; // VERTEX_PT: x, y, z, u, v
const VERTEX_PT = 0;
const TRIANGLE = 0;

/**
 * Just the fields we read. Enums are declared as int32 so that protobufjs hands back the raw
 * numbers we validate; repeated scalars decode whether the writer packed them or not.
 */
const GeometryPipelineMetadata = protobuf.Root.fromJSON({
  nested: {
    Mesh3d: {
      fields: {
        vertexType: { type: 'int32', id: 1 },
        primitiveType: { type: 'int32', id: 2 },
        vertexBuffer: { rule: 'repeated', type: 'float', id: 3 },
        indexBuffer: { rule: 'repeated', type: 'uint32', id: 4 },
      },
    },
    GeometryPipelineMetadata: {
      fields: { canonicalMesh: { type: 'Mesh3d', id: 1 } },
    },
  },
}).lookupType('GeometryPipelineMetadata');

interface DecodedMesh3d {
  vertexType?: number;
  primitiveType?: number;
  vertexBuffer?: number[];
  indexBuffer?: number[];
}

/** One entry of the bundle's file list: a packed file and its byte range in the .data bundle. */
interface PackedFile { filename: string; start: number; end: number }

let cached: Promise<CanonicalFaceModel> | undefined;

/**
 * Load (once per process) MediaPipe's canonical face model from the installed package.
 * Throws a CsmError naming the file at fault if the package, its bundle index or the model
 * inside it cannot be read or is not the 468-vertex / 898-triangle mesh.
 */
export function loadCanonicalFaceModel(): Promise<CanonicalFaceModel> {
  cached ??= readCanonicalFaceModel().catch((err: unknown) => {
    // Do not cache a failure: a later call (e.g. after installing the package) should retry.
    cached = undefined;
    throw err;
  });
  return cached;
}

async function readCanonicalFaceModel(): Promise<CanonicalFaceModel> {
  let dir: string;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve('@mediapipe/face_mesh/package.json'));
  } catch (cause) {
    throw new CsmError('canonical face model: package @mediapipe/face_mesh is not installed', { cause });
  }
  const indexFile = path.join(dir, BUNDLE_INDEX);
  const bundleFile = path.join(dir, BUNDLE);
  const entry = findPackedFile(await readText(indexFile), indexFile);
  const bundle = await readBytes(bundleFile);
  if (entry.end > bundle.length || entry.start >= entry.end) {
    throw new CsmError(`canonical face model: ${bundleFile} has ${bundle.length} bytes, `
      + `but ${indexFile} places ${entry.filename} at ${entry.start}..${entry.end}`);
  }
  const where = `${bundleFile} (${entry.filename}, bytes ${entry.start}..${entry.end})`;
  return decodeCanonicalFaceModel(bundle.subarray(entry.start, entry.end), where);
}

/**
 * The loader script is emscripten's file packager output; its file list is the JSON argument of
 * `loadPackage({...})`. Parsing it (rather than hard-coding byte offsets) keeps working if a
 * package update repacks the bundle.
 */
function findPackedFile(script: string, indexFile: string): PackedFile {
  const match = /loadPackage\((\{"files":.*?\})\);/s.exec(script);
  if (!match) throw new CsmError(`canonical face model: no loadPackage({"files": ...}) list in ${indexFile}`);
  let files: unknown;
  try {
    files = (JSON.parse(match[1]) as { files?: unknown }).files;
  } catch (cause) {
    throw new CsmError(`canonical face model: unreadable file list in ${indexFile}`, { cause });
  }
  const entry = Array.isArray(files)
    ? (files as PackedFile[]).find((f) => typeof f?.filename === 'string' && f.filename.endsWith(ASSET_SUFFIX))
    : undefined;
  if (!entry || !Number.isInteger(entry.start) || !Number.isInteger(entry.end)) {
    throw new CsmError(`canonical face model: ${indexFile} lists no ${ASSET_SUFFIX} with a byte range`);
  }
  return entry;
}

/**
 * Decode and validate a GeometryPipelineMetadata protobuf (the bytes of
 * geometry_pipeline_metadata_landmarks.binarypb). `where` names the source in error messages.
 */
export function decodeCanonicalFaceModel(bytes: Uint8Array, where: string): CanonicalFaceModel {
  let mesh: DecodedMesh3d | undefined;
  try {
    const message = GeometryPipelineMetadata.decode(bytes);
    mesh = GeometryPipelineMetadata.toObject(message, { defaults: true }).canonicalMesh as DecodedMesh3d | undefined;
  } catch (cause) {
    throw new CsmError(`canonical face model: cannot decode ${where}`, { cause });
  }
  const fail = (what: string): never => {
    throw new CsmError(`canonical face model: ${where}: ${what}`);
  };
  if (!mesh) return fail('no canonical_mesh');
  if (mesh.vertexType !== VERTEX_PT) fail(`vertex_type ${mesh.vertexType}, expected VERTEX_PT (${VERTEX_PT})`);
  if (mesh.primitiveType !== TRIANGLE) fail(`primitive_type ${mesh.primitiveType}, expected TRIANGLE (${TRIANGLE})`);
  const vb = mesh.vertexBuffer ?? [];
  const ib = mesh.indexBuffer ?? [];
  const count = CANONICAL_VERTEX_COUNT;
  if (vb.length !== count * FLOATS_PER_VERTEX) {
    fail(`${vb.length} vertex floats, expected ${count * FLOATS_PER_VERTEX} (${count} vertices × x,y,z,u,v)`);
  }
  if (ib.length !== CANONICAL_TRIANGLE_COUNT * 3) {
    fail(`${ib.length} indices, expected ${CANONICAL_TRIANGLE_COUNT * 3} (${CANONICAL_TRIANGLE_COUNT} triangles)`);
  }
  const bad = ib.findIndex((i) => i >= count);
  if (bad >= 0) fail(`index ${ib[bad]} at position ${bad} is out of range for ${count} vertices`);

  const vertices = new Float32Array(3 * count);
  const uv = new Float32Array(2 * count);
  for (let i = 0; i < count; i++) {
    const o = FLOATS_PER_VERTEX * i;
    vertices[3 * i] = vb[o];
    vertices[3 * i + 1] = vb[o + 1];
    vertices[3 * i + 2] = vb[o + 2];
    uv[2 * i] = vb[o + 3];
    uv[2 * i + 1] = vb[o + 4];
  }
  return { vertices, uv, triangles: Uint32Array.from(ib), count };
}

async function readText(file: string): Promise<string> {
  return (await readBytes(file)).toString('utf8');
}

async function readBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (cause) {
    throw new CsmError(`canonical face model: cannot read ${file}`, { cause });
  }
}

/**
 * Project the model frontally (orthographic, looking down −z) into a size × size image:
 * image x = vertex x, image y = −vertex y, one uniform scale so the projected bounding box fits
 * with `margin·size` free on each side of its tighter dimension, and centred. Uniform scaling
 * keeps the face's proportions; z is scaled by the same factor so depths stay in pixel units.
 * z keeps the model's origin (only relative depths matter: it is used to order folded triangles).
 */
export function canonicalFrame(model: CanonicalFaceModel, size: number, margin = 0.08): CanonicalFrame {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`canonical size must be a positive integer, got ${size}`);
  if (!(margin >= 0 && margin < 0.5)) throw new RangeError(`margin must be in [0, 0.5), got ${margin}`);
  const { vertices, count } = model;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < count; i++) {
    const x = vertices[3 * i], y = -vertices[3 * i + 1];
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const inner = size * (1 - 2 * margin);
  const scale = Math.min(inner / (maxX - minX), inner / (maxY - minY));
  const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
  const xy = new Float32Array(2 * count);
  const z = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    xy[2 * i] = size / 2 + (vertices[3 * i] - cx) * scale;
    xy[2 * i + 1] = size / 2 + (-vertices[3 * i + 1] - cy) * scale;
    z[i] = vertices[3 * i + 2] * scale;
  }
  return { size, xy, z, triangles: model.triangles, count };
}

/** Side of the shipped canonical face image assets/canonical-face.png. */
export const CANONICAL_IMAGE_SIZE = 512;

/**
 * csm's canonical face image F at `size`×`size`, aligned with `canonicalFrame(model, size)`: the
 * shipped 512-px mean face (scripts/make-canonical-face.ts), resampled when another size is asked.
 */
export async function canonicalFaceImage(size = CANONICAL_IMAGE_SIZE): Promise<RgbImage> {
  // Compiled to dist/src/face/: the assets folder is three levels up, at the package root.
  const img = await readImage(fileURLToPath(new URL('../../../assets/canonical-face.png', import.meta.url)));
  return size === img.width ? img : resizeBilinear(img, size, size);
}
