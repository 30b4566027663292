/**
 * The 468-point face mesh (zoo model "facemesh", MediaPipe's landmark network) in photo pixels.
 * The network wants an upright face filling a 192×192 crop, so the crop is a square around the
 * face rotated to level the eyes (as MediaPipe does). A second pass re-crops around the first
 * pass's landmarks, which centres the face better than the detector box and lowers the error.
 */
import { cpuOpener } from '../engine/registry.js';
import type { EngineSession, ModelOpener } from '../engine/types.js';
import { applyAffine, squareCropMap, warpAffine, type RgbImage } from '../image/index.js';
import { resolveModel } from '../models/load.js';
import { toModelInput } from '../models/preprocess.js';
import type { ModelSpec } from '../models/spec.js';
import type { Detection, FaceMesh } from './types.js';

export const MESH_POINTS = 468;

/** Landmark indices of MediaPipe's topology used for alignment (subject's right / left). */
export const LANDMARK = {
  rightEyeOuter: 33, rightEyeInner: 133, leftEyeInner: 362, leftEyeOuter: 263,
  noseTip: 1, mouthRight: 61, mouthLeft: 291, chin: 152,
} as const;

export interface MeshOptions {
  /** Crop side as a multiple of the face size (MediaPipe uses 1.5). */
  cropScale?: number;
  /** Re-crop around the landmarks of the previous pass this many times. */
  refinements?: number;
}

// One pass: on csm-celeba100 a landmark re-crop pass raised the error against PRNet (0.053 → 0.059).
const DEFAULTS: Required<MeshOptions> = { cropScale: 1.5, refinements: 0 };

interface Roi { cx: number; cy: number; side: number; angle: number }

function roiFromDetection(d: Detection, scale: number): Roi {
  const [rx, ry, lx, ly] = [d.keypoints[0]!, d.keypoints[1]!, d.keypoints[2]!, d.keypoints[3]!];
  return { cx: d.box.x + d.box.width / 2, cy: d.box.y + d.box.height / 2, side: Math.max(d.box.width, d.box.height) * scale, angle: Math.atan2(ly - ry, lx - rx) };
}

/** ROI from landmarks: their bounding box in the face's own (eye-levelled) frame. */
function roiFromMesh(points: Float32Array, scale: number): Roi {
  const p = (k: number): [number, number] => [points[3 * k]!, points[3 * k + 1]!];
  const [rx, ry] = p(LANDMARK.rightEyeOuter);
  const [lx, ly] = p(LANDMARK.leftEyeOuter);
  const angle = Math.atan2(ly - ry, lx - rx);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  let [minU, minV, maxU, maxV] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let k = 0; k < MESH_POINTS; k++) {
    const [x, y] = p(k);
    const u = x * cos + y * sin;
    const v = -x * sin + y * cos;
    minU = Math.min(minU, u); maxU = Math.max(maxU, u);
    minV = Math.min(minV, v); maxV = Math.max(maxV, v);
  }
  const cu = (minU + maxU) / 2;
  const cv = (minV + maxV) / 2;
  return { cx: cu * cos - cv * sin, cy: cu * sin + cv * cos, side: Math.max(maxU - minU, maxV - minV) * scale, angle };
}

export class FaceMesher {
  private constructor(private readonly spec: ModelSpec, private readonly session: EngineSession) {}

  /** The mesh network on the engine that `open` picks (the CPU engine by default). */
  static async create(open: ModelOpener = cpuOpener): Promise<FaceMesher> {
    const model = await resolveModel('facemesh');
    return new FaceMesher(model.spec, await open(model, { batch: 1 }));
  }

  private async pass(photo: RgbImage, roi: Roi): Promise<{ points: Float32Array; presence: number }> {
    const { input } = this.spec;
    const size = input.width;
    const map = squareCropMap(roi.cx, roi.cy, roi.side, roi.angle, size);
    const crop = warpAffine(photo, map, size, size);
    const out = await this.session.infer(toModelInput([crop], input), 1, ['output_mesh', 'output_faceflag']);
    const raw = out['output_mesh']!;
    const presence = out['output_faceflag']![0]!;
    const points = new Float32Array(MESH_POINTS * 3);
    const zScale = roi.side / size;
    for (let k = 0; k < MESH_POINTS; k++) {
      // The network's x, y are crop pixels measured from the crop's corner (continuous coordinates).
      const [x, y] = applyAffine(map, raw[3 * k]!, raw[3 * k + 1]!);
      points[3 * k] = x;
      points[3 * k + 1] = y;
      points[3 * k + 2] = raw[3 * k + 2]! * zScale;
    }
    return { points, presence };
  }

  /** The mesh of the detected face, in the photo's pixels. */
  async mesh(photo: RgbImage, detection: Detection, options: MeshOptions = {}): Promise<FaceMesh> {
    const { cropScale, refinements } = { ...DEFAULTS, ...options };
    let result = await this.pass(photo, roiFromDetection(detection, cropScale));
    for (let r = 0; r < refinements; r++) result = await this.pass(photo, roiFromMesh(result.points, cropScale));
    return { points: result.points, count: MESH_POINTS, presence: result.presence, detection };
  }

  /** The engine this network runs on. */
  get engine(): string {
    return this.session.engine;
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
