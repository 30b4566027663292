/**
 * External dense alignments (PRNet style, as in the authors' release) as a drop-in replacement for
 * csm's own correspondence.
 *
 * An alignment folder holds a canonical face image F, its full mesh (x, y[, z] per vertex in F's
 * pixels), optionally its triangles, and one mesh per photo holding every `stride`-th vertex of the
 * full mesh in that photo's pixels. Vertex k of a photo's mesh corresponds to vertex stride·k of
 * the canonical mesh. The default layout is that of `csm-celeba100`:
 *
 *   images/NNNNNN.jpg  meshes/NNNNNN.npy  frontal.jpg  frontal_vertices.npy  frontal_triangles.npy
 */
import { stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { CsmError } from '../errors.js';
import { readImage } from '../image/decode.js';
import type { RgbImage } from '../image/types.js';
import { NpyError, readNpyFile, type NpyArray } from '../image/npy.js';
import type { Correspondence } from './types.js';

/** Raised for every way an external alignment cannot be used; names the file and the cause. */
export class ExternalAlignmentError extends CsmError {
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super(`external alignment "${file}": ${reason}`, options);
    this.file = file;
    this.reason = reason;
  }
}

/** File names inside an alignment folder (all relative to it). */
export interface ExternalLayout {
  /** Folder of per-photo meshes. Default 'meshes'. */
  meshDir: string;
  /** File name ending of per-photo meshes. Default '.npy'. */
  meshExtension: string;
  /** The canonical face image F. Default 'frontal.jpg'. */
  canonicalImage: string;
  /** The canonical face's full mesh, [V, ≥2] (x, y[, z]). Default 'frontal_vertices.npy'. */
  canonicalVertices: string;
  /** Triangles over the full canonical mesh, [T, 3]; null to skip. Default 'frontal_triangles.npy' (read if present). */
  canonicalTriangles: string | null;
}

export const CELEBA100_LAYOUT: Readonly<ExternalLayout> = Object.freeze({
  meshDir: 'meshes',
  meshExtension: '.npy',
  canonicalImage: 'frontal.jpg',
  canonicalVertices: 'frontal_vertices.npy',
  canonicalTriangles: 'frontal_triangles.npy',
});

export interface ExternalAlignmentOptions {
  /** Take every stride-th vertex of the full canonical mesh (default 20, as in the paper's release). */
  stride?: number;
  /** Overrides of the default (csm-celeba100) layout. */
  layout?: Partial<ExternalLayout>;
}

export interface ExternalAlignment {
  /** Absolute path of the alignment folder. */
  dir: string;
  layout: Readonly<ExternalLayout>;
  /** The canonical face image F. */
  canonicalImage: RgbImage;
  /**
   * x, y of the sub-sampled canonical vertices (full-mesh vertices 0, stride, 2·stride, ...) in F's
   * pixels. Shared by every correspondence this alignment returns: treat as read-only.
   */
  canonicalVertices: Float32Array;
  /** Number of sub-sampled vertices = rows every per-photo mesh must have. */
  count: number;
  stride: number;
  /** Vertices in the full canonical mesh. */
  fullVertexCount: number;
  /** Triangles over the FULL canonical mesh (3 indices each), when the layout has a triangle file. */
  canonicalTriangles: Uint32Array | undefined;
  /**
   * Reads a per-photo mesh ([count, 3], x, y, z in the photo's pixels) and returns M_I (its x, y)
   * and M_F (canonicalVertices). A relative path is taken relative to the alignment folder.
   */
  correspondenceFor(meshPath: string): Promise<Correspondence>;
  /** images/000686.jpg → <dir>/meshes/000686.npy (by the photo's base name). */
  meshPathFor(imagePath: string): string;
  /** correspondenceFor(meshPathFor(imagePath)). */
  correspondenceForImage(imagePath: string): Promise<Correspondence>;
}

async function readNpyChecked(path: string, what: string): Promise<NpyArray> {
  try {
    return await readNpyFile(path);
  } catch (e) {
    if (e instanceof NpyError) throw new ExternalAlignmentError(path, `${what}: ${e.reason}`, { cause: e });
    throw e;
  }
}

/** Element k of any numeric npy array as a JS number. */
function numberAt(a: NpyArray, k: number): number {
  return Number(a.data[k]!);
}

/**
 * Extracts columns 0 and 1 of an [N, ≥2] array (optionally every stride-th row) as x, y pairs,
 * checking that they are finite.
 */
function xyColumns(a: NpyArray, file: string, what: string, minCols: number, exactCols: number | null, stride = 1): Float32Array {
  const cols = a.shape[1];
  if (a.shape.length !== 2 || cols === undefined || cols < minCols || (exactCols !== null && cols !== exactCols)) {
    const want = exactCols !== null ? `N×${exactCols}` : `N×${minCols} or wider`;
    throw new ExternalAlignmentError(file, `${what} must be ${want}, got shape [${a.shape.join(', ')}]`);
  }
  const rows = a.shape[0]!;
  const n = Math.ceil(rows / stride);
  const xy = new Float32Array(2 * n);
  for (let k = 0; k < n; k++) {
    const r = k * stride;
    const x = numberAt(a, r * cols);
    const y = numberAt(a, r * cols + 1);
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      throw new ExternalAlignmentError(file, `${what} has a non-finite coordinate at row ${r}`);
    }
    xy[2 * k] = x;
    xy[2 * k + 1] = y;
  }
  return xy;
}

/** Loads an alignment folder (default: the csm-celeba100 layout). */
export async function loadExternalAlignment(dir: string, options: ExternalAlignmentOptions = {}): Promise<ExternalAlignment> {
  const root = resolve(dir);
  const stride = options.stride ?? 20;
  if (!Number.isSafeInteger(stride) || stride < 1) {
    throw new ExternalAlignmentError(root, `stride must be a positive integer, got ${stride}`);
  }
  const layout: Readonly<ExternalLayout> = Object.freeze({ ...CELEBA100_LAYOUT, ...options.layout });
  try {
    if (!(await stat(root)).isDirectory()) throw new ExternalAlignmentError(root, 'not a folder');
  } catch (e) {
    if (e instanceof ExternalAlignmentError) throw e;
    throw new ExternalAlignmentError(root, 'alignment folder not found', { cause: e });
  }

  const verticesPath = join(root, layout.canonicalVertices);
  const vertices = await readNpyChecked(verticesPath, 'canonical vertices');
  const canonicalVertices = xyColumns(vertices, verticesPath, 'canonical vertices', 2, null, stride);
  const fullVertexCount = vertices.shape[0]!;
  const count = canonicalVertices.length / 2;
  if (count === 0) throw new ExternalAlignmentError(verticesPath, 'canonical mesh has no vertices');

  let canonicalTriangles: Uint32Array | undefined;
  if (layout.canonicalTriangles !== null) {
    const trianglesPath = join(root, layout.canonicalTriangles);
    const present = await stat(trianglesPath).then((s) => s.isFile(), () => false);
    if (present) {
      const t = await readNpyChecked(trianglesPath, 'canonical triangles');
      if (t.shape.length !== 2 || t.shape[1] !== 3) {
        throw new ExternalAlignmentError(trianglesPath, `canonical triangles must be N×3, got shape [${t.shape.join(', ')}]`);
      }
      if (t.dtype === 'float32' || t.dtype === 'float64') {
        throw new ExternalAlignmentError(trianglesPath, `canonical triangles must be integers, got ${t.dtype}`);
      }
      canonicalTriangles = new Uint32Array(t.data.length);
      for (let k = 0; k < t.data.length; k++) {
        const v = numberAt(t, k);
        if (v < 0 || v >= fullVertexCount) {
          throw new ExternalAlignmentError(trianglesPath, `triangle index ${v} at element ${k} is outside 0..${fullVertexCount - 1}`);
        }
        canonicalTriangles[k] = v;
      }
    }
  }

  const imagePath = join(root, layout.canonicalImage);
  // readImage raises ImageDecodeError (a CsmError naming the file) when F is missing or bad.
  const canonicalImage = await readImage(imagePath);
  const canonicalSize = canonicalImage.height;

  const meshPathFor = (photo: string): string => {
    const name = basename(photo, extname(photo));
    return join(root, layout.meshDir, name + layout.meshExtension);
  };

  const correspondenceFor = async (meshPath: string): Promise<Correspondence> => {
    const path = resolve(root, meshPath);
    const mesh = await readNpyChecked(path, 'mesh');
    if (mesh.shape.length !== 2 || mesh.shape[1] !== 3) {
      throw new ExternalAlignmentError(path, `mesh must be N×3 (x, y, z), got shape [${mesh.shape.join(', ')}]`);
    }
    if (mesh.shape[0] !== count) {
      throw new ExternalAlignmentError(
        path,
        `mesh has ${mesh.shape[0]} rows but the canonical mesh sub-sampled every ${stride} vertices has ${count} ` +
          `(${fullVertexCount} vertices in ${layout.canonicalVertices})`,
      );
    }
    const image = xyColumns(mesh, path, 'mesh', 3, 3);
    return { image, canonical: canonicalVertices, count, canonicalSize };
  };

  return {
    dir: root,
    layout,
    canonicalImage,
    canonicalVertices,
    count,
    stride,
    fullVertexCount,
    canonicalTriangles,
    correspondenceFor,
    meshPathFor,
    correspondenceForImage: (photo) => correspondenceFor(meshPathFor(photo)),
  };
}

/**
 * A Correspondence from the caller's own arrays: x, y pairs of N points in the input image and the
 * same N points in the canonical image F (side canonicalSize). The arrays are copied.
 */
export function correspondenceFromArrays(
  imageXY: ArrayLike<number>,
  canonicalXY: ArrayLike<number>,
  canonicalSize: number,
): Correspondence {
  const name = 'correspondenceFromArrays';
  if (imageXY.length % 2 !== 0) throw new ExternalAlignmentError(name, `imageXY has odd length ${imageXY.length}; expected x, y pairs`);
  if (canonicalXY.length !== imageXY.length) {
    throw new ExternalAlignmentError(name, `imageXY has ${imageXY.length / 2} points but canonicalXY has ${canonicalXY.length / 2}`);
  }
  if (!Number.isFinite(canonicalSize) || canonicalSize <= 0) {
    throw new ExternalAlignmentError(name, `canonicalSize must be a positive number, got ${canonicalSize}`);
  }
  const image = Float32Array.from(imageXY);
  const canonical = Float32Array.from(canonicalXY);
  for (let k = 0; k < image.length; k++) {
    if (!Number.isFinite(image[k]!) || !Number.isFinite(canonical[k]!)) {
      throw new ExternalAlignmentError(name, `non-finite coordinate at point ${k >> 1}`);
    }
  }
  return { image, canonical, count: image.length / 2, canonicalSize };
}
