/**
 * --sampling, --keep and --points are parsed with the other explaining flags (before any model loads): bad
 * values are usage errors that name the flag, and --help documents them.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPLAIN_HELP, samplingFromFlags, setupExplain } from '../../src/cli/explain-args.js';
import { CMS_DEFAULT_SAMPLING, CMS_HELP } from '../../src/cli/cms.js';
import { ablateCommand } from '../../src/cli/ablate.js';
import { DEFAULT_KEEP, type Sampling } from '../../src/index.js';
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

test('bad --sampling / --keep / --points values are usage errors naming the flag', async () => {
  await usage({ sampling: 'random' }, /--sampling takes grid \| stratified \| adaptive/);
  await usage({ sampling: 'grid', keep: '1/4' }, /--keep goes with --sampling stratified or adaptive/);
  await usage({ sampling: 'grid', points: '100' }, /--points goes with --sampling stratified or adaptive/);
  await usage({ sampling: 'stratified', keep: '1/3' }, /--keep takes 1\/k/);
  await usage({ sampling: 'stratified', keep: '1/4', points: '100' }, /--keep 1\/k or --points N, not both/);
  await usage({ sampling: 'adaptive' }, /--sampling adaptive needs --points N/);
  await usage({ sampling: 'adaptive', points: '0' }, /--points takes a whole number/);
  await usage({ sampling: 'adaptive', points: '500', keep: '1/4' }, /--keep goes with --sampling stratified/);
});

test('the flags give the sampling; without them the command\'s default (csm cms: stratified, others: grid)', () => {
  const grid: Sampling = { kind: 'grid' };
  assert.equal(samplingFromFlags({}, grid), grid);
  assert.equal(samplingFromFlags({}, CMS_DEFAULT_SAMPLING), { kind: 'stratified', keep: DEFAULT_KEEP });
  assert.equal(samplingFromFlags({ sampling: 'grid' }, CMS_DEFAULT_SAMPLING), grid);
  assert.equal(samplingFromFlags({ keep: '1/2' }, CMS_DEFAULT_SAMPLING), { kind: 'stratified', keep: 2 });
  assert.equal(samplingFromFlags({ points: '300' }, CMS_DEFAULT_SAMPLING), { kind: 'stratified', points: 300 });
  assert.equal(samplingFromFlags({ sampling: 'stratified' }, grid), { kind: 'stratified', keep: DEFAULT_KEEP });
  assert.equal(samplingFromFlags({ sampling: 'adaptive', points: '528' }, grid), { kind: 'adaptive', points: 528 });
  assert.throws(() => samplingFromFlags({ keep: '1/2' }, grid), /--keep goes with/);
});

test('csm ablate refuses a sampling it would ignore', async () => {
  try {
    await ablateCommand(['--model', NO_MODEL, '--images', OUT, '--out', OUT, '--sampling', 'stratified']);
  } catch (e) {
    assert.instance(e, UsageError);
    assert.match((e as Error).message, /csm ablate runs every occlusion point/);
    return;
  }
  assert.unreachable('expected a usage error');
});

test('--help documents --sampling, --keep, --points and csm cms\'s default', () => {
  assert.match(EXPLAIN_HELP, /--sampling grid\|stratified\|adaptive/);
  assert.match(EXPLAIN_HELP, /--keep 1\/k/);
  assert.match(EXPLAIN_HELP, /--points N/);
  assert.match(EXPLAIN_HELP, new RegExp(`csm cms: stratified 1/${DEFAULT_KEEP}`));
  assert.match(CMS_HELP, new RegExp(`By default each image runs a stratified 1/${DEFAULT_KEEP}`));
});

test.run();
