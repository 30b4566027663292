/**
 * Dense correspondence between a photo's face mesh and the canonical face (M_I and M_F of
 * Algorithm 1). The paper takes every 20th vertex of a 43,867-vertex 3DMM; our mesh has only 468
 * vertices, so dense points are laid on a regular grid of the canonical image and carried into
 * the photo by the piecewise-affine map of the shared triangulation: a point with barycentric
 * coordinates β in canonical triangle t maps to β·(t's vertices in the photo). The grid spacing
 * (`stride`) sets N, the number of occlusions per image.
 */
import { CsmError } from '../errors.js';
import { barycentricAt, rasteriseTriangles } from './raster.js';
import type { CanonicalFrame, Correspondence } from './types.js';

/**
 * Canonical grid points that lie on the face, each with the triangle holding it and its
 * barycentric coordinates there.
 *
 * Counts at canonical size 224 (default margin 0.08), from test/face/correspondence.test.ts:
 *   stride  1 → 25,814    stride  2 → 6,448    stride  3 → 2,869    stride  4 → 1,611
 *   stride  5 →  1,032    stride  6 →   717    stride  8 →   404    stride 10 →   257
 * The paper's release uses ~2,194 points per face; stride 3 (2,869) or 4 (1,611) at 224 px
 * brackets that, or scale the stride with the canonical size (points ∝ (size / stride)²).
 */
export interface DensePoints {
  /** Canonical triangle index per point. */
  triangle: Uint32Array;
  /** Barycentric coordinates, 3 per point, weights of `vertices` of the same point. */
  bary: Float32Array;
  /** The point's three mesh vertex indices, 3 per point (the triangle's corners), so that
   *  mapPoints needs no triangle list and the arrays can go to the GPU as they are. */
  vertices: Uint32Array;
  /** x, y per point in canonical image pixels. */
  canonical: Float32Array;
  count: number;
}

/**
 * Triangle index covering each canonical pixel centre (size × size, row-major), or −1 off the
 * face. The frontal projection of the canonical mesh folds over itself near the nose wings and
 * the ears; the triangle nearest the viewer (largest z) wins, as a camera would see it.
 */
export function triangleRaster(frame: CanonicalFrame): Int32Array {
  return rasteriseTriangles(frame.xy, frame.triangles, frame.size, frame.size, frame.z, 'larger-z');
}

/**
 * The canonical pixel centres on a grid of spacing `stride` (pixels floor(stride/2) + k·stride in
 * x and y, i.e. at coordinates floor(stride/2) + k·stride + 0.5) that fall on the face, with their
 * triangles and barycentrics. Grid points are pixel centres so that the test against the raster
 * is exact. Pass a raster from triangleRaster(frame) to avoid recomputing it.
 */
export function densePoints(frame: CanonicalFrame, stride: number, raster?: Int32Array): DensePoints {
  if (!Number.isInteger(stride) || stride <= 0) throw new RangeError(`stride must be a positive integer, got ${stride}`);
  const { size, xy, triangles } = frame;
  const ids = raster ?? triangleRaster(frame);
  if (ids.length !== size * size) throw new CsmError(`raster has ${ids.length} pixels, frame needs ${size}×${size}`);
  const first = Math.floor(stride / 2);
  const pixels: number[] = [];
  for (let j = first; j < size; j += stride) {
    for (let i = first; i < size; i += stride) {
      if (ids[j * size + i] >= 0) pixels.push(j * size + i);
    }
  }
  const count = pixels.length;
  const out: DensePoints = {
    triangle: new Uint32Array(count),
    bary: new Float32Array(3 * count),
    vertices: new Uint32Array(3 * count),
    canonical: new Float32Array(2 * count),
    count,
  };
  const b = new Float64Array(3);
  for (let n = 0; n < count; n++) {
    const p = pixels[n];
    const t = ids[p];
    const x = (p % size) + 0.5, y = Math.floor(p / size) + 0.5;
    // The raster only holds triangles for which this succeeded, so it cannot fail here.
    barycentricAt(xy, triangles, t, x, y, b);
    out.triangle[n] = t;
    for (let k = 0; k < 3; k++) {
      out.bary[3 * n + k] = b[k];
      out.vertices[3 * n + k] = triangles[3 * t + k];
    }
    out.canonical[2 * n] = x;
    out.canonical[2 * n + 1] = y;
  }
  return out;
}

/**
 * Carry the dense points into an image whose mesh is `meshXY` (x, y per vertex, same vertex
 * order as the canonical model): each point becomes the barycentric combination of its
 * triangle's vertices there, the piecewise-affine map of the shared triangulation.
 */
export function mapPoints(meshXY: Float32Array, points: DensePoints): Float32Array {
  const { bary, vertices, count } = points;
  let maxVertex = -1;
  for (let k = 0; k < 3 * count; k++) maxVertex = Math.max(maxVertex, vertices[k]);
  if (meshXY.length % 2 !== 0 || meshXY.length < 2 * (maxVertex + 1)) {
    throw new CsmError(`mesh has ${meshXY.length} coordinates; dense points need x,y for ${maxVertex + 1} vertices`);
  }
  const out = new Float32Array(2 * count);
  for (let n = 0; n < count; n++) {
    let x = 0, y = 0;
    for (let k = 0; k < 3; k++) {
      const w = bary[3 * n + k], v = vertices[3 * n + k];
      x += w * meshXY[2 * v];
      y += w * meshXY[2 * v + 1];
    }
    out[2 * n] = x;
    out[2 * n + 1] = y;
  }
  return out;
}

/**
 * M_I and M_F for one face: the dense points mapped into the photo through its mesh, and their
 * canonical positions. `canonical` is the points' own array (shared, not copied: treat as read-only).
 */
export function correspondence(meshXY: Float32Array, points: DensePoints, frame: CanonicalFrame): Correspondence {
  return { image: mapPoints(meshXY, points), canonical: points.canonical, count: points.count, canonicalSize: frame.size };
}

/** x, y per vertex from a packed x, y, z array such as FaceMesh.points (drops depth). */
export function meshXYFromXYZ(xyz: Float32Array): Float32Array {
  if (xyz.length % 3 !== 0) throw new CsmError(`packed x,y,z mesh has ${xyz.length} values, not a multiple of 3`);
  const count = xyz.length / 3;
  const out = new Float32Array(2 * count);
  for (let i = 0; i < count; i++) {
    out[2 * i] = xyz[3 * i];
    out[2 * i + 1] = xyz[3 * i + 1];
  }
  return out;
}
