/** `csm align` as a user runs it: pictures and JSON written, a bad file reported and skipped. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeImage } from '../../src/index.js';
import { REPO_ROOT } from '../helpers/data.js';

const require = createRequire(import.meta.url);
const GROUP = join(require.resolve('@vladmandic/face-api/package.json'), '..', 'demo', 'sample2.jpg');

test('csm align writes mesh overlay, canonical faces and JSON; a non-image is skipped with exit code 1', () => {
  const out = mkdtempSync(join(tmpdir(), 'csm-align-'));
  const text = join(out, 'notes.jpg');
  writeFileSync(text, 'not a photo');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), 'align', GROUP, text, '--out', out, '--face', 'all', '--size', '128'], { encoding: 'utf8' });
  assert.is(r.status, 1, 'one input failed');
  assert.match(r.stderr, /cannot read image ".*notes\.jpg": not a PNG or JPEG file/);
  const json = JSON.parse(readFileSync(join(out, 'sample2-align.json'), 'utf8')) as { faces: { rank: number; mesh: number[]; presence: number }[] };
  assert.ok(json.faces.length >= 2, 'several faces with --face all');
  for (const f of json.faces) assert.is(f.mesh.length, 468 * 3);
  const canonical = decodeImage(readFileSync(join(out, 'sample2-canonical.png')), 'canonical');
  assert.is(canonical.width, 128);
  assert.ok(existsSync(join(out, 'sample2-face2-canonical.png')));
  assert.ok(existsSync(join(out, 'sample2-mesh.png')));
});

test('csm align --help explains the outputs; missing --out is a usage error', () => {
  const help = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), 'align', '--help'], { encoding: 'utf8' });
  assert.is(help.status, 0);
  assert.match(help.stdout, /NAME-canonical\.png/);
  const bad = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), 'align', GROUP], { encoding: 'utf8' });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /needs --out/);
});

test.run();
