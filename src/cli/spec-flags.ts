/**
 * A model spec from the command line: `--spec FILE.json`, or flags for a one-head model. Shared by
 * every command that takes `--model`.
 */
import type { ParseArgsConfig } from 'node:util';
import { parseSpec, readSpecFile, type ModelSignature, type ModelSpec } from '../index.js';
import { UsageError } from './output.js';

export const SPEC_OPTIONS = {
  spec: { type: 'string' },
  'input-name': { type: 'string' },
  'input-size': { type: 'string' },
  layout: { type: 'string' },
  color: { type: 'string' },
  scale: { type: 'string' },
  offset: { type: 'string' },
  output: { type: 'string' },
  confidence: { type: 'string' },
  labels: { type: 'string' },
  task: { type: 'string' },
  logits: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const SPEC_HELP = `Model spec (for --model FILE.onnx; zoo models have their own):
  --spec FILE.json        a full spec (see "csm models info NAME --json" for the format)
  or, for a model with one head:
  --input-size WxH        input width × height (or one number for square)   [required]
  --input-name NAME       input tensor name              [default: the model's only input]
  --layout NCHW|NHWC      input memory order                                 [default: NCHW]
  --color rgb|gray        input channels                                     [default: rgb]
  --scale S[,S,S]         pixels 0..255 are fed as p × scale + offset        [default: 1/255]
  --offset O[,O,O]                                                           [default: 0]
  --output NAME           output to read                 [default: the model's only output]
  --confidence KIND       softmax | sigmoid | logit | value | embedding      [required]
  --labels a,b,c          class names in output order
  --task TASK             expression | gender | age | identity | other       [default: other]
  --logits NAME           pre-softmax output for --score logit`;

type SpecValues = { [K in keyof typeof SPEC_OPTIONS]?: string };

function numbers(text: string, flag: string): number | number[] {
  const parts = text.split(',').map((t) => {
    const m = /^\s*(-?[\d.]+(?:e-?\d+)?)\s*(?:\/\s*([\d.]+))?\s*$/i.exec(t);
    if (!m) throw new UsageError(`${flag} takes numbers (fractions like 1/255 allowed), got "${t}"`);
    return Number(m[1]) / (m[2] ? Number(m[2]) : 1);
  });
  return parts.length === 1 ? parts[0]! : parts;
}

/** The spec the flags describe, or undefined when none was given. */
export async function specFromFlags(values: SpecValues, signature: ModelSignature | undefined, modelName: string): Promise<ModelSpec | undefined> {
  if (values.spec) return readSpecFile(values.spec);
  if (!values['input-size'] && !values.confidence) return undefined;
  if (!values['input-size']) throw new UsageError('--input-size is required when the spec is given by flags');
  if (!values.confidence) throw new UsageError('--confidence is required when the spec is given by flags');
  const size = /^(\d+)(?:x(\d+))?$/i.exec(values['input-size']);
  if (!size) throw new UsageError(`--input-size takes WxH or N, got "${values['input-size']}"`);
  const only = (list: { name: string }[] | undefined, what: string, flag: string): string => {
    if (list?.length === 1) return list[0]!.name;
    throw new UsageError(`the model has ${list?.length ?? 'unknown'} ${what}s (${list?.map((v) => v.name).join(', ')}): name one with ${flag}`);
  };
  const raw = {
    name: modelName,
    description: 'user model (spec from command-line flags)',
    task: values.task ?? 'other',
    input: {
      name: values['input-name'] ?? only(signature?.inputs, 'input', '--input-name'),
      width: Number(size[1]),
      height: Number(size[2] ?? size[1]),
      layout: values.layout ?? 'NCHW',
      color: values.color ?? 'rgb',
      normalise: { scale: numbers(values.scale ?? '1/255', '--scale'), offset: numbers(values.offset ?? '0', '--offset') },
    },
    heads: [{
      name: values.task && values.task !== 'other' ? values.task : 'output',
      task: values.task ?? 'other',
      output: values.output ?? only(signature?.outputs, 'output', '--output'),
      confidence: values.confidence,
      ...(values.labels ? { labels: values.labels.split(',').map((l) => l.trim()) } : {}),
      ...(values.logits ? { logits: values.logits } : {}),
    }],
  };
  return parseSpec(raw, 'from command-line flags');
}
