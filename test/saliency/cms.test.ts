import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CmsAccumulator, CMS_MAX_MAGNITUDE, CMS_SCALE, quantiseCms, type CmsInput } from '../../src/saliency/cms.js';
import { checkpointStateSha256, loadAccumulator, saveAccumulator, CheckpointError } from '../../src/saliency/checkpoint.js';
import { CsmError } from '../../src/errors.js';
import { arrayPath, checkpointFiles } from '../helpers/checkpoint-files.js';
import { mulberry32 as prng } from '../helpers/random.js';

const SIZE = 64;
const COUNT = 20;


interface Item {
  id: string;
  cis: CmsInput;
}

/**
 * i.i.d. CIS maps with values in [-3, 3]; about 10% of pixels uncovered (count 0, map 0). A third
 * of the values are scaled down by up to 2^-40 so that their exponents span more than float64's
 * 29 spare bits over float32: plain float64 sums of such values depend on the order (the sanity
 * test checks this), so the tests below would fail without quantisation.
 */
function makeData(seed = 12345, count = COUNT, size = SIZE): Item[] {
  const rand = prng(seed);
  const items: Item[] = [];
  for (let k = 0; k < count; k++) {
    const map = new Float32Array(size * size);
    const cnt = new Uint32Array(size * size);
    for (let i = 0; i < map.length; i++) {
      if (rand() < 0.1) continue;
      cnt[i] = 1 + Math.floor(rand() * 5);
      const v = rand() * 6 - 3;
      map[i] = rand() < 0.3 ? v * 2 ** -Math.floor(rand() * 40) : v;
    }
    items.push({ id: `img-${String(k).padStart(3, '0')}.jpg`, cis: { map, count: cnt } });
  }
  return items;
}

function run(items: Item[], size = SIZE): CmsAccumulator {
  const acc = new CmsAccumulator(size);
  for (const it of items) acc.add(it.cis, it.id);
  return acc;
}

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView, what: string): void {
  assert.ok(bytes(a).equals(bytes(b)), `${what}: bytes differ`);
}

function shuffled<T>(xs: T[], seed: number): T[] {
  const rand = prng(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function throwsCsm(fn: () => unknown, pattern: RegExp, what: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CsmError, `${what}: expected a CsmError, got ${String(e)}`);
    assert.match((e as Error).message, pattern, what);
    return;
  }
  assert.unreachable(`${what}: expected an error`);
}

async function rejectsWith(p: Promise<unknown>, patterns: RegExp[], what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CheckpointError, `${what}: expected a CheckpointError, got ${String(e)}`);
    for (const pattern of patterns) assert.match((e as Error).message, pattern, what);
    return;
  }
  assert.unreachable(`${what}: expected an error`);
}

const data = makeData();

test('sanity: the data exercise quantisation, partial coverage and rounding order', () => {
  // Without quantisation, float64 sums of these values in different orders differ somewhere.
  const plain = (items: Item[]) => {
    const s = new Float64Array(SIZE * SIZE);
    for (const it of items) for (let i = 0; i < s.length; i++) s[i] = s[i]! + it.cis.map[i]!;
    return s;
  };
  assert.not.ok(bytes(plain(data)).equals(bytes(plain(shuffled(data, 7)))), 'plain float64 sums should depend on order');
  const acc = run(data);
  assert.is(acc.images, COUNT);
  assert.equal([...acc.ids], data.map((d) => d.id));
  let partial = 0;
  for (const c of acc.coverage) if (c < COUNT) partial++;
  assert.ok(partial > 0, 'some pixels should be covered by only some images');
  for (const s of acc.sum) assert.ok(Number.isInteger(s * CMS_SCALE), 'sums are multiples of 2^-24');
});

test('(a) adding in shuffled order gives identical sum bytes', () => {
  const a = run(data);
  for (const seed of [1, 2, 3]) {
    const b = run(shuffled(data, seed));
    sameBytes(a.sum, b.sum, `sum, shuffle ${seed}`);
    sameBytes(a.coverage, b.coverage, `coverage, shuffle ${seed}`);
    sameBytes(a.mean(), b.mean(), `mean, shuffle ${seed}`);
    assert.is(a.bound, b.bound);
  }
});

test('(b) three shards merged equal one accumulator, bit for bit', () => {
  const whole = run(data);
  const order = shuffled(data, 99);
  const s1 = run(order.slice(0, 5));
  const s2 = run(order.slice(5, 13));
  const s3 = run(order.slice(13));
  const merged = s1.merge(s3).merge(s2);
  assert.is(merged, s1);
  assert.is(merged.images, COUNT);
  sameBytes(whole.sum, merged.sum, 'sum');
  sameBytes(whole.coverage, merged.coverage, 'coverage');
  sameBytes(whole.mean(), merged.mean(), 'mean');
  sameBytes(whole.meanCovered(), merged.meanCovered(), 'meanCovered');
  assert.is(merged.bound, whole.bound);
  assert.equal([...merged.ids].sort(), [...whole.ids].sort());
  // merge appends nothing to the convergence curve; s3 and s2 are unchanged
  assert.is(merged.convergence.length, 5);
  assert.is(s3.images, COUNT - 13);
  // another grouping: (s2' ⊕ s3') ⊕ s1'
  const t = run(order.slice(5, 13)).merge(run(order.slice(13))).merge(run(order.slice(0, 5)));
  sameBytes(whole.sum, t.sum, 'sum, other grouping');
});

test('(c) save after 7 images, load, continue: identical to an uninterrupted run', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-cms-'));
  try {
    const whole = run(data);
    const first = run(data.slice(0, 7));
    await saveAccumulator(dir, first, { model: 'test', next: 7 });
    assert.equal((await readdir(dir)).sort(), checkpointFiles(dir), 'no temp files left');
    const { acc, extra } = await loadAccumulator(dir);
    assert.equal(extra, { model: 'test', next: 7 });
    assert.is(acc.images, 7);
    for (const it of data.slice(7)) acc.add(it.cis, it.id);
    sameBytes(whole.sum, acc.sum, 'sum');
    sameBytes(whole.coverage, acc.coverage, 'coverage');
    sameBytes(whole.mean(), acc.mean(), 'mean');
    sameBytes(whole.mean64(), acc.mean64(), 'mean64');
    assert.equal([...acc.ids], [...whole.ids]);
    assert.equal(acc.convergence, whole.convergence, 'convergence curve');
    assert.is(acc.bound, whole.bound);
    // saving the resumed run gives the same files as saving the uninterrupted one
    const dir2 = join(dir, 'b');
    const dir3 = join(dir, 'c');
    await saveAccumulator(dir2, acc, {});
    await saveAccumulator(dir3, whole, {});
    assert.equal(checkpointFiles(dir2), checkpointFiles(dir3), 'the same array names (named by content)');
    for (const f of checkpointFiles(dir2)) {
      assert.ok((await readFile(join(dir2, f))).equals(await readFile(join(dir3, f))), f);
    }
    // overwriting an existing checkpoint works
    await saveAccumulator(dir, whole, { next: 20 });
    assert.is((await loadAccumulator(dir)).acc.images, COUNT);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('(d) mean: equals the float64 mean of the quantised maps, and the plain mean within 2^-24', () => {
  const acc = run(data);
  const m64 = acc.mean64();
  const m32 = acc.mean();
  const q = new Float64Array(SIZE * SIZE);
  const p = new Float64Array(SIZE * SIZE);
  for (const it of data) {
    for (let i = 0; i < q.length; i++) {
      q[i] = q[i]! + quantiseCms(it.cis.map[i]!);
      p[i] = p[i]! + it.cis.map[i]!;
    }
  }
  let maxQ = 0;
  let maxP = 0;
  for (let i = 0; i < q.length; i++) {
    maxQ = Math.max(maxQ, Math.abs(m64[i]! - q[i]! / COUNT));
    maxP = Math.max(maxP, Math.abs(m64[i]! - p[i]! / COUNT));
    assert.is(m32[i], Math.fround(m64[i]!));
  }
  assert.ok(maxQ <= 1e-12, `quantised mean error ${maxQ}`);
  assert.ok(maxP <= 2 ** -24, `plain mean error ${maxP}`);
  assert.ok(maxP > 0, 'quantisation should change something');
  // meanCovered: sum / coverage
  const mc = acc.meanCovered64();
  for (let i = 0; i < q.length; i++) {
    const c = acc.coverage[i]!;
    assert.is(mc[i], c > 0 ? acc.sum[i]! / c : 0);
  }
  // empty accumulator: zeros
  const empty = new CmsAccumulator(4);
  assert.equal([...empty.mean()], new Array(16).fill(0));
  assert.equal([...empty.meanCovered()], new Array(16).fill(0));
});

test('(e) a NaN or infinite map value is an error naming the image, and changes nothing', () => {
  const acc = run(data.slice(0, 3));
  const before = acc.sum.slice();
  const map = data[3]!.cis.map.slice();
  map[100] = NaN;
  throwsCsm(() => acc.add({ map, count: data[3]!.cis.count }, 'bad-face.png'), /bad-face\.png.*non-finite.*NaN/, 'NaN');
  map[100] = Infinity;
  throwsCsm(() => acc.add({ map, count: data[3]!.cis.count }, 'inf.png'), /inf\.png.*Infinity/, 'Infinity');
  sameBytes(before, acc.sum, 'unchanged');
  assert.is(acc.images, 3);
  assert.is(acc.convergence.length, 3);
  assert.not.ok(acc.ids.includes('bad-face.png'));
  // the same id can then be added with a good map
  acc.add(data[3]!.cis, 'bad-face.png');
  assert.is(acc.images, 4);
});

test('other add errors: duplicate id, wrong length, value where count is 0, magnitude limit', () => {
  const acc = run(data.slice(0, 2));
  throwsCsm(() => acc.add(data[5]!.cis, data[0]!.id), /img-000\.jpg.*already added/, 'duplicate id');
  throwsCsm(() => acc.add({ map: new Float32Array(10), count: new Uint32Array(10) }, 'x'), /"x".*4096/, 'length');
  const map = new Float32Array(SIZE * SIZE);
  map[0] = 1;
  throwsCsm(() => acc.add({ map, count: new Uint32Array(SIZE * SIZE) }, 'nocount'), /nocount.*count is 0/, 'count 0');

  // the limit: max|v| × images < 2^29
  const small = new CmsAccumulator(2);
  const count = new Uint32Array(4).fill(1);
  const big = new Float32Array([2 ** 28, 0, -1, 0]);
  small.add({ map: big, count }, 'a');
  throwsCsm(() => small.add({ map: big, count }, 'b'), /"b".*2\^29/, 'limit on add');
  assert.is(small.images, 1);
  throwsCsm(() => new CmsAccumulator(2).add({ map: new Float32Array([2 ** 29, 0, 0, 0]), count }, 'c'), /"c".*2\^29/, 'one huge value');
  const other = new CmsAccumulator(2);
  other.add({ map: big, count }, 'd');
  throwsCsm(() => small.merge(other), /2\^29/, 'limit on merge');
  assert.is(small.images, 1);
  assert.ok(CMS_MAX_MAGNITUDE === 2 ** 29);
});

test('(f) merging accumulators that share an id is an error naming it, and changes nothing', () => {
  const a = run(data.slice(0, 8));
  const b = run(data.slice(6, 12));
  const before = a.sum.slice();
  throwsCsm(() => a.merge(b), /img-006\.jpg.*both/, 'shared id');
  sameBytes(before, a.sum, 'unchanged');
  assert.is(a.images, 8);
  throwsCsm(() => a.merge(new CmsAccumulator(32)), /32×32.*64×64/, 'size mismatch');
  throwsCsm(() => a.merge(a), /image|itself/, 'self');
});

test('(g) a corrupted or torn checkpoint fails to load, naming the file and the hash', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'csm-cms-'));
  try {
    const acc = run(data.slice(0, 7));
    await saveAccumulator(dir, acc, {});
    const sumPath = arrayPath(dir, 'cms-sum.npy');
    const good = await readFile(sumPath);
    const bad = Buffer.from(good);
    bad[good.length - 100] = bad[good.length - 100]! ^ 0x01;
    await writeFile(sumPath, bad);
    await rejectsWith(loadAccumulator(dir), [/cms-sum\.[0-9a-f]{16}\.npy/, /hash mismatch/], 'corrupt byte');

    // torn: a newer coverage file with the older state/sum
    await writeFile(sumPath, good);
    const dir2 = join(dir, 'newer');
    await saveAccumulator(dir2, run(data.slice(0, 9)), {});
    await writeFile(arrayPath(dir, 'cms-coverage.npy'), await readFile(arrayPath(dir2, 'cms-coverage.npy')));
    await rejectsWith(loadAccumulator(dir), [/cms-coverage\.[0-9a-f]{16}\.npy/, /hash mismatch/], 'torn');

    // missing file
    await rm(arrayPath(dir, 'cms-coverage.npy'));
    await rejectsWith(loadAccumulator(dir), [/cms-coverage\.[0-9a-f]{16}\.npy/, /missing/], 'missing npy');
    await rejectsWith(loadAccumulator(join(dir, 'nowhere')), [/cms-state\.json/, /missing/], 'missing state');

    // bad version; any edit of the state breaks its integrity hash
    const state = JSON.parse(await readFile(join(dir2, 'cms-state.json'), 'utf8'));
    await writeFile(join(dir2, 'cms-state.json'), JSON.stringify({ ...state, version: 99 }));
    await rejectsWith(loadAccumulator(dir2), [/cms-state\.json/, /version 99/], 'version');
    await writeFile(join(dir2, 'cms-state.json'), JSON.stringify({ ...state, version: 1 }));
    await rejectsWith(loadAccumulator(dir2), [/cms-state\.json/, /version 1 checkpoint.*older csm.*start a new run/], 'old version');
    await writeFile(join(dir2, 'cms-state.json'), JSON.stringify({ ...state, images: 8 }));
    await rejectsWith(loadAccumulator(dir2), [/cms-state\.json/, /do not match its integrity hash/, /edited or corrupted/], 'edited images');
    await writeFile(join(dir2, 'cms-state.json'), JSON.stringify({ ...state, extra: { next: 3 } }));
    await rejectsWith(loadAccumulator(dir2), [/cms-state\.json/, /integrity hash/], 'edited extra');
    const { stateSha256: _, ...unsealed } = state;
    await writeFile(join(dir2, 'cms-state.json'), JSON.stringify(unsealed));
    await rejectsWith(loadAccumulator(dir2), [/cms-state\.json/, /no stateSha256/], 'hash removed');
    // re-sealed edits (a forger recomputing the hash) still meet the structural checks
    const reseal = (o: Record<string, unknown>): string => JSON.stringify({ ...o, stateSha256: checkpointStateSha256(o) });
    await writeFile(join(dir2, 'cms-state.json'), reseal({ ...state, size: 32 }));
    await rejectsWith(loadAccumulator(dir2), [/cms-sum\.[0-9a-f]{16}\.npy/, /size mismatch/], 'size');
    await writeFile(join(dir2, 'cms-state.json'), reseal({ ...state, images: 8 }));
    await rejectsWith(loadAccumulator(dir2), [/cms-state\.json/, /ids/], 'images vs ids');
    // the hash does not depend on key order or spacing, only on the contents
    const reordered = Object.fromEntries(Object.entries(state).reverse());
    await writeFile(join(dir2, 'cms-state.json'), JSON.stringify(reordered));
    assert.is((await loadAccumulator(dir2)).acc.images, 9, 'same contents, other key order');
    await writeFile(join(dir2, 'cms-state.json'), '{ not json');
    await rejectsWith(loadAccumulator(dir2), [/cms-state\.json/, /JSON/], 'bad json');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('(h) the convergence curve has one point per image, and its change shrinks for i.i.d. maps', () => {
  const acc = run(data);
  const curve = acc.convergence;
  assert.is(curve.length, COUNT);
  curve.forEach((p, k) => assert.is(p.images, k + 1));
  assert.is(curve[0]!.change, 1);
  const avg = (xs: readonly { change: number }[]) => xs.reduce((s, p) => s + p.change, 0) / xs.length;
  const first = avg(curve.slice(0, 5));
  const last = avg(curve.slice(-5));
  assert.ok(last < first, `mean change of last 5 (${last}) should be below first 5 (${first})`);
  for (const p of curve) assert.ok(Number.isFinite(p.change) && p.change >= 0);
  // a direct check of one point: ‖m_k − m_{k−1}‖ / ‖m_k‖ at k = 10
  const m9 = run(data.slice(0, 9)).mean64();
  const m10 = run(data.slice(0, 10)).mean64();
  let d = 0;
  let n = 0;
  for (let i = 0; i < m9.length; i++) {
    d += (m10[i]! - m9[i]!) ** 2;
    n += m10[i]! ** 2;
  }
  assert.ok(Math.abs(curve[9]!.change - Math.sqrt(d / n)) < 1e-12);
  // all-zero maps: change 0
  const z = new CmsAccumulator(4);
  z.add({ map: new Float32Array(16), count: new Uint32Array(16) }, 'zero');
  assert.is(z.convergence[0]!.change, 0);
});

test.run();
