/**
 * --sampling and --keep are parsed with the other explaining flags (before any model loads): bad
 * values are usage errors that name the flag, and --help documents them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPLAIN_HELP, setupExplain } from '../../src/cli/explain-args.js';
import { UsageError } from '../../src/cli/output.js';

const OUT = mkdtempSync(join(tmpdir(), 'csm-sampling-args-'));
const NO_MODEL = join(tmpdir(), 'csm-no-such-model', 'model.onnx');

async function usage(values: Record<string, string>, re: RegExp): Promise<void> {
  try {
    await setupExplain({ model: NO_MODEL, out: OUT, ...values });
  } catch (e) {
    assert.instance(e, UsageError, String(e));
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('expected a usage error');
}

test('bad --sampling / --keep values are usage errors naming the flag', async () => {
  await usage({ sampling: 'random' }, /--sampling takes grid \| stratified/);
  await usage({ keep: '1/4' }, /--keep goes with --sampling stratified/);
  await usage({ sampling: 'stratified', keep: '1/3' }, /--keep takes 1\/k/);
});

test('--help documents --sampling and --keep', () => {
  assert.match(EXPLAIN_HELP, /--sampling grid\|stratified/);
  assert.match(EXPLAIN_HELP, /--keep 1\/k/);
});

test.run();
