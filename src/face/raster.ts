/**
 * The one triangle rasteriser of the face stage. Both the canonical raster (which canonical
 * pixel lies on which triangle) and the photo-side warp (which photo pixel lies on which
 * triangle of the fitted mesh) go through `rasteriseTriangles`, and every consumer recovers
 * barycentric coordinates with the same `barycentricAt`, so a pixel judged inside a triangle
 * here always gets in-range barycentrics later.
 *
 * Conventions: pixel (i, j) has its centre at (i + 0.5, j + 0.5); coordinates are continuous
 * image pixels with x right and y down.
 */

/** Which mesh depth is nearer the viewer when triangles overlap. */
export type Nearer = 'larger-z' | 'smaller-z';

/**
 * Tolerance of the inside test. Slightly negative barycentrics are accepted so that a pixel
 * centre lying exactly on an edge shared by two triangles is never dropped by rounding in both.
 */
export const INSIDE_EPS = 1e-9;

/**
 * Barycentric coordinates of (px, py) in triangle `t` (vertex indices triangles[3t..3t+2] into
 * xy, 2 floats per vertex), written to out[0..2]. Returns false for a degenerate (zero-area)
 * triangle, whose barycentrics are undefined; out is then left untouched.
 */
export function barycentricAt(
  xy: Float32Array, triangles: Uint32Array, t: number, px: number, py: number, out: Float64Array,
): boolean {
  const a = 2 * triangles[3 * t], b = 2 * triangles[3 * t + 1], c = 2 * triangles[3 * t + 2];
  const x0 = xy[a], y0 = xy[a + 1], x1 = xy[b], y1 = xy[b + 1], x2 = xy[c], y2 = xy[c + 1];
  const det = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2);
  if (Math.abs(det) < 1e-12) return false;
  const b0 = ((y1 - y2) * (px - x2) + (x2 - x1) * (py - y2)) / det;
  const b1 = ((y2 - y0) * (px - x2) + (x0 - x2) * (py - y2)) / det;
  out[0] = b0;
  out[1] = b1;
  out[2] = 1 - b0 - b1;
  return true;
}

/** True when barycentrics (from barycentricAt) place the point inside or on the triangle. */
export function isInside(bary: Float64Array): boolean {
  return bary[0] >= -INSIDE_EPS && bary[1] >= -INSIDE_EPS && bary[2] >= -INSIDE_EPS;
}

/**
 * For each pixel centre of a width × height image, the index of the triangle covering it, or −1.
 * Triangles are scanned over their bounding boxes. Where several cover a pixel (a mesh folds
 * over itself: sides of the nose, the jaw of a turned head), the one whose interpolated depth is
 * nearer wins (`nearer`); without depth, the first triangle in the list wins. Ties keep the
 * earlier triangle, so the result does not depend on anything but the inputs.
 */
export function rasteriseTriangles(
  xy: Float32Array,
  triangles: Uint32Array,
  width: number,
  height: number,
  depth?: Float32Array,
  nearer: Nearer = 'larger-z',
): Int32Array {
  const ids = new Int32Array(width * height).fill(-1);
  // Depth kept as "nearness" (larger = nearer) so that one comparison serves both conventions.
  const sign = nearer === 'larger-z' ? 1 : -1;
  const best = depth ? new Float64Array(width * height).fill(-Infinity) : undefined;
  const bary = new Float64Array(3);
  const nTri = triangles.length / 3;
  for (let t = 0; t < nTri; t++) {
    const a = triangles[3 * t], b = triangles[3 * t + 1], c = triangles[3 * t + 2];
    const minX = Math.min(xy[2 * a], xy[2 * b], xy[2 * c]), maxX = Math.max(xy[2 * a], xy[2 * b], xy[2 * c]);
    const minY = Math.min(xy[2 * a + 1], xy[2 * b + 1], xy[2 * c + 1]), maxY = Math.max(xy[2 * a + 1], xy[2 * b + 1], xy[2 * c + 1]);
    // Pixel centres i + 0.5 within [minX, maxX], clipped to the image.
    const i0 = Math.max(0, Math.ceil(minX - 0.5)), i1 = Math.min(width - 1, Math.floor(maxX - 0.5));
    const j0 = Math.max(0, Math.ceil(minY - 0.5)), j1 = Math.min(height - 1, Math.floor(maxY - 0.5));
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        if (!barycentricAt(xy, triangles, t, i + 0.5, j + 0.5, bary) || !isInside(bary)) continue;
        const p = j * width + i;
        if (best && depth) {
          const near = sign * (bary[0] * depth[a] + bary[1] * depth[b] + bary[2] * depth[c]);
          if (near <= best[p]) continue;
          best[p] = near;
        } else if (ids[p] >= 0) {
          continue;
        }
        ids[p] = t;
      }
    }
  }
  return ids;
}
