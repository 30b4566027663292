/**
 * Output folders are checked and claimed before a run: a file or an uncreatable path is refused
 * in one sentence; `.csm.lock` stops a second run (naming the folder and the other run's pid), is
 * taken over when its run is gone, and is released on release(), on process exit (also after an
 * uncaught error) and on SIGTERM; a folder with a finished run's outputs is refused without force.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkOutDir, LOCK_FILE, lockOutDir, openOutDir, OutDirError, pidAlive } from '../../src/index.js';
import { REPO_ROOT } from '../helpers/data.js';

const OUT_DIR_JS = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'io', 'out-dir.js')).href;

async function refused(p: Promise<unknown>, patterns: RegExp[], what: string): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, OutDirError, `${what}: ${String(e)}`);
    for (const re of patterns) assert.match((e as Error).message, re, what);
    assert.not.match((e as Error).message, /\n/, `${what}: one line`);
    return (e as Error).message;
  }
  assert.unreachable(`${what}: expected a refusal`);
  return '';
}

/** The pid of a process that has exited (so that no process has it, barring reuse). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  assert.is(r.status, 0);
  assert.not.ok(pidAlive(r.pid!), 'the child is gone');
  return r.pid!;
}

const lockText = (pid: number, host = hostname()): string => `${JSON.stringify({ pid, host, started: '2024-01-01T00:00:00.000Z', command: 'csm cms --out x', token: 'feedfacefeedface' })}\n`;

test('checkOutDir: creates the folder; refuses a file, a path under a file, and an unwritable folder', async () => {
  const root = await mkdtemp(join(tmpdir(), 'csm-out-'));
  try {
    await checkOutDir(join(root, 'a', 'b'));
    assert.ok(existsSync(join(root, 'a', 'b')));
    assert.equal(await readdir(join(root, 'a', 'b')), [], 'the probe is removed');
    const file = join(root, 'results.txt');
    await writeFile(file, 'x');
    await refused(checkOutDir(file), [/^the output folder ".*results\.txt" is a file, not a folder: choose another --out$/], 'a file');
    await refused(checkOutDir(join(file, 'sub')), [/^cannot use the output folder ".*results\.txt\/sub": a part of its path is a file, not a folder \(ENOTDIR\)$/], 'under a file');
    const ro = join(root, 'read-only');
    await mkdir(ro);
    await chmod(ro, 0o555);
    if (process.getuid?.() === 0) {
      console.log('  SKIP read-only folder via chmod: running as root, whom chmod does not stop (test/cli/out.test.ts runs this case as another user)');
    } else {
      await refused(checkOutDir(ro), [/^the output folder ".*read-only" is not writable: permission denied \(EACCES\)$/], 'read-only');
      await refused(checkOutDir(join(ro, 'sub')), [/^cannot create the output folder ".*read-only\/sub": permission denied \(EACCES\)$/], 'under read-only');
    }
    await chmod(ro, 0o755);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a held lock refuses a second run, naming the folder and its pid; release lets the next one in', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-lock-'));
  try {
    const lock = await lockOutDir(dir, { command: 'csm cms --out here' });
    const info = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8'));
    assert.is(info.pid, process.pid);
    assert.is(info.host, hostname());
    assert.is(info.command, 'csm cms --out here');
    assert.ok(!Number.isNaN(Date.parse(info.started)));
    await refused(lockOutDir(dir), [new RegExp(`^the output folder "${dir}" is in use by an earlier run in this process \\(pid ${process.pid} on `), /wait for it to finish or choose another --out$/], 'same process');
    await lock.release();
    await lock.release();
    assert.not.ok(existsSync(join(dir, LOCK_FILE)), 'released');
    const again = await lockOutDir(dir);
    await again.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a lock of another live process is respected; one whose pid is gone is taken over with a warning', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-lock-'));
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    await writeFile(join(dir, LOCK_FILE), lockText(sleeper.pid!));
    await refused(lockOutDir(dir), [new RegExp(`"${dir}" is in use by another csm run \\(pid ${sleeper.pid} on ${hostname()}, "csm cms --out x", started 2024-01-01T00:00:00.000Z\\)`)], 'live pid');
    assert.ok(existsSync(join(dir, LOCK_FILE)), 'the other run keeps its lock');

    const dead = deadPid();
    await writeFile(join(dir, LOCK_FILE), lockText(dead));
    const warnings: string[] = [];
    const lock = await lockOutDir(dir, { onWarning: (m) => warnings.push(m) });
    assert.is(warnings.length, 1);
    assert.match(warnings[0]!, new RegExp(`took over the lock of a csm run that is gone \\(pid ${dead} on `));
    assert.is(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')).pid, process.pid, 'the lock is now this run\'s');
    assert.equal((await readdir(dir)).sort(), [LOCK_FILE], 'nothing left aside');
    await lock.release();

    // another host: its pid cannot be checked from here
    await writeFile(join(dir, LOCK_FILE), lockText(dead, 'elsewhere.example'));
    await refused(lockOutDir(dir), [/in use by another csm run \(pid \d+ on elsewhere\.example.*if that run is gone, delete .*\.csm\.lock$/], 'other host');
    // not a lock csm wrote
    await writeFile(join(dir, LOCK_FILE), '');
    await refused(lockOutDir(dir), [/holds a lock file ".*\.csm\.lock" that csm cannot read; if no other csm run is writing there, delete it$/], 'garbled');
  } finally {
    sleeper.kill();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the lock is released when the process exits, also after an uncaught error, and on SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-lock-'));
  try {
    for (const ending of ['process.exit(3)', "throw new Error('boom')"]) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { lockOutDir } from '${OUT_DIR_JS}'; await lockOutDir(${JSON.stringify(dir)}); console.log('locked'); ${ending};`], { encoding: 'utf8' });
      assert.match(r.stdout, /locked/, r.stderr);
      assert.not.ok(existsSync(join(dir, LOCK_FILE)), `released after ${ending}`);
    }
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import { lockOutDir } from '${OUT_DIR_JS}'; await lockOutDir(${JSON.stringify(dir)}); console.log('locked'); setTimeout(() => {}, 60000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('locked')) resolve(); }));
    assert.is(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, child.pid);
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, signal) => resolve(signal)));
    child.kill('SIGTERM');
    assert.is(await ended, 'SIGTERM', 'the child still dies of the signal');
    assert.not.ok(existsSync(join(dir, LOCK_FILE)), 'released on SIGTERM');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('openOutDir refuses a finished run\'s outputs or an unfinished checkpoint unless force or resume, and releases its lock', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-open-'));
  try {
    await writeFile(join(dir, 'cms.json'), '{}');
    const msg = await refused(openOutDir(dir, { finished: ['cms.json'] }), [/already holds the outputs of a finished run \(cms\.json\)/, /add --force to overwrite them$/], 'finished');
    assert.match(msg, new RegExp(`^the output folder "${dir}"`));
    assert.not.ok(existsSync(join(dir, LOCK_FILE)), 'the lock is released on refusal');
    await (await openOutDir(dir, { finished: ['cms.json'], force: true })).release();
    await (await openOutDir(dir, { finished: ['cms.json'], resume: true })).release();
    await (await openOutDir(dir, { finished: ['eval.json'] })).release();

    await rm(join(dir, 'cms.json'));
    await mkdir(join(dir, 'checkpoint'));
    await writeFile(join(dir, 'checkpoint', 'cms-state.json'), '{}');
    await refused(openOutDir(dir, { finished: ['cms.json'], checkpoint: 'checkpoint/cms-state.json' }), [/holds the checkpoint of an unfinished run \(checkpoint\/cms-state\.json\): add --resume to continue it, --force to start over/], 'checkpoint');
    await (await openOutDir(dir, { checkpoint: 'checkpoint/cms-state.json', resume: true })).release();
    assert.equal((await readdir(dir)).sort(), ['checkpoint'], 'no lock or probe left');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
