/**
 * Why Dawn finds (or does not find) a Vulkan driver, and the one repair csm can make itself.
 *
 * Dawn reaches a GPU through the Vulkan loader (`libvulkan.so.1`), which loads the drivers named
 * by ICD manifest files (`*.json` in /usr/share/vulkan/icd.d, /etc/vulkan/icd.d, … or the files in
 * VK_DRIVER_FILES / VK_ICD_FILENAMES). Many NVIDIA servers and containers expose CUDA but no
 * Vulkan driver: the container was started without the `graphics` driver capability, or the
 * driver's library (libGLX_nvidia.so.0, which is also its Vulkan driver) is there but no manifest
 * names it. `inspectVulkan` gathers the evidence, `diagnoseVulkan` names the cause and the fix,
 * and `configureVulkanIcd` can point the loader at a manifest csm writes into its cache folder.
 *
 * Every function here reads the file system under a `root` prefix (default `/`) and takes the
 * environment as an object, so that tests can build fake driver layouts in a temporary folder.
 * Paths in the results are the paths the process would see (without the prefix). Only the cache
 * folder that `configureVulkanIcd` writes into is a real path, taken from `env` as given.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { CsmError } from '../../errors.js';

export type Env = Record<string, string | undefined>;

/** The NVIDIA driver's library that is also its Vulkan driver (what nvidia_icd.json names). */
export const NVIDIA_VULKAN_LIBRARY = 'libGLX_nvidia.so.0';
/** Libraries whose presence shows an NVIDIA user-space driver (graphics part, then compute part). */
export const NVIDIA_LIBRARIES = ['libGLX_nvidia.so.0', 'libEGL_nvidia.so.0', 'libcuda.so.1'] as const;
/** libGLX_nvidia.so.0 needs the GL vendor-neutral dispatch library (libglvnd) to load. */
export const GLVND_LIBRARY = 'libGLdispatch.so.0';
/**
 * The api_version written into a generated manifest. The loader asks the driver itself which
 * version it supports; this field only has to be a valid 1.3 version, as NVIDIA's own files are.
 */
export const GENERATED_API_VERSION = '1.3.277';

/** The dynamic linker's default folders (Debian multiarch, Red Hat lib64, plain). */
const DEFAULT_LIB_DIRS = [
  '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu',
  '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib',
];
/** Where NVIDIA's libraries often sit off the linker's path (container toolkit, CUDA images, .run installs). */
const NVIDIA_LIB_DIRS = ['/usr/local/nvidia/lib64', '/usr/local/nvidia/lib', '/usr/lib/nvidia', '/usr/lib64/nvidia', '/usr/lib/x86_64-linux-gnu/nvidia/current'];
/** A manifest folder off the loader's default search path where NVIDIA manifests have been seen (some GPU hosts' containers). */
const NVIDIA_ICD_DIRS = ['/usr/local/nvidia/share/vulkan/icd.d'];

export type IcdKind = 'nvidia' | 'software' | 'other';

export interface IcdManifest {
  /** The manifest's path. */
  file: string;
  /** How the loader comes to it, or `unused` for a manifest it will not read (see `unusedBecause`). */
  from: 'VK_DRIVER_FILES' | 'VK_ICD_FILENAMES' | 'VK_ADD_DRIVER_FILES' | 'search path' | 'unused';
  unusedBecause?: string;
  /** `ICD.library_path` as written. */
  libraryPath?: string;
  apiVersion?: string;
  /** Where that library is, when it exists (a bare name is looked up like the dynamic linker does). */
  library?: string;
  libraryFound: boolean;
  kind: IcdKind;
  /** Set when the file cannot be read or is not an ICD manifest. */
  error?: string;
}

export interface NvidiaEvidence {
  /** First line of /proc/driver/nvidia/version (the kernel driver is loaded). */
  kernelDriver?: string;
  /** nvidia-smi found on PATH. */
  smi?: string;
  /** Each of NVIDIA_LIBRARIES: where it is, or null. */
  libraries: Record<string, string | null>;
  /** NVIDIA_DRIVER_CAPABILITIES and NVIDIA_VISIBLE_DEVICES (set in NVIDIA containers). */
  capabilities?: string;
  visibleDevices?: string;
  /** false when NVIDIA_DRIVER_CAPABILITIES is set and names neither `graphics` nor `all`. */
  graphicsCapability?: boolean;
  /** Any evidence at all of an NVIDIA driver. */
  present: boolean;
}

export interface VulkanReport {
  root: string;
  /** The Vulkan loader, or null when the dynamic linker would not find it. */
  libvulkan: string | null;
  /** libGLdispatch.so.0, needed by NVIDIA's GL/Vulkan library. */
  glvnd: string | null;
  env: { VK_DRIVER_FILES?: string; VK_ICD_FILENAMES?: string; VK_ADD_DRIVER_FILES?: string; LD_LIBRARY_PATH?: string };
  /** Entries of VK_DRIVER_FILES / VK_ICD_FILENAMES that do not exist. */
  missingEnvFiles: string[];
  /** Manifests the loader reads, then the ones it does not (unused) but that are worth knowing. */
  icds: IcdManifest[];
  nvidia: NvidiaEvidence;
}

/** A path as the process sees it, mapped under the test prefix. */
function under(root: string, path: string): string {
  return root === '/' || root === '' ? path : join(root, path);
}

function isFile(root: string, path: string): boolean {
  try { return statSync(under(root, path)).isFile(); } catch { return false; }
}

function isDir(root: string, path: string): boolean {
  try { return statSync(under(root, path)).isDirectory(); } catch { return false; }
}

function readText(root: string, path: string): string | undefined {
  try { return readFileSync(under(root, path), 'utf8'); } catch { return undefined; }
}

function splitList(value: string | undefined): string[] {
  return (value ?? '').split(':').map((s) => s.trim()).filter(Boolean);
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function homeOf(env: Env): string {
  return env['HOME'] || homedir();
}

/** The folders the dynamic linker searches: LD_LIBRARY_PATH, /etc/ld.so.conf(.d), the defaults. */
export function linkerDirs(root: string, env: Env): string[] {
  const fromConf: string[] = [];
  const readConf = (file: string, depth: number): void => {
    const text = readText(root, file);
    if (text === undefined || depth > 3) return;
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const include = /^include\s+(.+)$/.exec(line);
      if (include) {
        // Only the usual `include /etc/ld.so.conf.d/*.conf` form: a folder and a suffix.
        const pattern = include[1]!.trim();
        const slash = pattern.lastIndexOf('/');
        const dir = pattern.slice(0, slash);
        const suffix = pattern.slice(slash + 1).replace(/^\*/, '');
        let names: string[] = [];
        try { names = readdirSync(under(root, dir)).filter((n) => n.endsWith(suffix)).sort(); } catch { /* no such folder */ }
        for (const n of names) readConf(`${dir}/${n}`, depth + 1);
      } else if (line.startsWith('/')) {
        fromConf.push(line);
      }
    }
  };
  readConf('/etc/ld.so.conf', 0);
  if (!fromConf.length) {
    // No ld.so.conf (some minimal images): read the usual drop-in folder directly.
    let names: string[] = [];
    try { names = readdirSync(under(root, '/etc/ld.so.conf.d')).filter((n) => n.endsWith('.conf')).sort(); } catch { /* none */ }
    for (const n of names) readConf(`/etc/ld.so.conf.d/${n}`, 1);
  }
  return unique([...splitList(env['LD_LIBRARY_PATH']).filter((d) => d.startsWith('/')), ...fromConf, ...DEFAULT_LIB_DIRS]);
}

/** Where a library is in `dirs`, or null. */
export function findLibrary(name: string, dirs: string[], root: string): string | null {
  for (const dir of dirs) {
    const p = posix.join(dir, name);
    if (isFile(root, p)) return p;
  }
  return null;
}

function kindOf(file: string, libraryPath: string | undefined): IcdKind {
  const text = `${posix.basename(file)} ${libraryPath ?? ''}`;
  if (/nvidia/i.test(text)) return 'nvidia';
  if (/lvp|lavapipe|swiftshader|llvmpipe/i.test(text)) return 'software';
  return 'other';
}

/** Reads one manifest and resolves the library it names the way the loader does. */
export function readManifest(root: string, env: Env, file: string, from: IcdManifest['from']): IcdManifest {
  const m: IcdManifest = { file, from, libraryFound: false, kind: kindOf(file, undefined) };
  const text = readText(root, file);
  if (text === undefined) return { ...m, error: 'cannot be read' };
  let json: { ICD?: { library_path?: unknown; api_version?: unknown } };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (e) {
    return { ...m, error: `is not valid JSON (${(e as Error).message})` };
  }
  const libraryPath = json?.ICD?.library_path;
  if (typeof libraryPath !== 'string' || !libraryPath) return { ...m, error: 'has no ICD.library_path' };
  m.libraryPath = libraryPath;
  if (typeof json.ICD?.api_version === 'string') m.apiVersion = json.ICD.api_version;
  m.kind = kindOf(file, libraryPath);
  let library: string | null;
  if (libraryPath.startsWith('/')) library = isFile(root, libraryPath) ? libraryPath : null;
  else if (libraryPath.includes('/')) {
    // A relative path is taken from the manifest's own folder.
    const p = posix.join(posix.dirname(file), libraryPath);
    library = isFile(root, p) ? p : null;
  } else library = findLibrary(libraryPath, linkerDirs(root, env), root);
  if (library) {
    m.library = library;
    m.libraryFound = true;
  }
  return m;
}

/** The loader's default manifest folders on Linux, in its order. */
export function defaultIcdDirs(env: Env): string[] {
  const home = homeOf(env);
  const configHome = env['XDG_CONFIG_HOME'] || `${home}/.config`;
  const configDirs = splitList(env['XDG_CONFIG_DIRS'] || '/etc/xdg');
  const dataHome = env['XDG_DATA_HOME'] || `${home}/.local/share`;
  const dataDirs = splitList(env['XDG_DATA_DIRS'] || '/usr/local/share:/usr/share');
  return unique([
    `${configHome}/vulkan/icd.d`, ...configDirs.map((d) => `${d}/vulkan/icd.d`),
    '/usr/local/etc/vulkan/icd.d', '/etc/vulkan/icd.d',
    `${dataHome}/vulkan/icd.d`, ...dataDirs.map((d) => `${d}/vulkan/icd.d`),
  ]);
}

function jsonFilesIn(root: string, dir: string): string[] {
  try {
    return readdirSync(under(root, dir)).filter((n) => n.endsWith('.json')).sort().map((n) => posix.join(dir, n));
  } catch {
    return [];
  }
}

/** Files named by a VK_*_FILES value: each entry is a manifest or a folder of manifests. */
function filesOf(root: string, value: string | undefined): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  for (const entry of splitList(value)) {
    if (isDir(root, entry)) files.push(...jsonFilesIn(root, entry));
    else if (isFile(root, entry)) files.push(entry);
    else missing.push(entry);
  }
  return { files, missing };
}

/** Everything that decides whether Dawn can reach a Vulkan driver, read without loading Vulkan. */
export function inspectVulkan(root = '/', env: Env = process.env): VulkanReport {
  const dirs = linkerDirs(root, env);
  const libvulkan = findLibrary('libvulkan.so.1', dirs, root);
  const nvidiaDirs = unique([...dirs, ...NVIDIA_LIB_DIRS]);

  // Manifests the loader reads: VK_DRIVER_FILES wins over the older VK_ICD_FILENAMES; either
  // replaces the search of the default folders. VK_ADD_DRIVER_FILES adds to whichever applies.
  const icds: IcdManifest[] = [];
  const missingEnvFiles: string[] = [];
  const override = env['VK_DRIVER_FILES'] ? 'VK_DRIVER_FILES' : env['VK_ICD_FILENAMES'] ? 'VK_ICD_FILENAMES' : undefined;
  const seen = new Set<string>();
  const add = (file: string, from: IcdManifest['from'], unusedBecause?: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const m = readManifest(root, env, file, from);
    if (unusedBecause) m.unusedBecause = unusedBecause;
    icds.push(m);
  };
  if (override) {
    const { files, missing } = filesOf(root, env[override]);
    missingEnvFiles.push(...missing);
    for (const f of files) add(f, override);
  } else {
    for (const dir of defaultIcdDirs(env)) for (const f of jsonFilesIn(root, dir)) add(f, 'search path');
  }
  if (env['VK_ADD_DRIVER_FILES']) {
    const { files, missing } = filesOf(root, env['VK_ADD_DRIVER_FILES']);
    missingEnvFiles.push(...missing);
    for (const f of files) add(f, 'VK_ADD_DRIVER_FILES');
  }
  // Manifests the loader will not read, but that explain a missing driver: the default folders
  // when an override hides them, and the places NVIDIA manifests turn up off the search path.
  if (override) for (const dir of defaultIcdDirs(env)) for (const f of jsonFilesIn(root, dir)) add(f, 'unused', `${override} is set, which replaces the loader's search of ${dir}`);
  for (const dir of NVIDIA_ICD_DIRS) {
    for (const f of jsonFilesIn(root, dir)) if (/nvidia/i.test(posix.basename(f))) add(f, 'unused', `${dir} is not on the Vulkan loader's search path`);
  }

  const libraries: Record<string, string | null> = {};
  for (const name of NVIDIA_LIBRARIES) libraries[name] = findLibrary(name, nvidiaDirs, root);
  const kernelDriver = readText(root, '/proc/driver/nvidia/version')?.split('\n')[0]?.trim() || undefined;
  const smi = findLibrary('nvidia-smi', splitList(env['PATH']).filter((d) => d.startsWith('/')), root) ?? undefined;
  const capabilities = env['NVIDIA_DRIVER_CAPABILITIES'];
  const caps = capabilities === undefined ? undefined : capabilities.split(',').map((c) => c.trim().toLowerCase());
  const nvidia: NvidiaEvidence = {
    libraries,
    present: Boolean(kernelDriver || smi || Object.values(libraries).some(Boolean)),
  };
  if (kernelDriver) nvidia.kernelDriver = kernelDriver;
  if (smi) nvidia.smi = smi;
  if (capabilities !== undefined) {
    nvidia.capabilities = capabilities;
    nvidia.graphicsCapability = caps!.includes('graphics') || caps!.includes('all');
  }
  if (env['NVIDIA_VISIBLE_DEVICES'] !== undefined) nvidia.visibleDevices = env['NVIDIA_VISIBLE_DEVICES'];

  const envOut: VulkanReport['env'] = {};
  for (const k of ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES', 'VK_ADD_DRIVER_FILES', 'LD_LIBRARY_PATH'] as const) if (env[k] !== undefined) envOut[k] = env[k];
  return { root, libvulkan, glvnd: findLibrary(GLVND_LIBRARY, nvidiaDirs, root), env: envOut, missingEnvFiles, icds, nvidia };
}

export interface Finding {
  /** Stable identifier, e.g. `nvidia-icd-missing`. */
  code: string;
  /** `problem`: stops a GPU from being used; `info`: worth knowing; `ok`: a check that passed. */
  severity: 'ok' | 'info' | 'problem';
  message: string;
  fix?: string;
}

const used = (m: IcdManifest): boolean => m.from !== 'unused';

/**
 * The causes that `report` shows for a missing Vulkan driver, each with its fix, most important
 * first. Static: it reads no GPU; `csm doctor` pairs it with what Dawn itself found.
 */
export function diagnoseVulkan(report: VulkanReport): Finding[] {
  const out: Finding[] = [];
  const { nvidia } = report;
  const glx = nvidia.libraries[NVIDIA_VULKAN_LIBRARY] ?? null;
  const driverWords = [nvidia.kernelDriver ? `kernel driver: ${nvidia.kernelDriver.replace(/\s+/g, ' ').slice(0, 80)}` : '', nvidia.smi ? `${nvidia.smi}` : '', ...Object.entries(nvidia.libraries).filter(([, p]) => p).map(([, p]) => p!)].filter(Boolean).join('; ');

  if (!report.libvulkan) {
    out.push({
      code: 'no-libvulkan', severity: 'problem',
      message: 'The Vulkan loader libvulkan.so.1 is not found on the dynamic linker\'s path, so Dawn can use no Vulkan driver at all.',
      fix: 'Install the Vulkan loader (Debian/Ubuntu: apt-get install libvulkan1; Fedora/RHEL: dnf install vulkan-loader), or put a copy in a folder named in LD_LIBRARY_PATH.',
    });
  }
  for (const f of report.missingEnvFiles) {
    const v = report.env.VK_DRIVER_FILES?.split(':').includes(f) ? 'VK_DRIVER_FILES' : report.env.VK_ICD_FILENAMES?.split(':').includes(f) ? 'VK_ICD_FILENAMES' : 'VK_ADD_DRIVER_FILES';
    out.push({ code: 'icd-env-missing', severity: 'problem', message: `${v} names ${f}, which does not exist.`, fix: `Correct or unset ${v}${nvidia.present ? ', or use --vulkan-icd auto' : ''}.` });
  }
  for (const m of report.icds.filter(used)) {
    if (m.error) {
      out.push({ code: 'icd-invalid', severity: 'problem', message: `The Vulkan driver manifest ${m.file} ${m.error}; the loader skips it.`, fix: `Remove or repair ${m.file}.` });
    } else if (!m.libraryFound) {
      const auto = m.kind === 'nvidia' && glx ? ` --vulkan-icd auto writes a manifest that names ${glx} instead.` : '';
      out.push({
        code: 'icd-library-missing', severity: 'problem',
        message: `The Vulkan driver manifest ${m.file} names the library ${m.libraryPath}, which does not exist${m.libraryPath!.includes('/') ? '' : ' on the dynamic linker\'s path'}: the loader cannot load that driver.`,
        fix: `Reinstall the driver that owns ${m.file}, or remove the stale manifest.${auto}`,
      });
    }
  }

  const goodNvidia = report.icds.filter((m) => used(m) && m.kind === 'nvidia' && m.libraryFound);
  if (nvidia.present) {
    if (!glx) {
      if (nvidia.graphicsCapability === false) {
        out.push({
          code: 'no-graphics-capability', severity: 'problem',
          message: `An NVIDIA driver is present (${driverWords}), but this container was started with NVIDIA_DRIVER_CAPABILITIES=${nvidia.capabilities}, without "graphics": the NVIDIA container runtime then mounts CUDA but neither the driver's Vulkan library (${NVIDIA_VULKAN_LIBRARY}) nor its nvidia_icd.json.`,
          fix: 'Start the container with the graphics capability: docker run --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics … (or --gpus \'"all,capabilities=compute,utility,graphics"\'; in Kubernetes set NVIDIA_DRIVER_CAPABILITIES=all in the pod\'s env). csm cannot repair this from inside the container.',
        });
      } else {
        out.push({
          code: 'nvidia-gl-missing', severity: 'problem',
          message: `An NVIDIA driver is present (${driverWords}), but not its Vulkan/GL library ${NVIDIA_VULKAN_LIBRARY}: the driver was installed without its graphics part (a compute-only or headless package)${nvidia.capabilities === undefined ? ', or this is a container started without the graphics capability' : ''}.`,
          fix: `Install the driver's GL/Vulkan user-space libraries of the same version as the kernel driver (Ubuntu: libnvidia-gl-<branch>; RHEL: nvidia-driver-libs), or in a container set NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics.`,
        });
      }
    } else {
      if (nvidia.graphicsCapability === false) {
        out.push({ code: 'capabilities-without-graphics', severity: 'info', message: `NVIDIA_DRIVER_CAPABILITIES=${nvidia.capabilities} lacks "graphics", yet ${glx} is present (part of the image?); it may not match the host's driver version.` });
      }
      if (goodNvidia.length) {
        out.push({ code: 'nvidia-icd', severity: 'ok', message: `The NVIDIA Vulkan driver manifest ${goodNvidia[0]!.file} names ${goodNvidia[0]!.library}, which exists.` });
      } else {
        const offPath = report.icds.find((m) => !used(m) && m.kind === 'nvidia' && m.libraryFound);
        if (offPath) {
          out.push({
            code: 'nvidia-icd-unused', severity: 'problem',
            message: `The NVIDIA Vulkan driver manifest ${offPath.file} exists, but the loader does not read it (${offPath.unusedBecause}).`,
            fix: `export VK_DRIVER_FILES=${offPath.file} VK_ICD_FILENAMES=${offPath.file}, or use --vulkan-icd auto (which does that).`,
          });
        } else {
          out.push({
            code: 'nvidia-icd-missing', severity: 'problem',
            message: `The NVIDIA driver's Vulkan library is at ${glx}, but no Vulkan driver manifest (nvidia_icd.json) names it, so the Vulkan loader never loads it.`,
            fix: `Use --vulkan-icd auto (csm writes a manifest naming ${glx} into its cache folder and points the loader at it; no root needed), or install one for everyone: write {"file_format_version":"1.0.0","ICD":{"library_path":"${NVIDIA_VULKAN_LIBRARY}","api_version":"${GENERATED_API_VERSION}"}} to /etc/vulkan/icd.d/nvidia_icd.json.`,
          });
        }
      }
      if (!report.glvnd) {
        out.push({
          code: 'glvnd-missing', severity: 'problem',
          message: `${NVIDIA_VULKAN_LIBRARY} needs ${GLVND_LIBRARY} (libglvnd), which is not found: the loader will fail to load NVIDIA's driver.`,
          fix: 'Install libglvnd (Debian/Ubuntu: apt-get install libglvnd0; Fedora/RHEL: dnf install libglvnd), or put it in a folder named in LD_LIBRARY_PATH.',
        });
      }
    }
  } else {
    const working = report.icds.filter((m) => used(m) && m.libraryFound);
    const software = working.filter((m) => m.kind === 'software');
    if (!working.length) {
      out.push({ code: 'no-driver', severity: 'info', message: 'No GPU driver and no working Vulkan driver manifest found: csm runs on the CPU engine.' });
    } else if (software.length === working.length) {
      out.push({ code: 'software-only', severity: 'info', message: `Only software Vulkan drivers are installed (${software.map((m) => posix.basename(m.library!)).join(', ')}): WebGPU runs on the CPU, and --backend auto picks the CPU engine, which is faster there.` });
    } else {
      out.push({ code: 'no-nvidia', severity: 'info', message: `No NVIDIA driver found. Installed Vulkan drivers: ${working.map((m) => posix.basename(m.library!)).join(', ')} (Mesa installs drivers for GPUs that may not be in this machine).` });
    }
  }
  return out;
}

/** What configureVulkanIcd did. */
export interface IcdSetup {
  mode: string;
  action: 'off' | 'kept' | 'not-needed' | 'used-existing' | 'generated' | 'used-path' | 'unavailable';
  /** The manifest the loader is now pointed at. */
  file?: string;
  /** The driver library it names. */
  library?: string;
  /** The variables set in `env`. */
  set: Record<string, string>;
  message: string;
}

export class VulkanIcdError extends CsmError {}

/** `$CSM_CACHE_DIR`, else `$XDG_CACHE_HOME/csm`, else `~/.cache/csm` (as models/cache.ts, but from `env`). */
export function cacheDirOf(env: Env): string {
  if (env['CSM_CACHE_DIR']) return env['CSM_CACHE_DIR'];
  return join(env['XDG_CACHE_HOME'] || join(homeOf(env), '.cache'), 'csm');
}

/** The text of a manifest naming `library`. */
export function icdManifestText(library: string): string {
  return `${JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: library, api_version: GENERATED_API_VERSION } }, null, 2)}\n`;
}

function pointLoaderAt(env: Env, file: string): Record<string, string> {
  // VK_DRIVER_FILES is read by loaders since 1.3.207, VK_ICD_FILENAMES by older ones.
  env['VK_ICD_FILENAMES'] = file;
  env['VK_DRIVER_FILES'] = file;
  return { VK_ICD_FILENAMES: file, VK_DRIVER_FILES: file };
}

/**
 * `--vulkan-icd MODE`: `off` (nothing), `auto`, or the path of a manifest to use. Call it before
 * Dawn is loaded (the Vulkan loader reads these variables once, when Dawn creates its instance).
 *
 * `auto` leaves a VK_DRIVER_FILES / VK_ICD_FILENAMES the user set alone, and does nothing where a
 * working NVIDIA manifest is on the loader's path. Else it points the loader at an NVIDIA manifest
 * lying off that path, or, where libGLX_nvidia.so.0 exists but no manifest names it, writes one into
 * `<cache>/vulkan/nvidia_icd.json`. It never throws; an unknown manifest PATH throws VulkanIcdError.
 * `env` (default process.env) is changed in place; `root` only prefixes the files read.
 */
export function configureVulkanIcd(mode: string | undefined, env: Env = process.env, root = '/'): IcdSetup {
  const m = (mode ?? 'off').trim();
  if (m === '' || m === 'off' || m === 'none') return { mode: 'off', action: 'off', set: {}, message: 'Vulkan driver manifests left to the loader (--vulkan-icd off).' };
  if (m !== 'auto') {
    const file = isAbsolute(m) ? m : resolve(m);
    if (!isFile(root, file)) throw new VulkanIcdError(`--vulkan-icd: no such manifest file ${file}`);
    const manifest = readManifest(root, env, file, 'VK_DRIVER_FILES');
    if (manifest.error) throw new VulkanIcdError(`--vulkan-icd: ${file} ${manifest.error}; expected {"file_format_version":"1.0.0","ICD":{"library_path":"…","api_version":"…"}}`);
    const set = pointLoaderAt(env, file);
    const setup: IcdSetup = { mode: m, action: 'used-path', file, set, message: `Vulkan loader pointed at ${file} (VK_DRIVER_FILES, VK_ICD_FILENAMES).` };
    if (manifest.library) setup.library = manifest.library;
    else setup.message += ` Warning: the library it names, ${manifest.libraryPath}, was not found.`;
    return setup;
  }
  const preset = env['VK_DRIVER_FILES'] ? 'VK_DRIVER_FILES' : env['VK_ICD_FILENAMES'] ? 'VK_ICD_FILENAMES' : undefined;
  if (preset) return { mode: m, action: 'kept', set: {}, message: `${preset} is already set (${env[preset]}); --vulkan-icd auto leaves it as it is.` };
  const report = inspectVulkan(root, env);
  const working = report.icds.find((i) => used(i) && i.kind === 'nvidia' && i.libraryFound);
  if (working) return { mode: m, action: 'not-needed', file: working.file, library: working.library!, set: {}, message: `The NVIDIA Vulkan driver manifest ${working.file} is already on the loader's path; nothing to do.` };
  const offPath = report.icds.find((i) => !used(i) && i.kind === 'nvidia' && i.libraryFound);
  if (offPath) {
    return { mode: m, action: 'used-existing', file: offPath.file, library: offPath.library!, set: pointLoaderAt(env, offPath.file), message: `Vulkan loader pointed at the NVIDIA manifest ${offPath.file} (${offPath.unusedBecause}).` };
  }
  const glx = report.nvidia.libraries[NVIDIA_VULKAN_LIBRARY];
  if (!glx) {
    const why = !report.nvidia.present ? 'no NVIDIA driver found'
      : report.nvidia.graphicsCapability === false ? `the NVIDIA driver's ${NVIDIA_VULKAN_LIBRARY} is missing (NVIDIA_DRIVER_CAPABILITIES=${report.nvidia.capabilities} lacks "graphics")`
        : `the NVIDIA driver's ${NVIDIA_VULKAN_LIBRARY} is missing`;
    return { mode: m, action: 'unavailable', set: {}, message: `--vulkan-icd auto: nothing to set up, ${why}.` };
  }
  const dir = join(cacheDirOf(env), 'vulkan');
  const file = join(dir, 'nvidia_icd.json');
  try {
    mkdirSync(dir, { recursive: true });
    const text = icdManifestText(glx);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
      // Write then rename, so that a concurrent csm never reads half a file.
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, file);
    }
  } catch (e) {
    return { mode: m, action: 'unavailable', set: {}, message: `--vulkan-icd auto: cannot write ${file} (${(e as Error).message}); set CSM_CACHE_DIR to a writable folder.` };
  }
  return { mode: m, action: 'generated', file, library: glx, set: pointLoaderAt(env, file), message: `Wrote ${file} naming ${glx}, and pointed the Vulkan loader at it (VK_DRIVER_FILES, VK_ICD_FILENAMES).` };
}
