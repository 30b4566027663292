/** ModelSpec parsing, and holding a spec to a real converted model's signature. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkSpecAgainstModel, ensureZooModel, parseSpec, readSignature, readSpecFile, resolveModel, selectHead, SpecError, ZOO, zooEntry,
  type ModelSpec,
} from '../../src/index.js';

const emotion = zooEntry('emotion')!.spec;
const clone = (s: ModelSpec): ModelSpec => JSON.parse(JSON.stringify(s)) as ModelSpec;

test('every zoo spec parses and fits its converted model', async () => {
  for (const { spec } of ZOO) {
    const parsed = parseSpec(JSON.parse(JSON.stringify(spec)), spec.name);
    assert.equal(parsed, spec, `${spec.name} round-trips through parseSpec`);
    const { path } = await ensureZooModel(spec.name);
    checkSpecAgainstModel(spec, await readSignature(path), path);
  }
});

test('parseSpec names the bad field', () => {
  const bad = (mutate: (s: Record<string, any>) => void, fragment: string): void => {
    const s = clone(emotion) as unknown as Record<string, any>;
    mutate(s);
    assert.throws(() => parseSpec(s, '"x.json"'), (e: Error) => e instanceof SpecError && e.message.includes(fragment) && e.message.includes('x.json'));
  };
  bad((s) => { s['input'].width = 0; }, 'input.width');
  bad((s) => { s['input'].color = 'cmyk'; }, 'input.color');
  bad((s) => { s['input'].normalise.scale = [1, 2]; }, 'input.normalise.scale');
  bad((s) => { s['heads'] = []; }, 'heads');
  bad((s) => { s['heads'][0].confidence = 'magic'; }, 'heads[0].confidence');
  bad((s) => { s['heads'][0].confidence = 'sigmoid'; }, 'sigmoid head');
  bad((s) => { s['heads'].push(s['heads'][0]); }, 'two heads');
  assert.throws(() => parseSpec([1, 2], 'arr'), /JSON object/);
});

test('a spec that does not fit the model is a clear error', async () => {
  const { path } = await ensureZooModel('emotion');
  const sig = await readSignature(path);
  const expectMismatch = (mutate: (s: ModelSpec) => void, fragment: RegExp): void => {
    const s = clone(emotion);
    mutate(s);
    assert.throws(() => checkSpecAgainstModel(s, sig, path), (e: Error) => e instanceof SpecError && fragment.test(e.message));
  };
  expectMismatch((s) => { s.input.width = 48; }, /shape \[batch,1,64,64\].*48×64/);
  expectMismatch((s) => { s.input.color = 'rgb'; }, /implies \[batch, 3,64,64\]/);
  expectMismatch((s) => { s.input.layout = 'NHWC'; }, /NHWC/);
  expectMismatch((s) => { s.input.name = 'pixels'; }, /no input "pixels".*input_1/);
  expectMismatch((s) => { s.heads[0]!.output = 'probs'; }, /lacks.*Identity/);
  expectMismatch((s) => { s.heads[0]!.labels = ['a', 'b']; }, /2 labels but output "Identity" has 7/);
});

test('bring your own model: a file needs a spec, and a fitting spec resolves', async () => {
  const { path } = await ensureZooModel('gender');
  try {
    await resolveModel(path);
    assert.unreachable('a model file without a spec must be refused');
  } catch (e) {
    assert.instance(e, SpecError);
    assert.match((e as Error).message, /needs a spec/);
  }
  const spec = { ...clone(zooEntry('gender')!.spec), name: 'my-gender' };
  const resolved = await resolveModel(path, spec);
  assert.is(resolved.spec.name, 'my-gender');
  assert.equal(resolved.signature.inputs[0]!.shape, ['batch', 1, 64, 64]);
  // A spec file for the wrong model is refused by the signature check.
  const dir = mkdtempSync(join(tmpdir(), 'csm-spec-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(zooEntry('age')!.spec));
  writeFileSync(join(dir, 'broken.json'), '{"name": "x",');
  try {
    await readSpecFile(join(dir, 'broken.json'));
    assert.unreachable('broken JSON must be refused');
  } catch (e) {
    assert.match((e as Error).message, /broken\.json" is not valid JSON/);
  }
  try {
    await resolveModel(path, await readSpecFile(join(dir, 'spec.json')));
    assert.unreachable('the age spec cannot fit the gender model');
  } catch (e) {
    assert.instance(e, SpecError);
  }
});

test('selectHead picks the named head or the first confidence head', () => {
  const faceres = zooEntry('faceres')!.spec;
  assert.is(selectHead(faceres).name, 'gender');
  assert.is(selectHead(faceres, 'descriptor').confidence, 'embedding');
  assert.throws(() => selectHead(faceres, 'race'), /no head "race".*gender, age, age10, descriptor/);
  assert.throws(() => selectHead(zooEntry('blazeface')!.spec), /no head that yields a confidence/);
});

test.run();
