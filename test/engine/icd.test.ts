/**
 * The Vulkan driver diagnosis on fake driver layouts: each case builds a file tree in a temporary
 * folder and reads it through the `root` prefix, with its own env object (never process.env).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  configureVulkanIcd, diagnoseVulkan, inspectVulkan, linkerDirs, readManifest, VulkanIcdError, type Env, type Finding,
} from '../../src/engine/webgpu/icd.js';

const LIB = '/usr/lib/x86_64-linux-gnu';
const GLX = `${LIB}/libGLX_nvidia.so.0`;
const icdJson = (library: string): string => JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: library, api_version: '1.3.277' } });

/** A fake machine: `files` maps absolute paths to contents ('' for a library). */
function machine(files: Record<string, string>): { root: string; env: Env; cache: string } {
  const root = mkdtempSync(join(tmpdir(), 'csm-icd-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const cache = mkdtempSync(join(tmpdir(), 'csm-icd-cache-'));
  return { root, cache, env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/user', CSM_CACHE_DIR: cache } };
}

const BASE = { [`${LIB}/libvulkan.so.1`]: '', [`${LIB}/libGLdispatch.so.0`]: '' };
const DRIVER = {
  '/proc/driver/nvidia/version': 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.90.07  Fri May 31 09:35:42 UTC 2024\nGCC version: gcc 12\n',
  '/usr/bin/nvidia-smi': '',
  [`${LIB}/libcuda.so.1`]: '',
};
const GRAPHICS = { [GLX]: '', [`${LIB}/libEGL_nvidia.so.0`]: '' };

const codes = (f: Finding[]): string[] => f.map((x) => x.code);
const problems = (f: Finding[]): string[] => f.filter((x) => x.severity === 'problem').map((x) => x.code);
const find = (f: Finding[], code: string): Finding => {
  const hit = f.find((x) => x.code === code);
  assert.ok(hit, `expected finding ${code}, got ${codes(f).join(', ')}`);
  return hit!;
};

test('no driver at all: no NVIDIA evidence, no Vulkan loader, CPU; auto sets nothing', () => {
  const { root, env } = machine({ '/etc/hostname': 'box\n' });
  const r = inspectVulkan(root, env);
  assert.is(r.libvulkan, null);
  assert.is(r.nvidia.present, false);
  assert.equal(r.icds, []);
  const f = diagnoseVulkan(r);
  assert.equal(problems(f), ['no-libvulkan']);
  assert.match(find(f, 'no-libvulkan').fix!, /libvulkan1/);
  find(f, 'no-driver');
  const before = { ...env };
  const setup = configureVulkanIcd('auto', env, root);
  assert.is(setup.action, 'unavailable');
  assert.match(setup.message, /no NVIDIA driver/);
  assert.equal(env, before);
});

test('NVIDIA libraries and nvidia_icd.json present: fine, auto has nothing to do', () => {
  const { root, env } = machine({ ...BASE, ...DRIVER, ...GRAPHICS, '/usr/share/vulkan/icd.d/nvidia_icd.json': icdJson('libGLX_nvidia.so.0') });
  const r = inspectVulkan(root, env);
  assert.is(r.libvulkan, `${LIB}/libvulkan.so.1`);
  assert.is(r.nvidia.present, true);
  assert.is(r.nvidia.smi, '/usr/bin/nvidia-smi');
  assert.match(r.nvidia.kernelDriver!, /550\.90\.07/);
  assert.is(r.nvidia.libraries['libGLX_nvidia.so.0'], GLX);
  assert.is(r.icds.length, 1);
  assert.equal({ ...r.icds[0]!, apiVersion: undefined }, { file: '/usr/share/vulkan/icd.d/nvidia_icd.json', from: 'search path', libraryPath: 'libGLX_nvidia.so.0', apiVersion: undefined, library: GLX, libraryFound: true, kind: 'nvidia' });
  const f = diagnoseVulkan(r);
  assert.equal(problems(f), []);
  assert.match(find(f, 'nvidia-icd').message, /nvidia_icd\.json names .*libGLX_nvidia\.so\.0, which exists/);
  const setup = configureVulkanIcd('auto', env, root);
  assert.is(setup.action, 'not-needed');
  assert.is(env['VK_ICD_FILENAMES'], undefined);
});

test('NVIDIA libraries but no ICD: cause and fix named; --vulkan-icd auto writes a manifest naming the library and sets the env', () => {
  const { root, env, cache } = machine({ ...BASE, ...DRIVER, ...GRAPHICS, '/usr/share/vulkan/icd.d/lvp_icd.json': icdJson('libvulkan_lvp.so'), [`${LIB}/libvulkan_lvp.so`]: '' });
  const f = diagnoseVulkan(inspectVulkan(root, env));
  assert.equal(problems(f), ['nvidia-icd-missing']);
  const missing = find(f, 'nvidia-icd-missing');
  assert.match(missing.message, new RegExp(`${GLX.replace(/\./g, '\\.')}, but no Vulkan driver manifest`));
  assert.match(missing.fix!, /--vulkan-icd auto/);
  assert.match(missing.fix!, /\/etc\/vulkan\/icd\.d\/nvidia_icd\.json/);

  const setup = configureVulkanIcd('auto', env, root);
  assert.is(setup.action, 'generated');
  assert.is(setup.file, join(cache, 'vulkan', 'nvidia_icd.json'));
  assert.is(setup.library, GLX);
  const written = JSON.parse(readFileSync(setup.file!, 'utf8')) as { file_format_version: string; ICD: { library_path: string; api_version: string } };
  assert.is(written.file_format_version, '1.0.0');
  assert.is(written.ICD.library_path, GLX);
  assert.match(written.ICD.api_version, /^1\.3\.\d+$/);
  assert.is(env['VK_ICD_FILENAMES'], setup.file);
  assert.is(env['VK_DRIVER_FILES'], setup.file);
  assert.equal(setup.set, { VK_ICD_FILENAMES: setup.file!, VK_DRIVER_FILES: setup.file! });
  // The written manifest reads back as a valid NVIDIA manifest (real path; the library is fake).
  const back = readManifest('/', env, setup.file!, 'VK_DRIVER_FILES');
  assert.is(back.error, undefined);
  assert.is(back.kind, 'nvidia');
  // Once the variables are set, auto leaves them alone (also when run again).
  assert.is(configureVulkanIcd('auto', env, root).action, 'kept');
});

test('an NVIDIA manifest off the loader path (/usr/local/nvidia/share/vulkan/icd.d) is found and used', () => {
  const off = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';
  const { root, env } = machine({ ...BASE, ...DRIVER, [off]: icdJson('libGLX_nvidia.so.0'), '/usr/local/nvidia/lib64/libGLX_nvidia.so.0': '' });
  // CUDA images put /usr/local/nvidia/lib64 on LD_LIBRARY_PATH, so the manifest's bare name resolves.
  env['LD_LIBRARY_PATH'] = '/usr/local/nvidia/lib:/usr/local/nvidia/lib64';
  const r = inspectVulkan(root, env);
  assert.is(r.nvidia.libraries['libGLX_nvidia.so.0'], '/usr/local/nvidia/lib64/libGLX_nvidia.so.0');
  assert.is(r.icds.find((m) => m.file === off)!.from, 'unused');
  const f = diagnoseVulkan(r);
  assert.equal(problems(f), ['nvidia-icd-unused']);
  assert.match(find(f, 'nvidia-icd-unused').fix!, /VK_DRIVER_FILES=\/usr\/local\/nvidia\/share\/vulkan\/icd\.d\/nvidia_icd\.json/);
  const setup = configureVulkanIcd('auto', env, root);
  assert.is(setup.action, 'used-existing');
  assert.is(env['VK_DRIVER_FILES'], off);
  assert.is(env['VK_ICD_FILENAMES'], off);
});

test('the same without LD_LIBRARY_PATH: that manifest\'s bare library name would not load, so auto writes one with the full path', () => {
  const off = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';
  const { root, env, cache } = machine({ ...BASE, ...DRIVER, [off]: icdJson('libGLX_nvidia.so.0'), '/usr/local/nvidia/lib64/libGLX_nvidia.so.0': '' });
  const r = inspectVulkan(root, env);
  assert.is(r.icds.find((m) => m.file === off)!.libraryFound, false);
  assert.equal(problems(diagnoseVulkan(r)), ['nvidia-icd-missing']);
  const setup = configureVulkanIcd('auto', env, root);
  assert.is(setup.action, 'generated');
  assert.is(setup.file, join(cache, 'vulkan', 'nvidia_icd.json'));
  assert.is((JSON.parse(readFileSync(setup.file!, 'utf8')) as { ICD: { library_path: string } }).ICD.library_path, '/usr/local/nvidia/lib64/libGLX_nvidia.so.0');
});

test('NVIDIA_DRIVER_CAPABILITIES=compute,utility: the container lacks graphics; the fix is to restart it with graphics', () => {
  const { root, env } = machine({ ...BASE, ...DRIVER });
  env['NVIDIA_DRIVER_CAPABILITIES'] = 'compute,utility';
  env['NVIDIA_VISIBLE_DEVICES'] = 'all';
  const r = inspectVulkan(root, env);
  assert.is(r.nvidia.graphicsCapability, false);
  assert.is(r.nvidia.visibleDevices, 'all');
  const f = diagnoseVulkan(r);
  assert.equal(problems(f), ['no-graphics-capability']);
  const cause = find(f, 'no-graphics-capability');
  assert.match(cause.message, /NVIDIA_DRIVER_CAPABILITIES=compute,utility, without "graphics"/);
  assert.match(cause.fix!, /NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
  assert.match(cause.fix!, /--gpus/);
  const setup = configureVulkanIcd('auto', env, root);
  assert.is(setup.action, 'unavailable');
  assert.match(setup.message, /lacks "graphics"/);
  // `all` includes graphics.
  env['NVIDIA_DRIVER_CAPABILITIES'] = 'all';
  assert.is(inspectVulkan(root, env).nvidia.graphicsCapability, true);
  assert.equal(problems(diagnoseVulkan(inspectVulkan(root, env))), ['nvidia-gl-missing']);
});

test('an ICD JSON naming a library that does not exist', () => {
  const { root, env } = machine({ ...BASE, ...DRIVER, '/etc/vulkan/icd.d/nvidia_icd.json': icdJson('/usr/lib/nvidia/libGLX_nvidia.so.0') });
  let f = diagnoseVulkan(inspectVulkan(root, env));
  assert.equal(problems(f), ['icd-library-missing', 'nvidia-gl-missing']);
  assert.match(find(f, 'icd-library-missing').message, /nvidia_icd\.json names the library \/usr\/lib\/nvidia\/libGLX_nvidia\.so\.0, which does not exist/);
  // With the driver's library elsewhere, the fix offers --vulkan-icd auto, which names the real one.
  const other = machine({ ...BASE, ...DRIVER, [GLX]: '', '/etc/vulkan/icd.d/nvidia_icd.json': icdJson('/usr/lib/nvidia/libGLX_nvidia.so.0') });
  f = diagnoseVulkan(inspectVulkan(other.root, other.env));
  assert.equal(problems(f), ['icd-library-missing', 'nvidia-icd-missing']);
  assert.match(find(f, 'icd-library-missing').fix!, /--vulkan-icd auto writes a manifest that names \/usr\/lib\/x86_64-linux-gnu\/libGLX_nvidia\.so\.0/);
  const setup = configureVulkanIcd('auto', other.env, other.root);
  assert.is(setup.action, 'generated');
  assert.is(setup.library, GLX);
});

test('lavapipe ICD only: software, no NVIDIA; auto does nothing', () => {
  const { root, env } = machine({ ...BASE, '/usr/share/vulkan/icd.d/lvp_icd.json': icdJson('libvulkan_lvp.so'), [`${LIB}/libvulkan_lvp.so`]: '' });
  const r = inspectVulkan(root, env);
  assert.is(r.icds[0]!.kind, 'software');
  assert.is(r.icds[0]!.library, `${LIB}/libvulkan_lvp.so`);
  const f = diagnoseVulkan(r);
  assert.equal(problems(f), []);
  assert.match(find(f, 'software-only').message, /libvulkan_lvp\.so.*--backend auto picks the CPU engine/);
  assert.is(configureVulkanIcd('auto', env, root).action, 'unavailable');
});

test('VK_DRIVER_FILES: wins over VK_ICD_FILENAMES, hides the search path, and a missing entry is a problem', () => {
  const { root, env } = machine({ ...BASE, ...DRIVER, ...GRAPHICS, '/usr/share/vulkan/icd.d/nvidia_icd.json': icdJson('libGLX_nvidia.so.0'), '/opt/icd/lvp.json': icdJson('/opt/lvp/libvulkan_lvp.so'), '/opt/lvp/libvulkan_lvp.so': '' });
  env['VK_ICD_FILENAMES'] = '/nope.json';
  env['VK_DRIVER_FILES'] = '/opt/icd:/missing.json';
  const r = inspectVulkan(root, env);
  assert.equal(r.missingEnvFiles, ['/missing.json']);
  assert.equal(r.icds.map((m) => [m.file, m.from]), [['/opt/icd/lvp.json', 'VK_DRIVER_FILES'], ['/usr/share/vulkan/icd.d/nvidia_icd.json', 'unused']]);
  assert.match(r.icds[1]!.unusedBecause!, /VK_DRIVER_FILES is set/);
  const f = diagnoseVulkan(r);
  assert.equal(problems(f), ['icd-env-missing', 'nvidia-icd-unused']);
  assert.match(find(f, 'icd-env-missing').message, /VK_DRIVER_FILES names \/missing\.json/);
  // auto respects variables the user set.
  assert.is(configureVulkanIcd('auto', env, root).action, 'kept');
});

test('library lookup: ld.so.conf includes, relative paths, invalid manifests, missing libglvnd', () => {
  const { root, env } = machine({
    [`${LIB}/libvulkan.so.1`]: '', ...DRIVER,
    '/etc/ld.so.conf': 'include /etc/ld.so.conf.d/*.conf\n',
    '/etc/ld.so.conf.d/nvidia.conf': '# from the driver\n/opt/nvidia/lib\n',
    '/opt/nvidia/lib/libGLX_nvidia.so.0': '',
    '/usr/share/vulkan/icd.d/nvidia_icd.json': icdJson('libGLX_nvidia.so.0'),
    '/usr/share/vulkan/icd.d/rel.json': icdJson('../drivers/libvulkan_x.so'),
    '/usr/share/vulkan/drivers/libvulkan_x.so': '',
    '/usr/share/vulkan/icd.d/broken.json': '{ "ICD": ',
  });
  assert.ok(linkerDirs(root, env).includes('/opt/nvidia/lib'));
  const r = inspectVulkan(root, env);
  const by = (name: string) => r.icds.find((m) => m.file.endsWith(name))!;
  assert.is(by('nvidia_icd.json').library, '/opt/nvidia/lib/libGLX_nvidia.so.0');
  assert.is(by('rel.json').library, '/usr/share/vulkan/drivers/libvulkan_x.so');
  assert.match(by('broken.json').error!, /not valid JSON/);
  assert.is(r.glvnd, null);
  const f = diagnoseVulkan(r);
  assert.equal(problems(f), ['icd-invalid', 'glvnd-missing']);
  find(f, 'nvidia-icd');
});

test('--vulkan-icd PATH uses that manifest; a missing or invalid one is an error; off does nothing', () => {
  const { root, env } = machine({ ...BASE, '/srv/my_icd.json': icdJson('/srv/libmine.so'), '/srv/libmine.so': '', '/srv/bad.json': '{}' });
  const setup = configureVulkanIcd('/srv/my_icd.json', env, root);
  assert.is(setup.action, 'used-path');
  assert.is(setup.library, '/srv/libmine.so');
  assert.is(env['VK_DRIVER_FILES'], '/srv/my_icd.json');
  assert.throws(() => configureVulkanIcd('/srv/none.json', env, root), (e: unknown) => e instanceof VulkanIcdError && /no such manifest file/.test((e as Error).message));
  assert.throws(() => configureVulkanIcd('/srv/bad.json', env, root), /has no ICD\.library_path/);
  const clean: Env = {};
  assert.is(configureVulkanIcd('off', clean, root).action, 'off');
  assert.is(configureVulkanIcd(undefined, clean, root).action, 'off');
  assert.equal(clean, {});
});

test.run();
