/**
 * From a photo to aligned faces: detection, choice of face(s), and the 468-point mesh, with typed
 * errors that name the file and warnings a batch run can log.
 */
import type { ModelOpener } from '../engine/types.js';
import { CsmError } from '../errors.js';
import { printableName } from '../image/types.js';
import type { RgbImage } from '../image/index.js';
import { FaceDetector, type DetectOptions } from './detect.js';
import { FaceMesher, LANDMARK, type MeshOptions } from './mesh.js';
import type { FaceMesh } from './types.js';

/** Which faces to use when a photo has several: the largest, all of them, or the N-th largest (1-based). */
export type FaceChoice = 'largest' | 'all' | number;

/** Faces smaller than this (box side, pixels) are aligned but flagged: the mesh gets unreliable. */
export const SMALL_FACE_PX = 40;

/**
 * Below this presence score the mesh network says its crop shows no face: the detector's box was a
 * false positive (a flat colour, a face hidden by hair), and a map made from it would only dilute
 * the CMS, so the photo is refused as having no face.
 */
export const MIN_PRESENCE = 0.5;

/** Share of mesh vertices outside the photo above which a face is flagged as partial. */
export const PARTIAL_FACE = 0.05;

/** Yaw (degrees) beyond which a face is flagged as strongly turned. */
export const TURNED_DEGREES = 40;

/** The share of the mesh's vertices (x, y, z each) that lie outside a width × height photo. */
export function meshOutside(points: Float32Array, width: number, height: number): number {
  let out = 0;
  const n = points.length / 3;
  for (let k = 0; k < n; k++) {
    const x = points[3 * k]!;
    const y = points[3 * k + 1]!;
    if (x < 0 || y < 0 || x > width || y > height) out++;
  }
  return out / n;
}

/**
 * Yaw of a mesh in degrees from the line through the eyes' outer corners: atan(Δz / Δx), 0 for a
 * frontal face (the definition of the zoo's headpose model, models/heads.ts).
 */
export function meshYaw(points: Float32Array): number {
  const [r, l] = [LANDMARK.rightEyeOuter, LANDMARK.leftEyeOuter];
  const dx = points[3 * l]! - points[3 * r]!;
  const dz = points[3 * l + 2]! - points[3 * r + 2]!;
  return (Math.atan2(dz, Math.abs(dx)) * 180) / Math.PI;
}

export class NoFaceError extends CsmError {
  constructor(readonly file: string, detail = '') {
    super(`no face found in "${printableName(file)}"${detail ? ` (${detail})` : ''}`);
  }
}

export class FaceChoiceError extends CsmError {
  constructor(readonly file: string, readonly found: number, readonly wanted: number) {
    super(`"${printableName(file)}" has ${found} face${found === 1 ? '' : 's'}; --face ${wanted} asks for face ${wanted} (faces are numbered from 1, largest first)`);
  }
}

export interface AlignedFace {
  mesh: FaceMesh;
  /** 1-based rank by size among the photo's faces. */
  rank: number;
  /** Things a user should know about this face (small, others ignored). */
  warnings: string[];
}

export function parseFaceChoice(text: string): FaceChoice {
  if (text === 'largest' || text === 'all') return text;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CsmError(`--face takes largest, all or a face number from 1, got "${text}"`);
  return n;
}

export interface AlignOptions extends DetectOptions, MeshOptions {
  face?: FaceChoice;
  /** Faces whose mesh presence is below this are refused (default MIN_PRESENCE; 0 keeps every face). */
  minPresence?: number;
}

export class FaceAligner {
  private constructor(readonly detector: FaceDetector, readonly mesher: FaceMesher) {}

  /** Detector and mesh network on the engine that `open` picks (the CPU engine by default). */
  static async create(open?: ModelOpener): Promise<FaceAligner> {
    const [detector, mesher] = await Promise.all([FaceDetector.create(open), FaceMesher.create(open)]);
    return new FaceAligner(detector, mesher);
  }

  /** The chosen face(s) of a photo with their meshes. `file` names the photo in errors and warnings. */
  async align(photo: RgbImage, file: string, options: AlignOptions = {}): Promise<AlignedFace[]> {
    const choice = options.face ?? 'largest';
    const found = await this.detector.detect(photo, options);
    if (found.length === 0) throw new NoFaceError(file);
    let picked: number[];
    if (choice === 'all') picked = found.map((_, k) => k);
    // The largest box that the mesh network confirms as a face (a false positive is passed over).
    else if (choice === 'largest') picked = found.map((_, k) => k);
    else if (choice > found.length) throw new FaceChoiceError(file, found.length, choice);
    else picked = [choice - 1];
    const faces: AlignedFace[] = [];
    const name = printableName(file);
    const minPresence = options.minPresence ?? MIN_PRESENCE;
    let rejected = '';
    for (const k of picked) {
      const detection = found[k]!;
      const mesh = await this.mesher.mesh(photo, detection, options);
      if (mesh.presence < minPresence) {
        rejected = `the detector's box ${k + 1} (score ${detection.score.toFixed(2)}) is no face to the mesh network (presence ${mesh.presence.toFixed(2)})`;
        continue;
      }
      const warnings: string[] = [];
      const outside = meshOutside(mesh.points, photo.width, photo.height);
      if (outside > PARTIAL_FACE) warnings.push(`"${name}": face ${k + 1}: ${Math.round(100 * outside)} % of its mesh lies outside the photo (a partial face): that part of its maps stays empty`);
      const yaw = meshYaw(mesh.points);
      if (Math.abs(yaw) > TURNED_DEGREES) warnings.push(`"${name}": face ${k + 1} is turned by about ${Math.round(Math.abs(yaw))}° (a profile): its far side is hidden, so the map there is unreliable`);
      const side = Math.min(detection.box.width, detection.box.height);
      if (side < SMALL_FACE_PX) warnings.push(`"${name}": face ${k + 1} is only ${Math.round(side)} px wide (under ${SMALL_FACE_PX} px): its mesh may be inaccurate`);
      if (choice === 'largest' && found.length > 1) warnings.push(`"${name}": ${found.length} faces found; using the largest (--face all or --face N to choose)`);
      faces.push({ mesh, rank: k + 1, warnings });
      if (choice === 'largest') break;
    }
    if (faces.length === 0) throw new NoFaceError(file, rejected);
    return faces;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.detector.dispose(), this.mesher.dispose()]);
  }
}
