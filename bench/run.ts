/**
 * Benchmarks (not tests): run with `npm run bench [-- --engines cpu,webgpu --images N --models a,b]`.
 *
 * (a) Occlusion cost vs stride: for canonical grid spacings giving ~2,000 down to ~100 occlusion
 *     points, the forward passes and seconds per image, and how well each map agrees with the
 *     densest one (Pearson correlation over face pixels).
 * (b) Engine overhead: the time of the whole CIS loop (build occluded batches, score, accumulate)
 *     against pure batched inference of the same number of forward passes on the same session and
 *     batch size. Target: ≤ 10 % on the CPU engine.
 * Results: bench/results/<engine>-<host>.json and .md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { computeCis, DEFAULT_EXPLAIN, Explainer, openEngine, pearsonMasked, resolveModel, versions, type EngineSession, type PreparedImage } from '../src/index.js';
import { celebaImages } from '../test/helpers/data.js';
import { REPO_ROOT } from '../scripts/paths.js';

const { values } = parseArgs({ options: { engines: { type: 'string' }, images: { type: 'string' }, models: { type: 'string' }, strides: { type: 'string' }, 'overhead-stride': { type: 'string' }, tag: { type: 'string' } } });
const engines = (values.engines ?? 'cpu').split(',');
const models = (values.models ?? 'emotion,gender').split(',');
const strides = (values.strides ?? '4,5,6,8,11,16,18').split(',').map(Number);
const imageCount = Number(values.images ?? 4);
const overheadStride = Number(values['overhead-stride'] ?? DEFAULT_EXPLAIN.stride);
const photos = celebaImages()?.slice(0, imageCount);
if (!photos) throw new Error('bench needs ../shared/data/csm-celeba100 (or CSM_TEST_DATA)');

interface StrideRow { model: string; stride: number; points: number; forwardPasses: number; secondsPerImage: number; correlationWithDensest: number }
interface OverheadRow { model: string; stride: number; batch: number; forwardPasses: number; cisSeconds: number; inferenceSeconds: number; overheadPercent: number; passesPerSecond: number }

async function benchEngine(engine: string): Promise<{ stride: StrideRow[]; overhead: OverheadRow[]; adapter: string }> {
  const stride: StrideRow[] = [];
  const overhead: OverheadRow[] = [];
  let adapter = engine;
  for (const name of models) {
    const model = await resolveModel(name);
    const session: EngineSession = await openEngine(engine, model);
    adapter = session.engine;
    // Warm-up: the first runs of a session pay for kernel selection and allocations.
    {
      const ex = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: 8 });
      const p = await ex.prepare(photos![0]!);
      await computeCis(session, { input: p.tensor, plan: ex.plan(p), score: (await ex.predict(p)).score });
      await ex.dispose();
    }
    // (a) cost vs stride; the densest map is the reference.
    const maps = new Map<number, { map: Float32Array; count: Uint32Array }[]>();
    for (const s of [...strides].sort((x, y) => x - y)) {
      const ex = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: s });
      const prepared: PreparedImage[] = [];
      for (const f of photos!) prepared.push(await ex.prepare(f));
      let seconds = 0;
      let points = 0;
      const list: { map: Float32Array; count: Uint32Array }[] = [];
      for (const p of prepared) {
        const plan = ex.plan(p);
        const { score } = await ex.predict(p);
        const t0 = performance.now();
        const cis = await computeCis(session, { input: p.tensor, plan, score });
        seconds += (performance.now() - t0) / 1000;
        points += plan.count;
        list.push({ map: cis.map, count: cis.count });
      }
      maps.set(s, list);
      const dense = maps.get(Math.min(...strides))!;
      const corr = list.reduce((acc, m, k) => acc + pearsonMasked(m.map, dense[k]!.map, (q) => m.count[q]! > 0 && dense[k]!.count[q]! > 0), 0) / list.length;
      stride.push({ model: name, stride: s, points: Math.round(points / list.length), forwardPasses: Math.round(points / list.length) + 1, secondsPerImage: seconds / list.length, correlationWithDensest: corr });
      console.log(`[${engine}] ${name} stride ${s}: ${Math.round(points / list.length)} points, ${(seconds / list.length).toFixed(3)} s/image, r = ${corr.toFixed(3)}`);
      await ex.dispose();
    }
    // (b) overhead against the same passes as plain inference.
    const ex = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: overheadStride });
    const p = await ex.prepare(photos![0]!);
    const plan = ex.plan(p);
    const { score } = await ex.predict(p);
    await computeCis(session, { input: p.tensor, plan, score }); // warm-up
    const B = session.batch;
    const rounds = 3;
    let cisSeconds = Infinity;
    let inferenceSeconds = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      await computeCis(session, { input: p.tensor, plan, score });
      cisSeconds = Math.min(cisSeconds, (performance.now() - t0) / 1000);
      // The same forward passes: 1 baseline + plan.count occluded copies in batches of B, fed the
      // way the engine feeds them (device-resident on the GPU), with nothing else.
      const batches = [1, ...Array.from({ length: Math.ceil(plan.count / B) }, (_, k) => Math.min(B, plan.count - k * B))];
      const pure = await session.timeInference(p.tensor, batches, score.output);
      inferenceSeconds = Math.min(inferenceSeconds, pure);
    }
    const row = { model: name, stride: overheadStride, batch: B, forwardPasses: plan.count + 1, cisSeconds, inferenceSeconds, overheadPercent: 100 * (cisSeconds / inferenceSeconds - 1), passesPerSecond: (plan.count + 1) / cisSeconds };
    overhead.push(row);
    console.log(`[${engine}] ${name} overhead: CIS ${cisSeconds.toFixed(3)} s vs inference ${inferenceSeconds.toFixed(3)} s → ${row.overheadPercent.toFixed(1)} % (batch ${B}, ${row.forwardPasses} passes)`);
    await ex.dispose();
    await session.dispose();
  }
  return { stride, overhead, adapter };
}

const host = values.tag ?? hostname().replace(/[^a-zA-Z0-9_-]/g, '').slice(0, 24);
mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
for (const engine of engines) {
  const t0 = performance.now();
  const r = await benchEngine(engine);
  const result = {
    engine, adapter: r.adapter, date: new Date().toISOString(), machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?' },
    images: photos.length, models, versions: versions(), costVsStride: r.stride, overhead: r.overhead, seconds: (performance.now() - t0) / 1000,
  };
  const base = join(REPO_ROOT, 'bench', 'results', `${engine}-${host}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    `# ${engine} engine (${r.adapter}) on ${result.machine.cpus} × ${result.machine.cpu}, ${result.date.slice(0, 10)}`,
    '', `## Occlusion cost vs stride (${photos.length} csm-celeba100 images, canonical size 256)`, '',
    '| model | stride | points | forward passes | s / image | r with densest |', '|---|---:|---:|---:|---:|---:|',
    ...r.stride.map((s) => `| ${s.model} | ${s.stride} | ${s.points} | ${s.forwardPasses} | ${s.secondsPerImage.toFixed(3)} | ${s.correlationWithDensest.toFixed(3)} |`),
    '', '## Engine overhead vs pure batched inference (same session, batch and number of passes; best of 3)', '',
    '| model | stride | batch | passes | CIS loop s | inference s | overhead | passes / s |', '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...r.overhead.map((o) => `| ${o.model} | ${o.stride} | ${o.batch} | ${o.forwardPasses} | ${o.cisSeconds.toFixed(3)} | ${o.inferenceSeconds.toFixed(3)} | ${o.overheadPercent.toFixed(1)} % | ${o.passesPerSecond.toFixed(0)} |`),
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  console.log(`wrote ${base}.json and .md`);
}
