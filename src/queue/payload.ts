/**
 * What a queued chunk is: data only (image paths, the model's name and file hash, its spec, and
 * the explanation flags as `csm cms` takes them), checked here on both ends of the queue. A worker
 * runs no code from the queue: it reads these fields, refuses anything else, and parses the flags
 * with the same parser as `csm cms` (so a chunk is explained exactly as a local run would be).
 *
 * Redis layout (all under the BullMQ prefix `csm`): one BullMQ queue per run (`run.NAME`), one job
 * per chunk with the id `chunk-NNNNN` (so resubmitting adds nothing twice), the run's record in
 * the hash `csm-queue:runs`, each finished chunk's summary in `csm-queue:NAME:done` and each chunk's
 * first start in `csm-queue:NAME:started`.
 */
import { isAbsolute } from 'node:path';
import { CsmError } from '../errors.js';

export const PAYLOAD_FORMAT = 'csm-queue-chunk';
export const PAYLOAD_VERSION = 1;

/** The BullMQ key prefix of every csm queue. */
export const QUEUE_PREFIX = 'csm';
/** The hash of submitted runs: name → {@link RunRecord} as JSON. */
export const RUNS_KEY = 'csm-queue:runs';

/** The flags of `csm cms` that a chunk may carry: those that change the maps (never engine or output flags). */
export const CHUNK_FLAGS = ['head', 'class', 'score', 'fill', 'patch', 'stride', 'sampling', 'keep', 'points', 'canonical-size', 'crop', 'crop-scale', 'face', 'alignment'] as const;
export type ChunkFlag = (typeof CHUNK_FLAGS)[number];

/** One job of a queue run: a chunk of the run's images. */
export interface ChunkPayload {
  format: typeof PAYLOAD_FORMAT;
  version: typeof PAYLOAD_VERSION;
  run: string;
  /** This chunk's index (0-based) and the run's number of chunks. */
  chunk: number;
  chunks: number;
  /** The --images given at submit, recorded in the output as `csm cms` records it. */
  source: string;
  /** Absolute paths, in the run's order. */
  images: string[];
  /** A zoo name or an absolute .onnx path, and the SHA-256 of its file: a worker with another file refuses the chunk. */
  model: { name: string; sha256: string };
  /** The model spec (a JSON object, checked by the worker as a spec file would be); absent for zoo models. */
  spec?: Record<string, unknown>;
  /** Explanation flags as `csm cms` takes them (strings). */
  flags: Partial<Record<ChunkFlag, string>>;
}

/** What `csm queue submit` records of a run (the hash RUNS_KEY). */
export interface RunRecord {
  run: string;
  submitted: string;
  images: number;
  chunks: number;
  chunkSize: number;
  source: string;
  model: { name: string; sha256: string };
  flags: Partial<Record<ChunkFlag, string>>;
  /** Whether the images were in sorted order (a folder): the output lists them sorted, as csm cms does. */
  sorted: boolean;
  /** SHA-256 over the chunk payloads: a resubmit with other images or options is refused. */
  sha256: string;
}

/** A job payload that is not a chunk csm made: refused, never run. */
export class PayloadError extends CsmError {}

const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_PATH = 4096;
const MAX_IMAGES = 100_000;

/** Throws a CsmError unless `name` is a run name: letters, digits, `.`, `_`, `-`, at most 64, starting with a letter or digit. */
export function checkRunName(name: string): string {
  if (!RUN_NAME.test(name)) throw new CsmError(`--run takes a name of letters, digits, ".", "_" and "-" (at most 64, starting with a letter or digit), got ${JSON.stringify(name.slice(0, 80))}`);
  return name;
}

/** The BullMQ queue of a run. */
export const queueName = (run: string): string => `run.${run}`;
/** The hash of a run's finished chunks: job id → {@link ChunkSummary} as JSON. */
export const doneKey = (run: string): string => `csm-queue:${run}:done`;
/** The hash of when each chunk was first started: job id → ms since 1970 (kept by the first start only). */
export const startedKey = (run: string): string => `csm-queue:${run}:started`;
/** The deterministic job id of a chunk. */
export const chunkId = (chunk: number): string => `chunk-${String(chunk).padStart(5, '0')}`;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const plainString = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max && !/[\0\r\n]/.test(v);

/**
 * Checks that `data` is a chunk payload as {@link ChunkPayload} describes, field by field, with
 * no unknown field, and returns it typed. `run`: the run whose queue the job came from. Throws a
 * {@link PayloadError} naming the job and the first field at fault.
 */
export function validateChunkPayload(data: unknown, where: { run?: string; job?: string } = {}): ChunkPayload {
  const label = `malformed job payload${where.job ? ` (job ${where.job}${where.run ? ` of run "${where.run}"` : ''})` : ''}`;
  const fail = (why: string): never => { throw new PayloadError(`${label}: ${why}; the job is refused, not run`); };
  if (!isObject(data)) return fail(`expected a JSON object, got ${Array.isArray(data) ? 'an array' : data === null ? 'null' : typeof data}`);
  const known = ['format', 'version', 'run', 'chunk', 'chunks', 'source', 'images', 'model', 'spec', 'flags'];
  const unknown = Object.keys(data).filter((k) => !known.includes(k));
  if (unknown.length) fail(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}`);
  if (data['format'] !== PAYLOAD_FORMAT) fail(`"format" must be "${PAYLOAD_FORMAT}", got ${JSON.stringify(data['format'])?.slice(0, 60)}`);
  if (data['version'] !== PAYLOAD_VERSION) fail(`"version" must be ${PAYLOAD_VERSION} (this csm reads version ${PAYLOAD_VERSION}), got ${JSON.stringify(data['version'])?.slice(0, 20)}`);
  const run = data['run'];
  if (typeof run !== 'string' || !RUN_NAME.test(run)) fail('"run" must be a run name');
  if (where.run !== undefined && run !== where.run) fail(`"run" is ${JSON.stringify(run)} but the job is in the queue of run "${where.run}"`);
  const chunks = data['chunks'];
  const chunk = data['chunk'];
  if (!Number.isSafeInteger(chunks) || (chunks as number) < 1) fail(`"chunks" must be a whole number ≥ 1, got ${JSON.stringify(chunks)}`);
  if (!Number.isSafeInteger(chunk) || (chunk as number) < 0 || (chunk as number) >= (chunks as number)) fail(`"chunk" must be a whole number from 0 to chunks − 1 = ${(chunks as number) - 1}, got ${JSON.stringify(chunk)}`);
  if (!plainString(data['source'], MAX_PATH)) fail('"source" must be a path (a non-empty string of one line)');
  const images = data['images'];
  if (!Array.isArray(images) || images.length < 1 || images.length > MAX_IMAGES) fail(`"images" must be a list of 1 to ${MAX_IMAGES} paths`);
  (images as unknown[]).forEach((f, i) => {
    if (!plainString(f, MAX_PATH)) fail(`images[${i}] must be a path (a non-empty string of one line, at most ${MAX_PATH} characters)`);
    if (!isAbsolute(f as string)) fail(`images[${i}] "${(f as string).slice(0, 80)}" is not an absolute path`);
  });
  if (new Set(images as string[]).size !== (images as string[]).length) fail('"images" lists a path twice');
  const model = data['model'];
  if (!isObject(model) || Object.keys(model).some((k) => k !== 'name' && k !== 'sha256')) fail('"model" must be an object { name, sha256 }');
  const m = model as Record<string, unknown>;
  if (!plainString(m['name'], MAX_PATH)) fail('"model.name" must be a zoo model name or an absolute .onnx path');
  if (/[/\\]/.test(m['name'] as string) && !isAbsolute(m['name'] as string)) fail(`"model.name" "${(m['name'] as string).slice(0, 80)}" is a relative path`);
  if (typeof m['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(m['sha256'])) fail('"model.sha256" must be 64 lower-case hex digits');
  if (data['spec'] !== undefined && !isObject(data['spec'])) fail('"spec" must be a JSON object (a model spec) when given');
  const flags = data['flags'];
  if (!isObject(flags)) return fail('"flags" must be an object of csm cms flags');
  for (const [k, v] of Object.entries(flags)) {
    if (!(CHUNK_FLAGS as readonly string[]).includes(k)) fail(`"flags" holds --${k.slice(0, 40)}, which a chunk may not carry (allowed: ${CHUNK_FLAGS.map((f) => `--${f}`).join(', ')})`);
    if (!plainString(v, MAX_PATH)) fail(`flag --${k} must be a non-empty string of one line`);
  }
  return data as unknown as ChunkPayload;
}
