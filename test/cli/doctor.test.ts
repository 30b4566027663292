/**
 * `csm doctor` as a user runs it, on this machine's real Dawn: with Mesa's lavapipe installed it
 * reports a software adapter; without any driver it must say Dawn finds none. Either way nothing
 * from Dawn reaches stderr.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DoctorReport } from '../../src/cli/doctor.js';
import { REPO_ROOT } from '../helpers/data.js';

function csm(args: string[], env: Record<string, string | undefined> = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8', cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('csm doctor --json reports the adapters Dawn finds here, and keeps Dawn off stderr', () => {
  const r = csm(['doctor', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '', 'nothing may reach stderr');
  const rep = JSON.parse(r.stdout) as DoctorReport;
  assert.is(rep.probe.failure, undefined, rep.probe.failure);
  assert.is(rep.probe.requests.length, 3);
  assert.ok(['webgpu', 'cpu'].includes(rep.auto.engine));
  if (rep.adapters.length) {
    const software = rep.adapters.filter((a) => a.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(a.device + a.description));
    if (software.length === rep.adapters.length) {
      console.log(`  doctor: software adapter ${software[0]!.vendor} ${software[0]!.device}`);
      assert.is(rep.auto.engine, 'cpu');
      assert.match(rep.headline, /software adapter/);
    }
    for (const a of rep.adapters) assert.ok(a.limits.maxStorageBufferBindingSize > 0 && a.limits.maxComputeInvocationsPerWorkgroup > 0);
  } else {
    console.log('  doctor: Dawn finds no adapter on this machine');
    assert.is(rep.auto.engine, 'cpu');
    assert.match(rep.headline, /Dawn finds no (WebGPU|NVIDIA Vulkan) adapter/);
  }
  assert.ok(typeof rep.vulkan.nvidia.present === 'boolean');
  assert.ok(rep.findings.length > 0);
});

test('with no usable driver, doctor says so; Dawn\'s warnings appear only with --verbose', () => {
  const env = { VK_ICD_FILENAMES: '/nonexistent/csm_icd.json', VK_DRIVER_FILES: undefined };
  const plain = csm(['doctor'], env);
  assert.is(plain.code, 0, plain.stderr);
  assert.is(plain.stderr, '');
  assert.match(plain.stdout, /^Dawn finds no WebGPU adapter; --backend auto uses the cpu engine\. Cause: VK_ICD_FILENAMES names\s+\/nonexistent\/csm_icd\.json, which does not exist\./);
  assert.match(plain.stdout, /WebGPU adapters \(Dawn, probed in a child process/);
  assert.match(plain.stdout, /--backend auto picks: cpu/);
  const verbose = csm(['doctor', '--verbose'], env);
  assert.is(verbose.code, 0);
  assert.match(verbose.stderr, /^dawn: /m);
});

test('csm doctor --vulkan-icd: auto --shell prints the variables, PATH must exist, --help explains', () => {
  const cache = mkdtempSync(join(tmpdir(), 'csm-doctor-'));
  const shell = csm(['doctor', '--vulkan-icd', 'auto', '--shell'], { CSM_CACHE_DIR: cache, VK_ICD_FILENAMES: undefined, VK_DRIVER_FILES: undefined });
  assert.is(shell.code, 0, shell.stderr);
  assert.match(shell.stdout, /^# csm doctor: /);
  for (const line of shell.stdout.trim().split('\n').slice(1)) {
    assert.match(line, /^export VK_(ICD_FILENAMES|DRIVER_FILES)=\S+$/);
    // Where it wrote a manifest, the file names a library.
    const file = line.split('=')[1]!.replace(/^'|'$/g, '');
    assert.ok((JSON.parse(readFileSync(file, 'utf8')) as { ICD: { library_path: string } }).ICD.library_path);
  }
  const missing = csm(['doctor', '--vulkan-icd', join(cache, 'none.json')]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /csm doctor: --vulkan-icd: no such manifest file/);
  assert.is(csm(['doctor', '--shell']).code, 2);
  assert.is(csm(['doctor', '--frobnicate']).code, 2);
  const help = csm(['doctor', '--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /--vulkan-icd MODE/);
  assert.match(help.stdout, /NVIDIA_DRIVER_CAPABILITIES/);
  assert.match(csm(['--help']).stdout, /doctor\s+which GPU csm can use/);
});

test('scripts/gpu-bench.sh: valid bash, --dry-run prints the steps, bad arguments exit 2', () => {
  const script = join(REPO_ROOT, 'scripts', 'gpu-bench.sh');
  const bash = (...args: string[]) => spawnSync('bash', args, { encoding: 'utf8', cwd: REPO_ROOT, env: { ...process.env, NODE: process.execPath }, timeout: 60_000 });
  assert.is(bash('-n', script).status, 0);
  const dry = bash(script, '--dry-run', '--tag', 'dry', '--engines', 'cpu,webgpu', '--', '--images', '2');
  assert.is(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /doctor --vulkan-icd auto --shell/);
  assert.match(dry.stdout, /bin\/csm\.js doctor > bench\/results\/doctor-dry\.txt/);
  assert.match(dry.stdout, /dist\/bench\/run\.js --engines cpu --tag dry --images 2/);
  assert.match(dry.stdout, /dist\/bench\/run\.js --engines webgpu --tag dry --images 2/);
  assert.match(bash(script, '--dry-run', '--vulkan-icd', 'off').stdout, /^(?![\s\S]*--shell)/);
  for (const bad of [['--engines', 'cpu,cuda'], ['--tag', 'a b'], ['--frobnicate'], ['--tag']]) {
    const r = bash(script, '--dry-run', ...bad);
    assert.is(r.status, 2, bad.join(' '));
    assert.match(r.stderr, /^gpu-bench: /);
  }
  assert.match(bash(script, '--help').stdout, /--vulkan-icd MODE/);
});

test.run();
