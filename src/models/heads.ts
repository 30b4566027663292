/**
 * Analytic heads appended to a converted zoo graph, so that a model's decision is a class
 * confidence φ as in the paper, computed inside the ONNX graph (the occlusion engines only ever
 * run the graph). Both use plain ONNX opset-13 ops (MatMul, Reshape, Reduce*, Exp, Log, Div, Atan,
 * Softmax), which onnxruntime-node and onnxruntime-web implement.
 *
 * - Age in decades: a 100-way age softmax (index k = age k years) summed into 10 bins 0–9, 10–19,
 *   …, 90–99. The probabilities are the sums of each bin's probabilities; the logits are each bin's
 *   log-sum-exp of the 100 pre-softmax scores, so softmax(logits) equals the probabilities.
 * - Head pose in 9 classes (yaw × pitch): see `POSE`.
 */
import type { OnnxInitializer, OnnxModel, OnnxNode } from './onnx/model.js';
import { OnnxDataType } from './onnx/schema.js';

/** A change to a converted graph; `id` goes into the cached file's name. */
export interface GraphExtension {
  id: string;
  apply(model: OnnxModel): void;
}

export const DECADE_LABELS: string[] = Array.from({ length: 10 }, (_, k) => `${10 * k}-${10 * k + 9}`);

/** Builds nodes and initializers under a name prefix. */
class Builder {
  constructor(private readonly model: OnnxModel, private readonly prefix: string) {}
  private count = 0;

  private fresh(what: string): string {
    return `${this.prefix}/${what}_${this.count++}`;
  }

  floats(dims: number[], values: ArrayLike<number>): string {
    const name = this.fresh('const');
    const data = Float32Array.from(values as ArrayLike<number>);
    this.model.graph.initializers.push({ name, dataType: OnnxDataType.FLOAT, dims, raw: new Uint8Array(data.buffer) } satisfies OnnxInitializer);
    return name;
  }

  int64s(values: number[]): string {
    const name = this.fresh('const');
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.model.graph.initializers.push({ name, dataType: OnnxDataType.INT64, dims: [values.length], raw: new Uint8Array(data.buffer) });
    return name;
  }

  /** Adds a node; its output is named `out` when given, else a fresh name. */
  op(opType: string, inputs: string[], attributes: OnnxNode['attributes'] = [], out?: string): string {
    const output = out ?? this.fresh(opType);
    this.model.graph.nodes.push({ name: `${this.prefix}/${opType}_${this.count++}`, opType, inputs, outputs: [output], attributes });
    return output;
  }

  /** Declares a graph output [batch, width]. */
  output(name: string, width: number): void {
    this.model.graph.outputs.push({ name, elemType: OnnxDataType.FLOAT, shape: ['batch', width] });
  }
}

function requireOutput(model: OnnxModel, name: string): void {
  if (!model.graph.outputs.some((o) => o.name === name)) throw new Error(`graph has no output "${name}" to extend (outputs: ${model.graph.outputs.map((o) => o.name).join(', ')})`);
}

/**
 * Appends `<out>` (decade probabilities [batch, 10]) and `<out>_logits` to a graph whose outputs
 * `probs` and `logits` are a 100-way age softmax and its input.
 */
export function ageDecades(probs: string, logits: string, out = 'age_decade'): GraphExtension {
  return {
    id: 'dec1',
    apply(model) {
      requireOutput(model, probs);
      requireOutput(model, logits);
      const b = new Builder(model, out);
      const sumBins = new Float32Array(100 * 10);
      for (let k = 0; k < 100; k++) sumBins[k * 10 + Math.floor(k / 10)] = 1;
      b.op('MatMul', [probs, b.floats([100, 10], sumBins)], [], out);
      // log Σ_bin exp(z) = m + log Σ exp(z − m), m the bin's largest score.
      const grouped = b.op('Reshape', [logits, b.int64s([-1, 10, 10])]);
      const max = b.op('ReduceMax', [grouped], [{ name: 'axes', kind: 'ints', value: [2] }, { name: 'keepdims', kind: 'int', value: 1 }]);
      const sum = b.op('ReduceSum', [b.op('Exp', [b.op('Sub', [grouped, max])]), b.int64s([2])], [{ name: 'keepdims', kind: 'int', value: 0 }]);
      b.op('Add', [b.op('Log', [sum]), b.op('Reshape', [max, b.int64s([-1, 10])])], [], `${out}_logits`);
      b.output(out, 10);
      b.output(`${out}_logits`, 10);
    },
  };
}

/**
 * The head-pose head on the face-mesh network. The mesh is 468 points (x, y, z) in crop pixels,
 * x to the image right, y down, z away from the camera (MediaPipe: smaller z is nearer).
 *
 *   e = p[263] − p[33]   (right eye's outer corner → left eye's outer corner: across the face)
 *   v = p[152] − p[10]   (top of the forehead → chin: down the face)
 *   yaw   = atan(e_z / e_x) in degrees; > 0: the face turns towards the image's right
 *           (its image-right half recedes)
 *   pitch = atan(−v_z / v_y) in degrees; > 0: the face tilts up (the chin comes nearer)
 *
 * Both are 0 on MediaPipe's canonical face to within 1° (its eye corners are at equal depth; its
 * forehead and chin differ by 0.2 in 17.7). The 9 classes are the pitch rows (top, centre, bottom)
 * × yaw columns (left, centre, right), each with logit −((yaw − c_yaw)/w_yaw)² − ((pitch − c_pitch)/w_pitch)²
 * and probabilities their softmax: each angle's Gaussian-like score around its bin centre.
 * The class of largest probability is the nearest centre in each angle, so the bounds between
 * classes are the midpoints: |yaw| > YAW_CENTRE / 2 is left or right, |pitch| > PITCH_CENTRE / 2
 * is top or bottom.
 */
export const POSE = {
  landmarks: { rightEyeOuter: 33, leftEyeOuter: 263, forehead: 10, chin: 152 },
  yawCentres: [-30, 0, 30],
  pitchCentres: [30, 0, -30],
  yawWidth: 15,
  pitchWidth: 15,
  labels: ['top-left', 'top-centre', 'top-right', 'centre-left', 'centre', 'centre-right', 'bottom-left', 'bottom-centre', 'bottom-right'],
} as const;

/** Appends `pose` (probabilities [batch, 9]), `pose_logits`, `pose_yaw`, `pose_pitch` (degrees, [batch, 1]). */
export function headPose(mesh: string): GraphExtension {
  return {
    // The bins are in the id, so that changing them makes a fresh cached file.
    id: `pose-y${POSE.yawCentres.join('_')}w${POSE.yawWidth}-p${POSE.pitchCentres.join('_')}w${POSE.pitchWidth}`,
    apply(model) {
      requireOutput(model, mesh);
      const b = new Builder(model, 'pose');
      const { rightEyeOuter, leftEyeOuter, forehead, chin } = POSE.landmarks;
      // Columns: e_x, e_z, v_y, v_z as ± sums of mesh values.
      const pick = new Float32Array(1404 * 4);
      const put = (point: number, axis: number, column: number, sign: number): void => { pick[(3 * point + axis) * 4 + column] = sign; };
      put(leftEyeOuter, 0, 0, 1); put(rightEyeOuter, 0, 0, -1);
      put(leftEyeOuter, 2, 1, 1); put(rightEyeOuter, 2, 1, -1);
      put(chin, 1, 2, 1); put(forehead, 1, 2, -1);
      put(chin, 2, 3, -1); put(forehead, 2, 3, 1); // −v_z
      const cols = b.op('MatMul', [mesh, b.floats([1404, 4], pick)]);
      const [ex, ez, vy, nvz] = [0, 1, 2, 3].map((k) => b.op('Slice', [cols, b.int64s([k]), b.int64s([k + 1]), b.int64s([1])]));
      const degrees = b.floats([], [180 / Math.PI]);
      const yaw = b.op('Mul', [b.op('Atan', [b.op('Div', [ez!, ex!])]), degrees], [], 'pose_yaw');
      const pitch = b.op('Mul', [b.op('Atan', [b.op('Div', [nvz!, vy!])]), degrees], [], 'pose_pitch');
      const score = (angle: string, centres: readonly number[], width: number): string => {
        const z = b.op('Div', [b.op('Sub', [angle, b.floats([1, 3], centres)]), b.floats([], [width])]);
        return b.op('Neg', [b.op('Mul', [z, z])]);
      };
      const toYaw = new Float32Array(27);
      const toPitch = new Float32Array(27);
      for (let p = 0; p < 3; p++) for (let y = 0; y < 3; y++) { toPitch[p * 9 + 3 * p + y] = 1; toYaw[y * 9 + 3 * p + y] = 1; }
      const logits = b.op('Add', [
        b.op('MatMul', [score(pitch, POSE.pitchCentres, POSE.pitchWidth), b.floats([3, 9], toPitch)]),
        b.op('MatMul', [score(yaw, POSE.yawCentres, POSE.yawWidth), b.floats([3, 9], toYaw)]),
      ], [], 'pose_logits');
      b.op('Softmax', [logits], [{ name: 'axis', kind: 'int', value: 1 }], 'pose');
      b.output('pose', 9);
      b.output('pose_logits', 9);
      b.output('pose_yaw', 1);
      b.output('pose_pitch', 1);
    },
  };
}

/** The same definitions in plain JavaScript, per image (for tests and for reading a mesh). */
export const reference = {
  ageDecades(probs: ArrayLike<number>, logits: ArrayLike<number>): { probs: number[]; logits: number[] } {
    const p: number[] = [];
    const l: number[] = [];
    for (let d = 0; d < 10; d++) {
      let s = 0;
      let m = -Infinity;
      for (let k = 10 * d; k < 10 * d + 10; k++) { s += probs[k]!; m = Math.max(m, logits[k]!); }
      let e = 0;
      for (let k = 10 * d; k < 10 * d + 10; k++) e += Math.exp(logits[k]! - m);
      p.push(s);
      l.push(m + Math.log(e));
    }
    return { probs: p, logits: l };
  },
  headPose(mesh: ArrayLike<number>): { yaw: number; pitch: number; logits: number[]; probs: number[] } {
    const at = (point: number, axis: number): number => mesh[3 * point + axis]!;
    const { rightEyeOuter, leftEyeOuter, forehead, chin } = POSE.landmarks;
    const yaw = Math.atan((at(leftEyeOuter, 2) - at(rightEyeOuter, 2)) / (at(leftEyeOuter, 0) - at(rightEyeOuter, 0))) * 180 / Math.PI;
    const pitch = Math.atan(-(at(chin, 2) - at(forehead, 2)) / (at(chin, 1) - at(forehead, 1))) * 180 / Math.PI;
    const logits: number[] = [];
    for (let p = 0; p < 3; p++) {
      for (let y = 0; y < 3; y++) {
        logits.push(-(((pitch - POSE.pitchCentres[p]!) / POSE.pitchWidth) ** 2) - (((yaw - POSE.yawCentres[y]!) / POSE.yawWidth) ** 2));
      }
    }
    const m = Math.max(...logits);
    const e = logits.map((z) => Math.exp(z - m));
    const s = e.reduce((a, x) => a + x, 0);
    return { yaw, pitch, logits, probs: e.map((x) => x / s) };
  },
};
