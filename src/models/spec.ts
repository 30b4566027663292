/**
 * ModelSpec: everything csm must know to feed a face model and read a confidence from it.
 * Zoo models ship one; a user's own ONNX model comes with one as a JSON file or CLI flags, and
 * `checkSpecAgainstModel` holds it to the model's declared inputs and outputs.
 */
import { SpecError } from '../errors.js';

/** How a head's output turns into the confidence φ that occlusion drops are measured on. */
export type ConfidenceKind =
  /** Output holds class probabilities that sum to 1 (the model ends in softmax). */
  | 'softmax'
  /** Output holds one probability p of labels[1]; labels[0] has 1 − p. */
  | 'sigmoid'
  /** Output holds raw class scores (logits); probabilities are their softmax. */
  | 'logit'
  /** A regression value (e.g. age in years); the confidence is the value itself. */
  | 'value'
  /** A descriptor vector; confidence is cosine similarity to a reference (method.md Eq. 7 / 8). */
  | 'embedding'
  /** Not a confidence: raw tensors for csm's own use (detector anchors, mesh coordinates). */
  | 'raw';

export const CONFIDENCE_KINDS: readonly ConfidenceKind[] = ['softmax', 'sigmoid', 'logit', 'value', 'embedding', 'raw'];

export type HeadTask = 'expression' | 'gender' | 'age' | 'identity' | 'detection' | 'landmarks' | 'pose' | 'other';
export const HEAD_TASKS: readonly HeadTask[] = ['expression', 'gender', 'age', 'identity', 'detection', 'landmarks', 'pose', 'other'];

export interface HeadSpec {
  /** Short name used on the command line (`--head gender`). */
  name: string;
  task: HeadTask;
  /** ONNX output name. */
  output: string;
  confidence: ConfidenceKind;
  /** Class names, in output order (softmax / logit / sigmoid heads). */
  labels?: string[];
  /** For softmax heads: an output holding the pre-softmax scores, used by `--score logit`. */
  logits?: string;
}

export interface InputSpec {
  /** ONNX input name. */
  name: string;
  width: number;
  height: number;
  /** Memory order of the input tensor: NCHW ([batch, channels, height, width]) or NHWC. */
  layout: 'NCHW' | 'NHWC';
  /** rgb: 3 channels R, G, B; gray: 1 channel 0.2989 R + 0.587 G + 0.114 B. */
  color: 'rgb' | 'gray';
  /**
   * Pixel values p in 0..255 are fed as p · scale + offset (per channel when arrays). ImageNet
   * style mean/std is scale = 1 / (255 · std), offset = −mean / std.
   */
  normalise: { scale: number | number[]; offset: number | number[] };
}

export interface ModelSpec {
  name: string;
  description: string;
  /** The main use, for listings. */
  task: HeadTask | 'multi';
  input: InputSpec;
  heads: HeadSpec[];
  /** Where the weights come from and under what licence (zoo models). */
  source?: string;
  license?: string;
}

/** Per-channel normalisation arrays of length `channels`. */
export function normalisation(spec: InputSpec): { scale: number[]; offset: number[] } {
  const channels = spec.color === 'gray' ? 1 : 3;
  const expand = (v: number | number[]): number[] => (Array.isArray(v) ? v : new Array<number>(channels).fill(v));
  return { scale: expand(spec.normalise.scale), offset: expand(spec.normalise.offset) };
}

export const channelsOf = (spec: InputSpec): number => (spec.color === 'gray' ? 1 : 3);

/** The head to explain: by name, else the first one that yields a confidence. */
export function selectHead(spec: ModelSpec, name?: string): HeadSpec {
  if (name) {
    const head = spec.heads.find((h) => h.name === name);
    if (!head) throw new SpecError(`model "${spec.name}" has no head "${name}" (heads: ${spec.heads.map((h) => h.name).join(', ')})`);
    return head;
  }
  const head = spec.heads.find((h) => h.confidence !== 'raw');
  if (!head) throw new SpecError(`model "${spec.name}" has no head that yields a confidence`);
  return head;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a spec's fields (types, ranges, label counts) and returns it typed. `where` names the
 * file or flag set it came from, for the error message.
 */
export function parseSpec(value: unknown, where: string): ModelSpec {
  const fail = (msg: string): never => { throw new SpecError(`model spec ${where}: ${msg}`); };
  if (!isObject(value)) return fail('must be a JSON object');
  const str = (o: Record<string, unknown>, k: string, path: string): string => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : fail(`"${path}${k}" must be a non-empty string`));
  const posInt = (o: Record<string, unknown>, k: string, path: string): number => (Number.isInteger(o[k]) && (o[k] as number) > 0 ? (o[k] as number) : fail(`"${path}${k}" must be a positive integer`));
  const oneOf = <T extends string>(o: Record<string, unknown>, k: string, path: string, allowed: readonly T[]): T =>
    (allowed as readonly unknown[]).includes(o[k]) ? (o[k] as T) : fail(`"${path}${k}" must be one of ${allowed.join(', ')} (got ${JSON.stringify(o[k])})`);
  const input = isObject(value['input']) ? value['input'] : fail('"input" must be an object');
  const color = oneOf(input, 'color', 'input.', ['rgb', 'gray'] as const);
  const norm = isObject(input['normalise']) ? input['normalise'] : fail('"input.normalise" must be an object with scale and offset');
  const numOrList = (k: 'scale' | 'offset'): number | number[] => {
    const v = norm[k];
    const n = color === 'gray' ? 1 : 3;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return v as number[];
    return fail(`"input.normalise.${k}" must be a number or ${n} numbers`);
  };
  const spec: ModelSpec = {
    name: str(value, 'name', ''),
    description: typeof value['description'] === 'string' ? value['description'] : '',
    task: oneOf(value, 'task', '', [...HEAD_TASKS, 'multi'] as const),
    input: {
      name: str(input, 'name', 'input.'),
      width: posInt(input, 'width', 'input.'),
      height: posInt(input, 'height', 'input.'),
      layout: oneOf(input, 'layout', 'input.', ['NCHW', 'NHWC'] as const),
      color,
      normalise: { scale: numOrList('scale'), offset: numOrList('offset') },
    },
    heads: [],
    ...(typeof value['source'] === 'string' ? { source: value['source'] } : {}),
    ...(typeof value['license'] === 'string' ? { license: value['license'] } : {}),
  };
  const heads = Array.isArray(value['heads']) && value['heads'].length > 0 ? value['heads'] : fail('"heads" must be a non-empty array');
  heads.forEach((h, k) => {
    if (!isObject(h)) fail(`"heads[${k}]" must be an object`);
    const head = h as Record<string, unknown>;
    const p = `heads[${k}].`;
    const labels = head['labels'];
    if (labels !== undefined && !(Array.isArray(labels) && labels.every((l) => typeof l === 'string'))) fail(`"${p}labels" must be an array of strings`);
    const out: HeadSpec = {
      name: str(head, 'name', p),
      task: oneOf(head, 'task', p, HEAD_TASKS),
      output: str(head, 'output', p),
      confidence: oneOf(head, 'confidence', p, CONFIDENCE_KINDS),
      ...(labels ? { labels: labels as string[] } : {}),
      ...(typeof head['logits'] === 'string' ? { logits: head['logits'] } : {}),
    };
    if (out.confidence === 'sigmoid' && out.labels && out.labels.length !== 2) fail(`"${p}labels" of a sigmoid head must name 2 classes (negative, positive)`);
    if (spec.heads.some((x) => x.name === out.name)) fail(`two heads are named "${out.name}"`);
    spec.heads.push(out);
  });
  return spec;
}

/** What an ONNX model declares, as read from its file. */
export interface ModelSignature {
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
}

/**
 * Holds a spec to the model: the input exists with the declared layout, size and channel count,
 * every head's output exists, and class-label counts match the output width when it is fixed.
 */
export function checkSpecAgainstModel(spec: ModelSpec, model: ModelSignature, where: string): void {
  const fail = (msg: string): never => { throw new SpecError(`spec "${spec.name}" does not fit ${where}: ${msg}`); };
  const input = model.inputs.find((i) => i.name === spec.input.name)
    ?? fail(`it has no input "${spec.input.name}" (inputs: ${model.inputs.map((i) => i.name).join(', ')})`);
  if (input.shape.length !== 4) fail(`input "${input.name}" has rank ${input.shape.length}; an image input has rank 4`);
  const c = channelsOf(spec.input);
  const expected = spec.input.layout === 'NCHW' ? [c, spec.input.height, spec.input.width] : [spec.input.height, spec.input.width, c];
  const actual = input.shape.slice(1);
  actual.forEach((d, k) => {
    if (typeof d === 'number' && d > 0 && d !== expected[k]) {
      fail(`input "${input.name}" has shape [${input.shape}], but the spec (${spec.input.layout}, ${spec.input.color}, ${spec.input.width}×${spec.input.height}) implies [batch, ${expected}]`);
    }
  });
  for (const head of spec.heads) {
    for (const name of [head.output, ...(head.logits ? [head.logits] : [])]) {
      const out = model.outputs.find((o) => o.name === name)
        ?? fail(`head "${head.name}" reads output "${name}", which the model lacks (outputs: ${model.outputs.map((o) => o.name).join(', ')})`);
      const width = out.shape[out.shape.length - 1];
      if (head.labels && typeof width === 'number' && width > 0) {
        const want = head.confidence === 'sigmoid' ? 1 : head.labels.length;
        if (width !== want) fail(`head "${head.name}" names ${head.labels.length} labels but output "${name}" has ${width} values`);
      }
    }
  }
}
