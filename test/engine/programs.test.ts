/**
 * programs.ts without a GPU: where the WGSL shaders are found (whatever the build layout), and how
 * dispatches are folded into 2-D.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CsmError } from '../../src/errors.js';
import { dispatchSize, findShaderDirectory, shaderSource, type KernelName } from '../../src/engine/webgpu/programs.js';
import { REPO_ROOT } from '../helpers/data.js';

const KERNEL_NAMES: KernelName[] = ['occlude', 'score', 'gather', 'preprocess', 'reproject'];

let tmp = '';
test.before(() => { tmp = mkdtempSync(join(tmpdir(), 'csm-shaders-')); });
test.after(() => { rmSync(tmp, { recursive: true, force: true }); });

/** A package directory `dir` named `name`, with a copy of the repository's shaders/ unless `shaders` is false. */
function fakePackage(dir: string, name: string, shaders = true): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '0.0.0' }));
  if (shaders) cpSync(join(REPO_ROOT, 'shaders'), join(dir, 'shaders'), { recursive: true });
}

test('the real lookup finds the repository\'s shaders/ and reads every kernel', () => {
  assert.is(findShaderDirectory(), join(REPO_ROOT, 'shaders'));
  for (const name of KERNEL_NAMES) assert.is(shaderSource(name), readFileSync(join(REPO_ROOT, 'shaders', `${name}.wgsl`), 'utf8'));
});

test('found from any depth below the package root: built (dist/src/engine/webgpu), source (src/engine/webgpu), flat (lib)', () => {
  const root = join(tmp, 'layouts', 'node_modules', 'csm');
  fakePackage(root, 'csm');
  // The module itself need not exist: only its directory chain matters.
  for (const sub of ['dist/src/engine/webgpu', 'src/engine/webgpu', 'lib', '.']) {
    mkdirSync(join(root, sub), { recursive: true });
    const module = join(root, sub, 'programs.js');
    assert.is(findShaderDirectory(pathToFileURL(module)), join(root, 'shaders'), `${sub} (file URL)`);
    assert.is(findShaderDirectory(pathToFileURL(module).href), join(root, 'shaders'), `${sub} (URL string)`);
    assert.is(findShaderDirectory(join(root, sub)), join(root, 'shaders'), `${sub} (directory path)`);
  }
  assert.equal(readdirSync(join(root, 'shaders')).sort(), KERNEL_NAMES.map((n) => `${n}.wgsl`).sort());
});

test('walks past package.json files of other names, broken ones, and a csm package.json without shaders/', () => {
  const root = join(tmp, 'nested', 'csm-root');
  fakePackage(root, 'csm');
  fakePackage(join(root, 'dist'), 'not-csm'); // e.g. a {"type": "module"} marker with a name, and even a shaders/ copy
  mkdirSync(join(root, 'dist', 'src'), { recursive: true });
  writeFileSync(join(root, 'dist', 'src', 'package.json'), '{ not json');
  fakePackage(join(root, 'dist', 'src', 'engine'), 'csm', false);
  const module = join(root, 'dist', 'src', 'engine', 'webgpu', 'programs.js');
  assert.is(findShaderDirectory(pathToFileURL(module)), join(root, 'shaders'));
});

test('a clear CsmError naming the paths searched when there is no csm package above', () => {
  const root = join(tmp, 'elsewhere');
  fakePackage(root, 'other-package');
  const from = join(root, 'dist', 'src', 'programs.js');
  try {
    findShaderDirectory(pathToFileURL(from));
    assert.unreachable('found shaders in a package not named csm');
  } catch (e) {
    assert.instance(e, CsmError);
    const message = (e as Error).message;
    assert.match(message, 'package.json named "csm"');
    assert.match(message, join(root, 'dist', 'src'));
    assert.match(message, root);
  }
});

const fakeDevice = (max: number): GPUDevice => ({ limits: { maxComputeWorkgroupsPerDimension: max } }) as unknown as GPUDevice;

test('dispatchSize: one row up to the limit, then a 2-D fold that covers every invocation', () => {
  assert.equal(dispatchSize(fakeDevice(65535), 1, 64), { x: 1, y: 1, strideX: 64 });
  assert.equal(dispatchSize(fakeDevice(65535), 0, 64), { x: 1, y: 1, strideX: 64 });
  assert.equal(dispatchSize(fakeDevice(65535), 1000, 64), { x: 16, y: 1, strideX: 1024 });
  assert.equal(dispatchSize(fakeDevice(10), 640, 64), { x: 10, y: 1, strideX: 640 });
  assert.equal(dispatchSize(fakeDevice(10), 641, 64), { x: 6, y: 2, strideX: 384 });
  for (const [max, invocations, workgroup] of [[4, 819, 64], [7, 1600, 64], [3, 357, 64], [2, 150, 64], [65535, 2 ** 24 * 64 + 5, 64], [100, 9999, 1]]) {
    const s = dispatchSize(fakeDevice(max!), invocations!, workgroup!);
    assert.ok(s.x <= max! && s.y <= max!, `${invocations} within ${max}`);
    assert.is(s.strideX, s.x * workgroup!);
    assert.ok(s.y * s.strideX >= invocations!, `${invocations} all covered`);
    assert.ok((s.y - 1) * s.strideX < invocations!, `${invocations}: no empty row`);
  }
});

test('dispatchSize: maxGroupsPerDimension lowers the device limit, never raises it, and must be a positive integer', () => {
  assert.equal(dispatchSize(fakeDevice(65535), 1000, 64, 4), { x: 4, y: 4, strideX: 256 });
  assert.equal(dispatchSize(fakeDevice(65535), 1000, 64, 65535), dispatchSize(fakeDevice(65535), 1000, 64));
  assert.equal(dispatchSize(fakeDevice(4), 1000, 64, 100), { x: 4, y: 4, strideX: 256 });
  for (const bad of [0, -1, 2.5, Number.NaN]) assert.throws(() => dispatchSize(fakeDevice(65535), 1000, 64, bad), (e: unknown) => e instanceof CsmError, `${bad}`);
  assert.throws(() => dispatchSize(fakeDevice(65535), 1000, 64, 3), (e: unknown) => e instanceof CsmError && /exceeds/.test((e as Error).message), '16 groups do not fit 3 × 3');
  assert.throws(() => dispatchSize(fakeDevice(65535), 2 ** 32 + 1, 64), (e: unknown) => e instanceof CsmError && /32-bit/.test((e as Error).message));
});

test.run();
