/**
 * Converted zoo models live in a cache folder, never in the repository: made on first use (or by
 * `csm models convert --all`) from the npm package on disk, with no network access. A file's name
 * carries a hash of its source files and the converter version, so an upgrade of either makes a
 * fresh file instead of reusing a stale one.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ModelError } from '../errors.js';
import { CONVERTER_VERSION, convertTfjsGraph } from './convert/convert.js';
import { loadTfjsGraphModel, loadTfjsWeights } from './convert/tfjs-model.js';
import { encodeModel } from './onnx/model.js';
import { ZOO_NAMES, ZOO_PACKAGE, zooEntry, type ZooEntry } from './zoo.js';

/** `CSM_CACHE_DIR`, else `$XDG_CACHE_HOME/csm`, else `~/.cache/csm`. */
export function cacheDir(): string {
  if (process.env['CSM_CACHE_DIR']) return process.env['CSM_CACHE_DIR'];
  return join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'csm');
}

/** Folder of the installed zoo package (or of another model package a zoo entry names). */
export function zooPackageDir(pkg: string = ZOO_PACKAGE): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch (e) {
    throw new ModelError(`the model package ${pkg} is not installed (${pkg === ZOO_PACKAGE ? 'run npm install' : `npm install --save-dev ${pkg}`})`, { cause: e });
  }
}

const entryPath = (entry: ZooEntry): string => join(zooPackageDir(entry.package), entry.file);

async function sourceHash(entry: ZooEntry): Promise<string> {
  const jsonPath = entryPath(entry);
  const json = await readFile(jsonPath);
  const hash = createHash('sha256').update(json);
  const manifest = JSON.parse(json.toString('utf8')) as { weightsManifest: { paths: string[] }[] } | { paths: string[] }[];
  for (const group of Array.isArray(manifest) ? manifest : manifest.weightsManifest) for (const p of group.paths) hash.update(await readFile(join(dirname(jsonPath), p)));
  return hash.digest('hex').slice(0, 12);
}

export interface ZooModelFile {
  name: string;
  path: string;
  /** True when this call converted it (false: it was in the cache). */
  converted: boolean;
  seconds: number;
}

/** The path of a zoo model's ONNX file, converting it first if the cache lacks it. */
export async function ensureZooModel(name: string, options: { force?: boolean } = {}): Promise<ZooModelFile> {
  const entry = zooEntry(name);
  if (!entry) throw new ModelError(`no model "${name}" in the zoo (models: ${ZOO_NAMES.join(', ')})`);
  const t0 = performance.now();
  const extensions = (entry.extend ?? []).map((x) => `-${x.id}`).join('');
  const maker = entry.build ? `b${entry.build.id}` : `c${CONVERTER_VERSION}`;
  const path = join(cacheDir(), 'models', `${name}-${await sourceHash(entry)}-${maker}${extensions}.onnx`);
  if (existsSync(path) && !options.force) return { name, path, converted: false, seconds: (performance.now() - t0) / 1000 };
  const metadata = { csm_model: name, csm_source: entry.spec.source ?? '' };
  const onnx = entry.build
    ? entry.build.make(await loadTfjsWeights(entryPath(entry)), metadata)
    : convertTfjsGraph(await loadTfjsGraphModel(entryPath(entry)), { name, metadata }).onnx;
  for (const x of entry.extend ?? []) x.apply(onnx);
  await mkdir(dirname(path), { recursive: true });
  // Write then rename, so a killed conversion never leaves a truncated model in the cache.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, encodeModel(onnx));
  await rename(tmp, path);
  return { name, path, converted: true, seconds: (performance.now() - t0) / 1000 };
}
