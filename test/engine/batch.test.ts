/**
 * `--batch auto`: the candidates, and that the tuner keeps the batch with the most forward passes
 * per second as the session reports them (a fake session with a known cost curve), ties going to
 * the smaller batch.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchCandidates, tuneBatch, type EngineSession } from '../../src/index.js';

/** A session whose pure inference costs `cost(b)` seconds per batch of b. */
function fakeSession(cost: (b: number) => number, batch = 256): EngineSession {
  return {
    engine: 'fake', batch, valuesPerImage: 1,
    infer: async () => ({}),
    timeInference: async (_image, batches) => batches.reduce((s, b) => s + cost(b), 0),
    openModel: async () => { throw new Error('not used'); },
    prepare: async () => { throw new Error('not used'); },
    dispose: async () => undefined,
  };
}

test('candidates are powers of two from 4 below the engine default, and the default itself', () => {
  assert.equal(batchCandidates(256), [4, 8, 16, 32, 64, 128, 256]);
  assert.equal(batchCandidates(55), [4, 8, 16, 32, 55]);
  assert.equal(batchCandidates(3), [3]);
});

test('the fastest batch per forward pass wins (a cache cliff above 8)', async () => {
  // 1 ms per pass up to 8 rows, 1.2 ms per pass above: batch 8 is the fastest.
  const session = fakeSession((b) => (b <= 8 ? 0.001 : 0.0012) * b + 0.0005);
  const t = await tuneBatch(session, new Float32Array(1), 'y', { budgetSeconds: 0.01 });
  assert.is(t.batch, 8);
  assert.is(session.batch, 8, 'the session now runs at the chosen batch');
  assert.ok(t.passesPerSecond['8']! > t.passesPerSecond['256']!);
});

test('a larger batch must be more than 2 % faster to win', async () => {
  // The same cost per pass at every size, and batch 256 only 1.5 % faster: the smallest is kept.
  const flat = fakeSession((b) => b * 0.001);
  assert.is((await tuneBatch(flat, new Float32Array(1), 'y', { budgetSeconds: 0.01 })).batch, 4);
  const slight = fakeSession((b) => b * 0.001 * (b === 256 ? 1 / 1.015 : 1));
  assert.is((await tuneBatch(slight, new Float32Array(1), 'y', { budgetSeconds: 0.01 })).batch, 4);
  // A fixed per-call overhead makes large batches clearly faster (the GPU case).
  const gpu = fakeSession((b) => 0.01 + b * 0.0001);
  assert.is((await tuneBatch(gpu, new Float32Array(1), 'y', { budgetSeconds: 0.01 })).batch, 256);
});

test.run();
