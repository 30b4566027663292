/** `csm doctor`: which GPU csm can use, and if none, why not and how to fix it. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  configureVulkanIcd, diagnoseVulkan, inspectVulkan, NVIDIA_LIBRARIES, type Finding, type IcdSetup, type VulkanReport,
} from '../engine/webgpu/icd.js';
import { adapterKey, autoChoice, distinctAdapters, isSoftwareAdapter, probeAdapters, type ProbeAdapter, type ProbeResult } from '../engine/webgpu/probe.js';
import { EXIT, UsageError, print, printJson, warn } from './output.js';

export const DOCTOR_HELP = `Usage: csm doctor [--json] [--verbose] [--vulkan-icd auto|PATH|off] [--timeout S]

Says which GPU csm can use, which engine --backend auto would pick, and, when a GPU is there
but unusable, why and how to fix it. It reports:
  - the WebGPU adapters Dawn finds (vendor, architecture, device, software or hardware, the
    limits the webgpu engine depends on), asked in a child process so that Dawn's messages stay
    out of your terminal and a crashing or hanging driver cannot take csm down;
  - which engine --backend auto picks: webgpu only on a hardware adapter, else cpu;
  - the Vulkan loader (libvulkan.so.1), VK_DRIVER_FILES / VK_ICD_FILENAMES, and each Vulkan
    driver manifest (ICD JSON) with the library it names and whether that library exists;
  - NVIDIA driver evidence: /proc/driver/nvidia/version, nvidia-smi, libGLX_nvidia.so.0,
    libEGL_nvidia.so.0, libcuda.so.1, NVIDIA_DRIVER_CAPABILITIES;
  - the cause when an NVIDIA driver is present but Dawn finds no NVIDIA adapter (container
    without the "graphics" capability, no nvidia_icd.json, a manifest naming a missing library,
    no Vulkan loader, no libglvnd), with its fix.

Options:
  --json                 print the whole report as JSON
  --verbose              also print Dawn's own messages (the probe's stderr), on stderr
  --vulkan-icd MODE      auto: where NVIDIA's libGLX_nvidia.so.0 exists but no Vulkan driver
                         manifest names it, write one into the cache folder ($CSM_CACHE_DIR, else
                         ~/.cache/csm; no root needed) and point the Vulkan loader at it through
                         VK_DRIVER_FILES and VK_ICD_FILENAMES (a manifest lying off the loader's
                         path is used as it is; variables you set are left alone).
                         PATH: use that manifest. off: change nothing.        [default: off]
  --shell                with --vulkan-icd: print only the variables it sets, as shell
                         "export" lines, for eval "$(csm doctor --vulkan-icd auto --shell)"
  --timeout S            seconds to wait for the probe                        [default: 30]

The exit code is 0 whenever the report was made, GPU or not.`;

interface PackageCheck { name: string; version?: string; file?: string; found: boolean; note?: string }

export interface DoctorReport {
  /** One or two sentences: the verdict, with the cause and fix when a GPU is present but unusable. */
  headline: string;
  auto: { engine: 'webgpu' | 'cpu'; reason: string };
  adapters: ProbeAdapter[];
  probe: Omit<ProbeResult, 'stderr'>;
  vulkan: VulkanReport;
  vulkanIcd: IcdSetup;
  /** nvidia-smi's GPU list (name, driver, memory), when it runs. */
  nvidiaGpus?: string[];
  findings: Finding[];
  packages: PackageCheck[];
}

/** The engines' packages and the one big platform file each needs (a bare copy may lack them). */
function packageChecks(): PackageCheck[] {
  const require = createRequire(import.meta.url);
  const dirOf = (name: string): string | undefined => (require.resolve.paths(name) ?? []).map((d) => join(d, name)).find((d) => existsSync(join(d, 'package.json')));
  const plat = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
  const wanted: [string, string, string][] = [
    ['webgpu', join('dist', plat, 'dawn.node'), `Dawn's binary for ${plat}`],
    ['onnxruntime-web', join('dist', 'ort-wasm-simd-threaded.asyncify.wasm'), 'its WebGPU build\'s WASM file'],
    ['onnxruntime-node', join('bin', 'napi-v6', process.platform, process.arch, 'onnxruntime_binding.node'), `its native binding for ${process.platform}/${process.arch}`],
  ];
  return wanted.map(([name, rel, what]) => {
    const dir = dirOf(name);
    if (!dir) return { name, found: false, note: `${name} is not installed` };
    const file = join(dir, rel);
    const c: PackageCheck = { name, file, found: existsSync(file) };
    try { c.version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version; } catch { /* unreadable: no version */ }
    if (!c.found) c.note = `${what} is missing`;
    return c;
  });
}

function nvidiaSmiGpus(smi: string | undefined, timeoutMs: number): string[] | undefined {
  if (!smi) return undefined;
  const r = spawnSync(smi, ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) return [`nvidia-smi failed: ${(r.stderr || r.stdout || r.error?.message || `exit ${r.status}`).trim().split('\n')[0]}`];
  return r.stdout.trim().split('\n').filter(Boolean);
}

function adapterName(a: ProbeAdapter): string {
  return `${a.vendor || '?'} ${a.device || a.architecture || a.description}`.trim();
}

/** The verdict: what csm will use, and for an unusable NVIDIA GPU the cause and the fix. */
export function headlineOf(probe: ProbeResult, vulkan: VulkanReport, findings: Finding[]): string {
  const auto = autoChoice(probe);
  const adapters = probe.failure ? [] : distinctAdapters(probe);
  const hardware = adapters.filter((a) => !isSoftwareAdapter(a));
  const nvidiaAdapter = hardware.find((a) => /nvidia/i.test(`${a.vendor} ${a.description}`));
  const problems = findings.filter((f) => f.severity === 'problem');
  const because = (): string => {
    if (problems.length) return ` Cause: ${problems[0]!.message} Fix: ${problems[0]!.fix ?? ''}`.trimEnd() + (problems.length > 1 ? ` (${problems.length - 1} more finding${problems.length > 2 ? 's' : ''} below.)` : '');
    const said = probe.dawnMessages.length ? ` Dawn says: "${probe.dawnMessages[0]}".` : '';
    return ` csm found no cause in the files it checks.${said} Run "csm doctor --verbose" for all of Dawn's messages.`;
  };
  if (probe.failure) return `${probe.failure}${vulkan.nvidia.present ? because() : ''}`;
  if (!probe.loaded) return `Dawn cannot load: ${probe.error}. csm runs on the CPU engine.`;
  if (vulkan.nvidia.present && !nvidiaAdapter) {
    const others = hardware.length ? ` (Dawn finds only ${hardware.map(adapterName).join(', ')})` : adapters.length ? ` (Dawn finds only the software adapter ${adapterName(adapters[0]!)})` : '';
    return `An NVIDIA driver is present, but Dawn finds no NVIDIA Vulkan adapter${others}; --backend auto uses the ${auto.engine} engine.${because()}`;
  }
  if (auto.engine === 'webgpu') return `GPU ready: ${auto.reason}. --backend auto uses the webgpu engine.`;
  if (adapters.length) return `No GPU: Dawn finds only a software adapter (${adapterName(adapters[0]!)}). --backend auto uses the cpu engine (--backend webgpu forces the software adapter).`;
  return `Dawn finds no WebGPU adapter; --backend auto uses the cpu engine.${problems.length ? because() : probe.dawnMessages.length ? ` Dawn says: "${probe.dawnMessages[0]}".` : ''}`;
}

export async function doctorReport(options: { vulkanIcd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ report: DoctorReport; stderr: string }> {
  const env = options.env ?? process.env;
  const vulkanIcd = configureVulkanIcd(options.vulkanIcd, env);
  const vulkan = inspectVulkan('/', env);
  const findings = diagnoseVulkan(vulkan);
  const probe = await probeAdapters({ env, timeoutMs: options.timeoutMs ?? 30_000 });
  const { stderr, ...probeOut } = probe;
  const report: DoctorReport = {
    headline: headlineOf(probe, vulkan, findings),
    auto: autoChoice(probe),
    adapters: probe.failure ? [] : distinctAdapters(probe),
    probe: probeOut,
    vulkan, vulkanIcd, findings,
    packages: packageChecks(),
  };
  const gpus = nvidiaSmiGpus(vulkan.nvidia.smi, 10_000);
  if (gpus) report.nvidiaGpus = gpus;
  return { report, stderr };
}

function bytes(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 20 === 0) return `${+(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${+(n / 2 ** 20).toFixed(1)} MiB`;
  return `${n} B`;
}

function wrap(text: string, indent: string, width = 96): string {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width - indent.length) { lines.push(line); line = w; } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

/** The report as text. */
export function formatDoctor(r: DoctorReport): string {
  const out: string[] = [];
  const kv = (k: string, v: string): string => `  ${k.padEnd(34)} ${v}`;
  out.push(wrap(r.headline, ''), '');

  out.push(`WebGPU adapters (Dawn, probed in a child process in ${r.probe.seconds.toFixed(1)} s)`);
  if (r.probe.failure) out.push(wrap(r.probe.failure, '  '));
  else if (!r.probe.loaded) out.push(`  Dawn cannot load: ${r.probe.error}`);
  else {
    const ids = new Map(r.adapters.map((a, k) => [adapterKey(a), k + 1]));
    const call = { default: 'requestAdapter()', 'high-performance': "powerPreference 'high-performance'", compatibility: "featureLevel 'compatibility'" };
    for (const q of r.probe.requests) {
      const what = q.unsupported ? `not supported by this Dawn (${q.unsupported})` : q.adapter ? `adapter ${ids.get(adapterKey(q.adapter)) ?? '?'}` : 'no adapter';
      out.push(kv(call[q.request], what));
    }
    r.adapters.forEach((a, k) => {
      out.push(`  adapter ${k + 1}: vendor ${a.vendor || '?'}, architecture ${a.architecture || '?'}, device ${a.device || '?'}`);
      out.push(`    "${a.description}"`);
      out.push(`    ${isSoftwareAdapter(a) ? 'software (fallback) adapter' : 'hardware adapter'}, feature level ${a.featureLevel}`);
      const l = a.limits;
      out.push(`    maxStorageBufferBindingSize ${bytes(l.maxStorageBufferBindingSize)}, maxBufferSize ${bytes(l.maxBufferSize)},`);
      out.push(`    maxComputeWorkgroupsPerDimension ${l.maxComputeWorkgroupsPerDimension}, maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup}`);
    });
    if (!r.adapters.length) out.push('  none');
  }
  if (r.probe.dawnMessages.length && !r.adapters.length) out.push(...r.probe.dawnMessages.map((m) => `  Dawn: ${m}`));
  out.push(`  --backend auto picks: ${r.auto.engine} (${r.auto.reason})`, '');

  const v = r.vulkan;
  out.push('Vulkan');
  out.push(kv('loader libvulkan.so.1', v.libvulkan ?? 'NOT FOUND'));
  for (const k of ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES', 'VK_ADD_DRIVER_FILES'] as const) if (k !== 'VK_ADD_DRIVER_FILES' || v.env[k]) out.push(kv(k, v.env[k] ?? '(unset)'));
  out.push(kv('--vulkan-icd', r.vulkanIcd.mode === 'off' ? 'off' : `${r.vulkanIcd.mode}: ${r.vulkanIcd.message}`));
  out.push('  driver manifests (ICD JSON):');
  if (!v.icds.length) out.push('    none');
  for (const m of v.icds) {
    const lib = m.error ? m.error : `names ${m.libraryPath}: ${m.libraryFound ? (m.library === m.libraryPath ? 'exists' : `found at ${m.library}`) : 'NOT FOUND'}`;
    out.push(`    ${m.file}`);
    out.push(`      ${lib}${m.kind !== 'other' ? ` (${m.kind})` : ''}${m.from === 'unused' ? `; not read: ${m.unusedBecause}` : m.from === 'search path' ? '' : `; from ${m.from}`}`);
  }
  out.push('');

  const n = v.nvidia;
  out.push('NVIDIA driver');
  out.push(kv('/proc/driver/nvidia/version', n.kernelDriver ?? 'absent'));
  out.push(kv('nvidia-smi', n.smi ?? 'not on PATH'));
  for (const g of r.nvidiaGpus ?? []) out.push(kv('', g));
  for (const name of NVIDIA_LIBRARIES) out.push(kv(name, n.libraries[name] ?? 'not found'));
  if (n.libraries['libGLX_nvidia.so.0']) out.push(kv('libGLdispatch.so.0 (libglvnd)', v.glvnd ?? 'NOT FOUND'));
  out.push(kv('NVIDIA_DRIVER_CAPABILITIES', n.capabilities ?? '(unset)'));
  if (n.visibleDevices !== undefined) out.push(kv('NVIDIA_VISIBLE_DEVICES', n.visibleDevices));
  out.push('');

  out.push('Engine packages');
  for (const p of r.packages) out.push(kv(`${p.name}${p.version ? ` ${p.version}` : ''}`, p.found ? p.file! : `MISSING: ${p.note}${p.file ? ` (${p.file})` : ''}`));
  out.push('');

  out.push('Findings');
  for (const f of r.findings) {
    out.push(wrap(`${f.severity === 'problem' ? 'PROBLEM' : f.severity === 'ok' ? 'ok' : 'note'}: ${f.message}`, '  '));
    if (f.fix) out.push(wrap(`Fix: ${f.fix}`, '    '));
  }
  return out.join('\n');
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function doctorCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      json: { type: 'boolean' }, verbose: { type: 'boolean' }, 'vulkan-icd': { type: 'string' }, shell: { type: 'boolean' },
      timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { print(DOCTOR_HELP); return EXIT.ok; }
  if (positionals.length) throw new UsageError(`doctor takes no arguments, got "${positionals[0]}"`);
  const timeout = Number(values.timeout ?? 30);
  if (!(timeout > 0 && timeout <= 600)) throw new UsageError(`--timeout takes seconds from 1 to 600, got "${values.timeout}"`);

  if (values.shell) {
    if (!values['vulkan-icd']) throw new UsageError('--shell needs --vulkan-icd auto|PATH');
    const setup = configureVulkanIcd(values['vulkan-icd'], process.env);
    print(`# csm doctor: ${setup.message.replace(/\n/g, ' ')}`);
    for (const [k, val] of Object.entries(setup.set)) print(`export ${k}=${shellQuote(val)}`);
    return EXIT.ok;
  }

  const opts: { vulkanIcd?: string; timeoutMs: number } = { timeoutMs: timeout * 1000 };
  if (values['vulkan-icd']) opts.vulkanIcd = values['vulkan-icd'];
  const { report, stderr } = await doctorReport(opts);
  if (values.verbose && stderr.trim()) warn(stderr.trimEnd().split('\n').map((l) => `dawn: ${l}`).join('\n'));
  if (values.json) printJson(report);
  else print(formatDoctor(report));
  return EXIT.ok;
}
