/**
 * The front end of explaining a photo: decode, find the face (detector + 468-point mesh, or an
 * external dense alignment), cut the model input I and map the correspondence into I's pixels.
 * It needs no session of the explained model, only its input spec and a way to open the detector
 * and the mesh network, so the same code runs on the main thread (Explainer) and in the front-end
 * workers of src/pipeline/ (design.md, "The loop never waits for the front end").
 */
import { existsSync } from 'node:fs';
import type { ModelOpener } from '../engine/types.js';
import { FaceAligner } from '../face/align.js';
import { canonicalFrame, loadCanonicalFaceModel } from '../face/canonical.js';
import { densePoints, mapPoints, meshXYFromXYZ, type DensePoints } from '../face/correspondence.js';
import type { ExternalAlignment } from '../face/external.js';
import type { CanonicalFrame, Correspondence } from '../face/types.js';
import { applyAffine, invertAffine, readImage, warpAffine, type Affine, type RgbImage } from '../image/index.js';
import { toModelInput } from '../models/preprocess.js';
import type { InputSpec } from '../models/spec.js';
import type { ExplainOptions } from './explain.js';

/** Seconds spent in each step of preparing one photo. */
export interface PrepareTiming {
  /** Reading and decoding the file (0 when the caller passed the photo). */
  decode: number;
  /** Detection and mesh (own alignment), or reading the external alignment. */
  align: number;
  /** Crop, warp to I, the model tensor and the correspondence in I. */
  input: number;
}

/** A photo made ready for occlusion: the model input and the correspondence in its pixels. */
export interface PreparedImage {
  file: string;
  photo: RgbImage;
  /** The input image I (pixels 0..255, model size). */
  image: RgbImage;
  /** I as the model's normalised input tensor. */
  tensor: Float32Array;
  /** Photo pixels → I pixels. */
  toInput: Affine;
  correspondence: Correspondence;
  /** The face mesh in photo pixels (own alignment only). */
  meshXYZ?: Float32Array;
  warnings: string[];
  /** Where the front end spent its time on this photo. */
  timing?: PrepareTiming;
}

/** The affine map taking photo pixels to I's pixels for a crop of the photo. */
function cropToInput(points: Float32Array, photo: RgbImage, W: number, H: number, crop: 'face' | 'full', scale: number): Affine {
  if (crop === 'full') return { a: W / photo.width, b: 0, c: 0, d: 0, e: H / photo.height, f: 0 };
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let k = 0; k < points.length; k += 2) {
    minX = Math.min(minX, points[k]!); maxX = Math.max(maxX, points[k]!);
    minY = Math.min(minY, points[k + 1]!); maxY = Math.max(maxY, points[k + 1]!);
  }
  const side = Math.max(maxX - minX, maxY - minY) * scale;
  const x0 = (minX + maxX) / 2 - side / 2;
  const y0 = (minY + maxY) / 2 - side / 2;
  return { a: W / side, b: 0, c: (-x0 * W) / side, d: 0, e: H / side, f: (-y0 * H) / side };
}

/** Decode + align + crop for one model input spec and one set of explain options. */
export class ImagePreparer {
  private constructor(
    readonly input: InputSpec,
    readonly options: ExplainOptions,
    private readonly aligner: FaceAligner | undefined,
    readonly frame: CanonicalFrame | undefined,
    private readonly points: DensePoints | undefined,
    readonly external: ExternalAlignment | undefined,
  ) {}

  /**
   * With csm's own alignment (the detector and the mesh network opened by `open`: the explained
   * model's engine for the Explainer, the CPU engine with one thread in a front-end worker), or
   * with external alignments (then `open` is not used).
   */
  static async create(input: InputSpec, options: ExplainOptions, open: ModelOpener | undefined, external?: ExternalAlignment): Promise<ImagePreparer> {
    if (external) return new ImagePreparer(input, options, undefined, undefined, undefined, external);
    const frame = canonicalFrame(await loadCanonicalFaceModel(), options.canonicalSize);
    const points = densePoints(frame, options.stride);
    return new ImagePreparer(input, options, await FaceAligner.create(open), frame, points, undefined);
  }

  /** Where the detector and the mesh network run (undefined with external alignments). */
  get engines(): { detector: string; mesh: string } | undefined {
    return this.aligner ? { detector: this.aligner.detector.engine, mesh: this.aligner.mesher.engine } : undefined;
  }

  /** H_F of the maps made from these correspondences. */
  get canonicalSize(): number {
    return this.external ? this.external.canonicalImage.height : this.options.canonicalSize;
  }

  /**
   * Reads the photo, finds the face and builds I with its correspondence. An item written
   * "PHOTO#N" (no such file on disk) means face N of PHOTO, so group photos can give several items.
   */
  async prepare(item: string, photo?: RgbImage): Promise<PreparedImage> {
    const t0 = performance.now();
    const ranked = /^(.*)#(\d+)$/.exec(item);
    const [file, faceChoice] = ranked && !existsSync(item) ? [ranked[1]!, Number(ranked[2])] : [item, this.options.face === 'all' ? 'largest' as const : this.options.face];
    photo ??= await readImage(file);
    const t1 = performance.now();
    const { input } = this;
    let photoPoints: Float32Array;
    let canonical: Float32Array;
    let meshXYZ: Float32Array | undefined;
    const warnings: string[] = [];
    if (this.external) {
      const c = await this.external.correspondenceFor(this.external.meshPathFor(file));
      photoPoints = c.image;
      canonical = c.canonical;
    } else {
      const faces = await this.aligner!.align(photo, file, { face: faceChoice });
      const face = faces[0]!;
      warnings.push(...face.warnings);
      meshXYZ = face.mesh.points;
      photoPoints = mapPoints(meshXYFromXYZ(meshXYZ), this.points!);
      canonical = this.points!.canonical;
    }
    const t2 = performance.now();
    // The crop follows the whole mesh (or the whole external alignment), never the sampled points,
    // so that I, and the prediction, do not change with the stride.
    const extent = meshXYZ ? meshXYFromXYZ(meshXYZ) : photoPoints;
    const toInput = cropToInput(extent, photo, input.width, input.height, this.options.crop, this.options.cropScale);
    const image = warpAffine(photo, invertAffine(toInput), input.width, input.height);
    const inputPoints = new Float32Array(photoPoints.length);
    for (let k = 0; k < photoPoints.length; k += 2) {
      const [x, y] = applyAffine(toInput, photoPoints[k]!, photoPoints[k + 1]!);
      inputPoints[k] = x;
      inputPoints[k + 1] = y;
    }
    const tensor = toModelInput([image], input);
    const timing = { decode: (t1 - t0) / 1000, align: (t2 - t1) / 1000, input: (performance.now() - t2) / 1000 };
    return {
      file: item, photo, image, tensor, toInput, meshXYZ, warnings, timing,
      correspondence: { image: inputPoints, canonical, count: inputPoints.length / 2, canonicalSize: this.canonicalSize },
    };
  }

  async dispose(): Promise<void> {
    await this.aligner?.dispose();
  }
}
