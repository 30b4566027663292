/**
 * Face detection with BlazeFace (zoo model "blazeface", 256×256 input). The photo is letterboxed
 * into a square so faces keep their aspect, anchors are decoded as MediaPipe defines them, and
 * overlapping candidates are merged by score-weighted averaging (MediaPipe's "weighted" NMS),
 * which gives steadier boxes than keeping only the best candidate.
 */
import { cpuOpener } from '../engine/registry.js';
import type { EngineSession, ModelOpener } from '../engine/types.js';
import { cropAndResize, type RgbImage } from '../image/index.js';
import { resolveModel } from '../models/load.js';
import { toModelInput } from '../models/preprocess.js';
import type { ModelSpec } from '../models/spec.js';
import type { Box, Detection } from './types.js';

export interface DetectOptions {
  /** Minimum face score (sigmoid of the anchor logit). */
  minScore?: number;
  /** Candidates overlapping a better one by more than this IoU are merged into it. */
  iou?: number;
}

const DEFAULTS: Required<DetectOptions> = { minScore: 0.5, iou: 0.3 };

/** Anchor centres in input pixels: 16×16 cells × 2 (stride 16), then 8×8 cells × 6 (stride 32). */
function anchors(inputSize: number): Float32Array {
  const layers = [{ stride: 16, perCell: 2 }, { stride: 32, perCell: 6 }];
  const out: number[] = [];
  for (const { stride, perCell } of layers) {
    const cells = Math.ceil(inputSize / stride);
    for (let y = 0; y < cells; y++) for (let x = 0; x < cells; x++) for (let n = 0; n < perCell; n++) out.push((x + 0.5) * stride, (y + 0.5) * stride);
  }
  return Float32Array.from(out);
}

const iou = (a: Box, b: Box): number => {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = ix * iy;
  return inter / (a.width * a.height + b.width * b.height - inter);
};

/** Score-weighted merge of overlapping candidates; output sorted by score. */
function weightedNms(cands: Detection[], threshold: number): Detection[] {
  const rest = [...cands].sort((a, b) => b.score - a.score);
  const out: Detection[] = [];
  while (rest.length) {
    const best = rest[0]!;
    const group = rest.filter((d) => iou(best.box, d.box) > threshold);
    const keep = rest.filter((d) => iou(best.box, d.box) <= threshold);
    const total = group.reduce((s, d) => s + d.score, 0);
    const avg = (f: (d: Detection) => number): number => group.reduce((s, d) => s + f(d) * d.score, 0) / total;
    const keypoints = new Float32Array(12);
    for (let k = 0; k < 12; k++) keypoints[k] = avg((d) => d.keypoints[k]!);
    out.push({ box: { x: avg((d) => d.box.x), y: avg((d) => d.box.y), width: avg((d) => d.box.width), height: avg((d) => d.box.height) }, score: best.score, keypoints });
    rest.splice(0, rest.length, ...keep);
  }
  return out;
}

export class FaceDetector {
  private readonly anchors: Float32Array;

  private constructor(private readonly spec: ModelSpec, private readonly session: EngineSession) {
    this.anchors = anchors(spec.input.width);
  }

  /** BlazeFace on the engine that `open` picks (the CPU engine by default). */
  static async create(open: ModelOpener = cpuOpener): Promise<FaceDetector> {
    const model = await resolveModel('blazeface');
    return new FaceDetector(model.spec, await open(model, { batch: 1 }));
  }

  /** All faces in the photo, in photo pixels, largest box first. */
  async detect(photo: RgbImage, options: DetectOptions = {}): Promise<Detection[]> {
    const { minScore, iou: iouThreshold } = { ...DEFAULTS, ...options };
    const { input, heads } = this.spec;
    const size = input.width;
    // Letterbox: the photo sits at the top-left of a square of side max(W, H); the rest is black.
    const side = Math.max(photo.width, photo.height);
    const square = cropAndResize(photo, { x: 0, y: 0, width: side, height: side }, size, size);
    const output = (head: string): string => heads.find((h) => h.name === head)!.output;
    const names = ['scores16', 'scores32', 'boxes16', 'boxes32'].map(output);
    const out = await this.session.infer(toModelInput([square], input), 1, names);
    const read = (head: string): Float32Array => out[output(head)]!;
    const scores = [read('scores16'), read('scores32')];
    const boxes = [read('boxes16'), read('boxes32')];
    const scale = side / size;
    const cands: Detection[] = [];
    let anchor = 0;
    for (let layer = 0; layer < 2; layer++) {
      const n = scores[layer]!.length;
      for (let i = 0; i < n; i++, anchor++) {
        const logit = Math.max(-100, Math.min(100, scores[layer]![i]!));
        const score = 1 / (1 + Math.exp(-logit));
        if (score < minScore) continue;
        const r = boxes[layer]!.subarray(i * 16, i * 16 + 16);
        const ax = this.anchors[2 * anchor]!;
        const ay = this.anchors[2 * anchor + 1]!;
        const cx = ax + r[0]!;
        const cy = ay + r[1]!;
        const w = r[2]!;
        const h = r[3]!;
        const keypoints = new Float32Array(12);
        for (let k = 0; k < 6; k++) {
          keypoints[2 * k] = (ax + r[4 + 2 * k]!) * scale;
          keypoints[2 * k + 1] = (ay + r[5 + 2 * k]!) * scale;
        }
        cands.push({ box: { x: (cx - w / 2) * scale, y: (cy - h / 2) * scale, width: w * scale, height: h * scale }, score, keypoints });
      }
    }
    return weightedNms(cands, iouThreshold).sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  }

  /** The engine this network runs on. */
  get engine(): string {
    return this.session.engine;
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
