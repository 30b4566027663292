/**
 * Dense warps between a photo and the canonical face through the shared triangulation
 * (piecewise-affine): photo → canonical to show a face aligned (and to check alignment), and
 * canonical → photo to reproject a canonical saliency map onto an input (Fig. 6 d) at every
 * pixel rather than only at the dense points.
 *
 * Both directions find, for a destination pixel centre, the destination triangle covering it
 * (raster.ts), its barycentrics there, and sample the source at the same barycentrics on the
 * source mesh. Sampling is bilinear with the pixel-centre convention: pixel (i, j) holds the
 * value at (i + 0.5, j + 0.5), so a point (u, v) is read at array position (u − 0.5, v − 0.5),
 * clamped to the image so that points within half a pixel of the border stay defined.
 */
import { CsmError } from '../errors.js';
import type { RgbImage } from '../image/index.js';
import { triangleRaster } from './correspondence.js';
import { barycentricAt, rasteriseTriangles, type Nearer } from './raster.js';
import type { CanonicalFrame } from './types.js';

/** A warped face and which of its pixels lie on the face (1) or off it (0, value 0). */
export interface Warped<T> { image: T; mask: Uint8Array }

/**
 * Bilinear sample of one plane (width × height, starting at `offset` in `data`) at continuous
 * pixel coordinates (u, v), pixel-centre convention, clamped at the borders.
 */
export function sampleBilinear(
  data: Float32Array, offset: number, width: number, height: number, u: number, v: number,
): number {
  const fx = Math.min(Math.max(u - 0.5, 0), width - 1);
  const fy = Math.min(Math.max(v - 0.5, 0), height - 1);
  const x0 = Math.floor(fx), y0 = Math.floor(fy);
  const x1 = Math.min(x0 + 1, width - 1), y1 = Math.min(y0 + 1, height - 1);
  const wx = fx - x0, wy = fy - y0;
  const r0 = offset + y0 * width, r1 = offset + y1 * width;
  const top = data[r0 + x0] + wx * (data[r0 + x1] - data[r0 + x0]);
  const bottom = data[r1 + x0] + wx * (data[r1 + x1] - data[r1 + x0]);
  return top + wy * (bottom - top);
}

function checkMesh(mesh: Float32Array, perVertex: number, frame: CanonicalFrame, name: string): void {
  if (mesh.length !== perVertex * frame.count) {
    throw new CsmError(`${name} has ${mesh.length} values, expected ${perVertex} per vertex for ${frame.count} vertices`);
  }
}

/**
 * The photo's face warped into the canonical frame (size × size), plus the coverage mask.
 * `meshXY` is the photo's mesh (x, y per vertex, photo pixels). Off-face canonical pixels, and
 * those whose face point lies outside the photo, are 0 and masked.
 * Pass `raster` (triangleRaster(frame)) to reuse it across many photos.
 */
export function warpToCanonicalMasked(
  photo: RgbImage, meshXY: Float32Array, frame: CanonicalFrame, raster?: Int32Array,
): Warped<RgbImage> {
  checkMesh(meshXY, 2, frame, 'photo mesh (x,y)');
  const { size, xy, triangles } = frame;
  const ids = raster ?? triangleRaster(frame);
  if (ids.length !== size * size) throw new CsmError(`raster has ${ids.length} pixels, frame needs ${size}×${size}`);
  const plane = size * size, photoPlane = photo.width * photo.height;
  const data = new Float32Array(3 * plane);
  const mask = new Uint8Array(plane);
  const b = new Float64Array(3), uv = new Float64Array(2);
  for (let p = 0; p < plane; p++) {
    const t = ids[p];
    if (t < 0 || !barycentricAt(xy, triangles, t, (p % size) + 0.5, Math.floor(p / size) + 0.5, b)) continue;
    combine(meshXY, triangles, t, b, uv);
    // A part of the face outside the photo (a partial face) stays empty and masked, rather than
    // smeared from the photo's edge pixels.
    if (uv[0] < 0 || uv[1] < 0 || uv[0] > photo.width || uv[1] > photo.height) continue;
    for (let c = 0; c < 3; c++) data[c * plane + p] = sampleBilinear(photo.data, c * photoPlane, photo.width, photo.height, uv[0], uv[1]);
    mask[p] = 1;
  }
  return { image: { width: size, height: size, data }, mask };
}

/** warpToCanonicalMasked without the mask. */
export function warpToCanonical(photo: RgbImage, meshXY: Float32Array, frame: CanonicalFrame, raster?: Int32Array): RgbImage {
  return warpToCanonicalMasked(photo, meshXY, frame, raster).image;
}

/**
 * A one-channel canonical map (size × size, e.g. a canonical saliency map) pulled back onto a
 * width × height photo whose mesh is `meshXYZ` (x, y, z per vertex, photo pixels). Each photo
 * pixel centre takes the photo triangle covering it; where the mesh folds (a turned head hides
 * part of the face behind the nose or cheek) the triangle nearer the camera wins. `nearer` gives
 * the depth convention of meshXYZ: MediaPipe face landmarks put SMALLER (more negative) z nearer
 * the camera, hence the default; use 'larger-z' for meshes with z towards the viewer, such as
 * the canonical model's. Off-face pixels get value 0 and mask 0.
 */
export function warpToPhoto(
  map: Float32Array,
  frame: CanonicalFrame,
  meshXYZ: Float32Array,
  width: number,
  height: number,
  nearer: Nearer = 'smaller-z',
): { values: Float32Array; mask: Uint8Array } {
  const { size, xy: canonXY, triangles, count } = frame;
  if (map.length !== size * size) throw new CsmError(`canonical map has ${map.length} values, frame needs ${size}×${size}`);
  checkMesh(meshXYZ, 3, frame, 'photo mesh (x,y,z)');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`photo size must be positive integers, got ${width}x${height}`);
  }
  const photoXY = new Float32Array(2 * count);
  const photoZ = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    photoXY[2 * i] = meshXYZ[3 * i];
    photoXY[2 * i + 1] = meshXYZ[3 * i + 1];
    photoZ[i] = meshXYZ[3 * i + 2];
  }
  const ids = rasteriseTriangles(photoXY, triangles, width, height, photoZ, nearer);
  const values = new Float32Array(width * height);
  const mask = new Uint8Array(width * height);
  const b = new Float64Array(3), uv = new Float64Array(2);
  for (let p = 0; p < ids.length; p++) {
    const t = ids[p];
    if (t < 0 || !barycentricAt(photoXY, triangles, t, (p % width) + 0.5, Math.floor(p / width) + 0.5, b)) continue;
    combine(canonXY, triangles, t, b, uv);
    values[p] = sampleBilinear(map, 0, size, size, uv[0], uv[1]);
    mask[p] = 1;
  }
  return { values, mask };
}

/** The point with barycentrics b in triangle t of a mesh given as x, y per vertex, into out[0..1]
 *  (an out parameter, not a returned pair, to keep the per-pixel loops allocation-free). */
function combine(xy: Float32Array, triangles: Uint32Array, t: number, b: Float64Array, out: Float64Array): void {
  const a = 2 * triangles[3 * t], c1 = 2 * triangles[3 * t + 1], c2 = 2 * triangles[3 * t + 2];
  out[0] = b[0] * xy[a] + b[1] * xy[c1] + b[2] * xy[c2];
  out[1] = b[0] * xy[a + 1] + b[1] * xy[c1 + 1] + b[2] * xy[c2 + 1];
}
