/**
 * A quiet first run: `npx csm models list` from the checkout, with an empty model cache, writes
 * nothing to stderr (no npm config warnings, no runtime chatter); progress is plain lines when
 * stderr is not a terminal and one updating line when it is.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, skip } from '../helpers/data.js';

/** A user's shell: without the npm_* variables that `npm test` passes to its script. */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, ...extra };
}

test('npx csm models list and npx csm --help on a clean cache write nothing to stderr', () => {
  const npx = spawnSync('npx', ['--version'], { encoding: 'utf8' });
  if (npx.error) return skip('npx csm models list', `npx is not on PATH (${npx.error.message})`);
  const cache = mkdtempSync(join(tmpdir(), 'csm-quiet-'));
  try {
    for (const args of [['models', 'list'], ['--help']]) {
      const r = spawnSync('npx', ['csm', ...args], { cwd: REPO_ROOT, env: userEnv({ CSM_CACHE_DIR: cache }), encoding: 'utf8' });
      assert.is(r.status, 0, `csm ${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stdout.length > 0);
      assert.is(r.stderr, '', `npx csm ${args.join(' ')} wrote to stderr`);
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

/** Runs Progress in a child whose stderr is a pipe; `tty` makes it claim to be a terminal. */
function progressChild(tty: { columns: number } | null, total: number): string {
  const progress = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'cli', 'progress.js')).href;
  const script = `
    ${tty ? `Object.defineProperty(process.stderr, 'isTTY', { value: true }); Object.defineProperty(process.stderr, 'columns', { value: ${tty.columns} });` : ''}
    const { Progress } = await import(${JSON.stringify(progress)});
    const p = new Progress('cms with a rather long label');
    for (let k = 1; k <= ${total}; k++) p.update(k, ${total}, k / 50);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '');
  return r.stderr;
}

test('progress off a terminal: plain lines, at most one per percent, the last at 100%', () => {
  const err = progressChild(null, 1000);
  assert.not.match(err, /[\r\x1b]/, 'no carriage returns or escape codes');
  const lines = err.trimEnd().split('\n');
  assert.is(lines.length, 101, 'one line per percent, 0% to 100%');
  for (const l of lines) assert.match(l, /^cms with a rather long label \d+\/1000 \(\d+%\) [\d.]+\/s ETA \S+$/);
  assert.match(lines.at(-1)!, /^cms with a rather long label 1000\/1000 \(100%\) 50\.00\/s ETA 0s$/);
  // Fewer steps than percents: a line per step.
  assert.is(progressChild(null, 7).trimEnd().split('\n').length, 7);
});

test('progress on a terminal: one line redrawn in place, never wider than the terminal, ended once', () => {
  const columns = 40;
  const err = progressChild({ columns }, 30);
  assert.is(err.split('\n').length - 1, 1, 'a single newline, after the last update');
  assert.ok(err.endsWith('\n'));
  const frames = err.slice(0, -1).split('\r').slice(1);
  assert.is(frames.length, 30);
  for (const f of frames) {
    assert.ok(f.endsWith('\x1b[K'), 'each frame clears the rest of the line');
    assert.ok(f.length - 3 < columns, `frame of ${f.length - 3} characters in ${columns} columns`);
  }
  assert.match(frames.at(-1)!, /^\[#{24}\] cms with/);
});

test.run();
