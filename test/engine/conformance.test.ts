/**
 * The engine conformance suite: one set of cases that every registered engine must pass (a new
 * engine is one folder plus one registry line, and this file tests it with no change):
 * - Algorithm 1 on a hand-computed linear model, at several batch sizes;
 * - every score kind (index, softmax, log, one-minus, sigmoid-logit, cosine-max, pair) against
 *   the CPU twins of the kernels (buildOccludedBatch → infer → scoreRow → accumulateCis);
 * - CIS and CMS on real photos against the CPU reference engine, with I built from the photo;
 * - identity: verification pairs (Eq. 8) and zero-shot (Eq. 7) on a real descriptor model;
 * - the detector and mesh network run on the engine under test;
 * - NaN scores, bad requests and a released session give clear errors (a FatalError for the
 *   session, so that a batch run stops instead of skipping every later image). Device loss is
 *   WebGPU-specific and tested in a child process (gpu-lost.test.ts).
 * Engines that cannot start here (no GPU adapter) print a SKIP line; in CI that fails instead.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  computeCis, CsmError, DEFAULT_EXPLAIN, engineNames, Explainer, FatalError, invertAffine, ModelError, openEngine,
  resolveModel, runCms, scoreRow, type EngineSession, type ResolvedModel, type ScoreSpec,
} from '../../src/index.js';
import { buildOccludedBatch } from '../../src/engine/cpu/occlude.js';
import { accumulateCis } from '../../src/saliency/cis.js';
import { buildPlan } from '../../src/saliency/plan.js';
import { evaluatePairScores } from '../../src/saliency/score.js';
import { GpuUnavailableError } from '../../src/engine/webgpu/runtime.js';
import { celebaImages, skip } from '../helpers/data.js';
import { mulberry32 } from '../helpers/random.js';
import { CORR, EMB, H, IMAGE, IMAGE2, LINEAR, TINY_SPEC, tinyModelBytes, W } from '../helpers/tiny-model.js';

const rand = mulberry32(11);

const FILL = 20;
const PLAN = buildPlan({ correspondence: CORR, input: TINY_SPEC.input, patch: 3, fill: Float32Array.of(FILL), fillKind: 'black' });
const LAYOUT = { layout: 'NCHW' as const, channels: 1, width: W, height: H };

let tinyPath: string | undefined;
async function tinyModelFile(): Promise<ResolvedModel> {
  if (!tinyPath) {
    tinyPath = join(mkdtempSync(join(tmpdir(), 'csm-conformance-')), 'tiny.onnx');
    writeFileSync(tinyPath, tinyModelBytes());
  }
  return resolveModel(tinyPath, TINY_SPEC);
}

/** Opens a model on `engine`, or returns the reason it cannot start here. */
async function tryOpen(engine: string, model: ResolvedModel, batch?: number): Promise<EngineSession | string> {
  try {
    return await openEngine(engine, model, batch ? { batch } : {});
  } catch (e) {
    if (e instanceof GpuUnavailableError) return e.message;
    throw e;
  }
}

function relativeLinf(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let max = 0;
  for (let p = 0; p < a.length; p++) { diff = Math.max(diff, Math.abs(a[p]! - b[p]!)); max = Math.max(max, Math.abs(a[p]!)); }
  return diff / (max || 1);
}

/**
 * The CPU twins end to end: occluded copies built one by one, run through `reference` (the CPU
 * engine's plain inference), scored with scoreRow / evaluatePairScores, painted with accumulateCis.
 */
async function twinCis(reference: EngineSession, score: ScoreSpec, pair: boolean): Promise<{ map: Float32Array; drops: Float32Array; baseline: number }> {
  const per = W * H;
  const run = async (input: Float32Array, first: number, rows: number): Promise<Float32Array> => {
    const batch = first < 0 ? input : buildOccludedBatch(input, PLAN, first, rows, LAYOUT, new Float32Array(rows * per));
    return (await reference.infer(batch, first < 0 ? 1 : rows, [score.output]))[score.output]!;
  };
  const phi = async (first: number, rows: number): Promise<Float64Array> => {
    const a = await run(IMAGE, first, rows);
    if (pair) return evaluatePairScores(score, a, await run(IMAGE2, first, rows), rows);
    const width = a.length / rows;
    return Float64Array.from({ length: rows }, (_, r) => scoreRow(score, a.subarray(r * width, (r + 1) * width)));
  };
  const baseline = (await phi(-1, 1))[0]!;
  const values = await phi(0, PLAN.count);
  const drops = Float32Array.from(values, (v) => baseline - v);
  return { map: accumulateCis(PLAN, drops, baseline).map, drops, baseline };
}

const SCORES: { name: string; score: ScoreSpec; pair?: boolean }[] = [
  { name: 'index (a logit)', score: { output: 'logits', kind: 'index', index: 2 } },
  { name: 'softmax of logits', score: { output: 'logits', kind: 'softmax', index: 1 } },
  { name: 'log of a probability', score: { output: 'p', kind: 'log', index: 3 } },
  { name: 'one-minus (sigmoid, negative class)', score: { output: 'sig', kind: 'one-minus', index: 0 } },
  { name: 'sigmoid-logit, negative class', score: { output: 'sig', kind: 'sigmoid-logit', index: 0, sign: -1 } },
  { name: 'cosine-max over 3 references (Eq. 7)', score: { output: 'logits', kind: 'cosine-max', index: 0, references: [0, 1, 2].map(() => Float32Array.from({ length: EMB }, () => rand() - 0.5)) } },
  { name: 'verification pair, impostor (Eq. 8)', score: { output: 'logits', kind: 'cosine-max', index: 0, pair: { c: -1, tau: 0.3 } }, pair: true },
];

const PHOTOS = celebaImages()?.slice(0, 3);
const PHOTO_OPTIONS = { ...DEFAULT_EXPLAIN, stride: 12, canonicalSize: 128 };
/** Whole maps against the CPU engine: relative L∞ (measured on lavapipe: ~2e-6). */
const MAP_BOUND = 1e-4;

for (const engine of engineNames()) {
  const s = suite(`engine "${engine}"`);
  const ctx: { tiny?: ResolvedModel; session?: EngineSession; reference?: EngineSession } = {};
  // Opened by the first case rather than in a `before` hook: uvu hides errors thrown by hooks.
  let opening: Promise<void> | undefined;
  const ready = async (): Promise<boolean> => {
    opening ??= (async () => {
      ctx.tiny = await tinyModelFile();
      const opened = await tryOpen(engine, ctx.tiny, 3);
      if (typeof opened === 'string') return skip(`engine conformance (${engine})`, opened);
      ctx.session = opened;
      ctx.reference = await openEngine('cpu', ctx.tiny);
    })();
    await opening;
    return Boolean(ctx.session);
  };
  s.after(async () => { await ctx.session?.dispose(); await ctx.reference?.dispose(); });

  s('Algorithm 1 on a hand-computed linear model, at batch 1, 3 and 64', async () => {
    if (!(await ready())) return;
    const base = LINEAR.reduce((a, w, p) => a + w * IMAGE[p]!, 0);
    const drops: number[] = [];
    for (let n = 0; n < PLAN.count; n++) {
      const [x0, y0, x1, y1] = Array.from(PLAN.inputRects.subarray(4 * n, 4 * n + 4));
      let d = 0;
      for (let y = y0!; y < y1!; y++) for (let x = x0!; x < x1!; x++) d += LINEAR[y * W + x]! * (IMAGE[y * W + x]! - FILL);
      drops.push(d);
    }
    for (const batch of [1, 3, 64]) {
      const session: EngineSession = batch === 3 ? ctx.session! : await ctx.session!.openModel(ctx.tiny!, { batch });
      const cis = await computeCis(session, { input: IMAGE, plan: PLAN, score: { output: 'score', kind: 'index', index: 0 } });
      if (session !== ctx.session!) await session.dispose();
      assert.ok(Math.abs(cis.baseline - base) <= 1e-6 * base, `batch ${batch}: baseline ${cis.baseline} vs ${base}`);
      drops.forEach((d, n) => assert.ok(Math.abs(cis.drops[n]! - d) <= 1e-6 * base, `batch ${batch}, drop ${n}: ${cis.drops[n]} vs ${d}`));
      for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
        const covering = drops.filter((_, n) => {
          const [cx0, cy0, cx1, cy1] = Array.from(PLAN.canonicalRects.subarray(4 * n, 4 * n + 4));
          return x >= cx0! && x < cx1! && y >= cy0! && y < cy1!;
        });
        const want = covering.length ? covering.reduce((a, b) => a + b, 0) / covering.length : 0;
        assert.is(cis.count[y * 16 + x], covering.length, `count at (${x}, ${y})`);
        assert.ok(Math.abs(cis.map[y * 16 + x]! - want) <= 1e-6 * base, `batch ${batch}, pixel (${x}, ${y}): ${cis.map[y * 16 + x]} vs ${want}`);
      }
    }
  });

  for (const { name, score, pair } of SCORES) {
    s(`score kind: ${name} equals the CPU twins`, async () => {
      if (!(await ready())) return;
      const want = await twinCis(ctx.reference!, score, Boolean(pair));
      const got = await computeCis(ctx.session!, { input: IMAGE, plan: PLAN, score, ...(pair ? { pair: { input: IMAGE2, plan: PLAN } } : {}) });
      assert.ok(Math.abs(got.baseline - want.baseline) <= 1e-5 * Math.max(1, Math.abs(want.baseline)), `baseline ${got.baseline} vs ${want.baseline}`);
      const scale = Math.max(1e-3, ...Array.from(want.drops, Math.abs));
      for (let n = 0; n < PLAN.count; n++) assert.ok(Math.abs(got.drops[n]! - want.drops[n]!) <= 1e-4 * scale, `drop ${n}: ${got.drops[n]} vs ${want.drops[n]}`);
      for (let p = 0; p < got.map.length; p++) assert.ok(Math.abs(got.map[p]! - want.map[p]!) <= 1e-4 * scale, `pixel ${p}: ${got.map[p]} vs ${want.map[p]}`);
    });
  }

  s('a NaN score is a ModelError that names the output', async () => {
    if (!(await ready())) return;
    const e = await computeCis(ctx.session!, { input: IMAGE, plan: PLAN, score: { output: 'nan', kind: 'index', index: 0 } }).catch((x: unknown) => x);
    assert.instance(e, ModelError);
    assert.match((e as Error).message, /non-finite score .*"nan"/);
  });

  s('bad requests are refused before any work', async () => {
    if (!(await ready())) return;
    const score: ScoreSpec = { output: 'score', kind: 'index', index: 0 };
    const short = await computeCis(ctx.session!, { input: IMAGE.subarray(1), plan: PLAN, score }).catch((x: unknown) => x);
    assert.instance(short, CsmError);
    assert.match((short as Error).message, /63 values; the model takes 64/);
    const otherPlan = buildPlan({ correspondence: { ...CORR, count: 2 }, input: TINY_SPEC.input, patch: 3, fill: Float32Array.of(FILL), fillKind: 'black' });
    const pairScore: ScoreSpec = { output: 'logits', kind: 'cosine-max', index: 0, pair: { c: 1, tau: 0 } };
    const mismatch = await computeCis(ctx.session!, { input: IMAGE, plan: PLAN, score: pairScore, pair: { input: IMAGE2, plan: otherPlan } }).catch((x: unknown) => x);
    assert.match((mismatch as Error).message, /same canonical points/);
  });

  s('CIS and CMS on real photos equal the CPU engine; detector and mesh run on this engine', async () => {
    if (!(await ready())) return;
    if (!PHOTOS) return skip(`real photos (${engine})`, 'csm-celeba100 is absent');
    const model = await resolveModel('emotion');
    const [session, reference] = [await openEngine(engine, model, { batch: 16 }), await openEngine('cpu', model)];
    const [ex, ref] = [await Explainer.create(model.spec, session, PHOTO_OPTIONS), await Explainer.create(model.spec, reference, PHOTO_OPTIONS)];
    assert.equal(ex.engines, { model: session.engine, detector: session.engine, mesh: session.engine });
    const p = await ref.prepare(PHOTOS[0]!);
    const plan = ref.plan(p);
    const { score } = await ref.predict(p);
    const want = await computeCis(reference, { input: p.tensor, plan, score });
    // Given the photo too, an engine may build I itself from it (the WebGPU engine does).
    const got = await computeCis(session, { input: p.tensor, plan, score, source: { photo: p.photo, toSource: invertAffine(p.toInput) } });
    const given = await computeCis(session, { input: p.tensor, plan, score });
    for (const [what, cis] of [['from the photo', got], ['from the tensor', given]] as const) {
      const e = relativeLinf(want.map, cis.map);
      console.log(`    ${session.engine}: CIS ${what} vs CPU, relative L∞ ${e.toExponential(2)} (${plan.count} occlusions)`);
      assert.ok(e <= MAP_BOUND, `${what}: relative L∞ ${e} > ${MAP_BOUND}`);
      assert.equal(Array.from(cis.count), Array.from(want.count));
    }
    const maps: Float32Array[] = [];
    for (const x of [ex, ref]) {
      const r = await runCms(PHOTOS, (f) => x.cis(f), x.canonicalSize, { checkpointDir: join(mkdtempSync(join(tmpdir(), 'csm-conf-')), 'ckpt'), checkpointEvery: 0, resume: false, fingerprint: {} });
      assert.is(r.acc.images, PHOTOS.length, JSON.stringify(r.skipped));
      maps.push(r.acc.mean());
    }
    const e = relativeLinf(maps[1]!, maps[0]!);
    console.log(`    ${session.engine}: CMS over ${PHOTOS.length} photos vs CPU, relative L∞ ${e.toExponential(2)}`);
    assert.ok(e <= MAP_BOUND, `CMS relative L∞ ${e} > ${MAP_BOUND}`);
    await ex.dispose();
    await ref.dispose();
    await session.dispose();
    await reference.dispose();
  });

  s('identity: a verification pair (Eq. 8) and zero-shot (Eq. 7) equal the CPU engine', async () => {
    if (!(await ready())) return;
    if (!PHOTOS) return skip(`identity (${engine})`, 'csm-celeba100 is absent');
    const model = await resolveModel('mobileface');
    const session: EngineSession = await openEngine(engine, model, { batch: 16 });
    const reference: EngineSession = await openEngine('cpu', model);
    const options = { ...PHOTO_OPTIONS, stride: 16 };
    const [ex, ref] = [await Explainer.create(model.spec, session, options), await Explainer.create(model.spec, reference, options)];
    const a = await ex.cisPair(PHOTOS[0]!, PHOTOS[1]!, false, 0.4);
    const b = await ref.cisPair(PHOTOS[0]!, PHOTOS[1]!, false, 0.4);
    const references = [await ref.embed(await ref.prepare(PHOTOS[2]!))];
    const c = await ex.cisZeroShot(PHOTOS[0]!, references, 'someone');
    const d = await ref.cisZeroShot(PHOTOS[0]!, references, 'someone');
    for (const [what, got, want] of [['pair', a.cis, b.cis], ['zero-shot', c.cis, d.cis]] as const) {
      assert.ok(Math.abs(got.baseline - want.baseline) <= 1e-4, `${what}: φ(I) ${got.baseline} vs ${want.baseline}`);
      const e = relativeLinf(want.map, got.map);
      console.log(`    ${session.engine}: ${what} CIS vs CPU, relative L∞ ${e.toExponential(2)}`);
      assert.ok(e <= 1e-3, `${what}: relative L∞ ${e}`);
    }
    await ex.dispose();
    await ref.dispose();
    await session.dispose();
    await reference.dispose();
  });

  s('a released session is a FatalError: a batch run stops instead of skipping every image', async () => {
    if (!(await ready())) return;
    const session = await ctx.session!.openModel(ctx.tiny!);
    await session.dispose();
    const e = await computeCis(session, { input: IMAGE, plan: PLAN, score: { output: 'score', kind: 'index', index: 0 } }).catch((x: unknown) => x);
    assert.instance(e, FatalError);
    assert.match((e as Error).message, /released/);
    const inf = await session.infer(IMAGE, 1, ['score']).catch((x: unknown) => x);
    assert.instance(inf, FatalError);
  });

  s.run();
}
