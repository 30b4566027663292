/** PNG figures of the alignment stage: meshes drawn over photos. */
import { drawDot, drawRect, drawTriangleEdges, rgbToRgba8, type RgbImage } from '../image/index.js';
import type { FaceMesh } from '../face/types.js';

/** The photo with each face's box, detector keypoints and mesh triangles drawn on it. */
export function meshOverlay(photo: RgbImage, meshes: FaceMesh[], triangles: Uint32Array): Uint8Array {
  const rgba = rgbToRgba8(photo);
  const { width: W, height: H } = photo;
  const dot = Math.max(1, Math.min(W, H) / 300);
  for (const mesh of meshes) {
    const xy = new Float32Array(2 * mesh.count);
    for (let k = 0; k < mesh.count; k++) { xy[2 * k] = mesh.points[3 * k]!; xy[2 * k + 1] = mesh.points[3 * k + 1]!; }
    drawTriangleEdges(rgba, W, H, xy, triangles, [80, 255, 120, 150]);
    const { box, keypoints } = mesh.detection;
    drawRect(rgba, W, H, box.x, box.y, box.width, box.height, [255, 200, 0, 255]);
    for (let k = 0; k < 6; k++) drawDot(rgba, W, H, keypoints[2 * k]!, keypoints[2 * k + 1]!, dot * 1.5, [255, 60, 60, 255]);
  }
  return rgba;
}
