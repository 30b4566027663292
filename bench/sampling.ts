/**
 * Benchmark (not a test) for issue 14, "fewer forward passes for the same map": CMS quality
 * against total forward passes, for grid sampling at several strides and for stratified sampling
 * at several k. Run: `npm run build && node dist/bench/sampling.js [--images N --models a,b
 * --strides 4,6,8,11,16 --keeps 2,4,8,16 --max-seconds S --tag NAME]`.
 *
 * The reference is the dense CMS (stride 4, every point; sum / images as csm cms writes it).
 * Grid strides are real runs (their points are not a subset of stride 4's). Stratified runs are
 * simulated EXACTLY from the dense run: an occlusion's drop does not depend on which other points
 * are occluded (each forward pass occludes one patch), so an image's stratified CIS is
 * accumulateCis over the dense plan's points of its stratum with their dense drops — the same
 * plan (pointStrata with the stride as spacing, the stratum of the item's file name) that
 * `--sampling stratified` builds, hence the same map bytes a real stratified run would give.
 *
 * Reported per configuration: forward passes (per image, and in total incl. the unoccluded pass),
 * Pearson r of the CMS with the dense CMS over the face (pixels the dense CMS covers), and the mean
 * per-image CIS r with the dense CIS with a 95 % bootstrap interval over images.
 * `--adaptive B1,B2,…` adds adaptive sampling (sampling.ts adaptiveSample) at budgets of B points
 * per image, simulated from the dense drops in the same exact way.
 * Results: bench/results/sampling-<tag>.json, .md and .png (r against passes per image).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  accumulateCis, adaptiveSample, CmsAccumulator, computeCis, DEFAULT_EXPLAIN, Explainer, imageStratum, lineChart, openEngine, pearsonMasked, pointStrata, resolveModel, rgbaPng,
  stratumIndices, stratumKey, subPlan, versions, type CisMap, type EngineSession,
} from '../src/index.js';
import { celebaImages } from '../test/helpers/data.js';
import { mulberry32 } from '../test/helpers/random.js';
import { REPO_ROOT } from '../scripts/paths.js';

const { values } = parseArgs({ options: { images: { type: 'string' }, models: { type: 'string' }, strides: { type: 'string' }, keeps: { type: 'string' }, 'max-seconds': { type: 'string' }, adaptive: { type: 'string' }, tag: { type: 'string' }, engine: { type: 'string' } } });
const models = (values.models ?? 'emotion,gender').split(',');
const strides = (values.strides ?? '4,6,8,11,16').split(',').map(Number).sort((a, b) => a - b);
const keeps = (values.keeps ?? '2,4,8,16').split(',').map(Number);
const budgets = values.adaptive ? values.adaptive.split(',').map(Number) : [];
const maxSeconds = Number(values['max-seconds'] ?? Infinity);
const engine = values.engine ?? 'cpu';
const photos = celebaImages()?.slice(0, Number(values.images ?? 100));
if (!photos) throw new Error('bench needs ../shared/data/csm-celeba100 (or CSM_TEST_DATA)');
const DENSE = strides[0]!;

interface Row {
  model: string; strategy: 'grid' | 'stratified' | 'adaptive'; stride: number; keep: number; images: number;
  passesPerImage: number; totalPasses: number; passesSavedPercent: number;
  cmsR: number; cmsRSumOverImages?: number; cisR: number; cisRLow: number; cisRHigh: number;
}

function bootstrapMean(xs: number[], rounds = 2000): [number, number] {
  const rand = mulberry32(14);
  const means: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let s = 0;
    for (let i = 0; i < xs.length; i++) s += xs[Math.floor(rand() * xs.length)]!;
    means.push(s / xs.length);
  }
  means.sort((a, b) => a - b);
  return [means[Math.floor(0.025 * rounds)]!, means[Math.floor(0.975 * rounds)]!];
}

const cisR = (a: CisMap, b: CisMap): number => pearsonMasked(a.map, b.map, (q) => a.count[q]! > 0 && b.count[q]! > 0);

async function benchModel(name: string): Promise<{ rows: Row[]; images: number; seconds: number }> {
  const model = await resolveModel(name);
  const session: EngineSession = await openEngine(engine, model);
  const explainers = new Map<number, Explainer>();
  for (const s of strides) explainers.set(s, await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride: s }));
  const size = DEFAULT_EXPLAIN.canonicalSize;
  const grid = new Map(strides.map((s) => [s, { acc: new CmsAccumulator(size), passes: 0, r: [] as number[] }]));
  const strat = new Map(keeps.map((k) => [k, { acc: new CmsAccumulator(size), passes: 0, r: [] as number[] }]));
  const adapt = new Map(budgets.map((b) => [b, { acc: new CmsAccumulator(size), passes: 0, r: [] as number[] }]));
  const t0 = performance.now();
  let done = 0;
  for (const file of photos!) {
    if ((performance.now() - t0) / 1000 > maxSeconds) break;
    let dense: CisMap | undefined;
    let densePlan;
    try {
      for (const s of strides) {
        const ex = explainers.get(s)!;
        const p = await ex.prepare(file);
        const plan = ex.plan(p);
        const { score } = await ex.predict(p);
        const cis = await computeCis(session, { input: p.tensor, plan, score });
        const g = grid.get(s)!;
        g.acc.add(cis, file);
        g.passes += plan.count + 1;
        if (s === DENSE) { dense = cis; densePlan = plan; }
        g.r.push(cisR(cis, dense!));
      }
    } catch (e) {
      console.log(`skip ${file}: ${(e as Error).message}`);
      continue;
    }
    // Stratified: the dense drops of the image's stratum (exact; see the module comment).
    for (const k of keeps) {
      const idx = stratumIndices(pointStrata(densePlan!.canonical, densePlan!.count, k, DENSE), imageStratum(stratumKey(file), k));
      const sub = subPlan(densePlan!, idx);
      const cis = accumulateCis(sub, Float32Array.from(idx, (n) => dense!.drops[n]!), dense!.baseline);
      const st = strat.get(k)!;
      st.acc.add(cis, file);
      st.passes += sub.count + 1;
      st.r.push(cisR(cis, dense!));
    }
    for (const b of budgets) {
      const { indices, drops } = await adaptiveSample(densePlan!, DENSE, b, (idx) => Float32Array.from(idx, (n) => dense!.drops[n]!));
      const cis = accumulateCis(subPlan(densePlan!, indices), drops, dense!.baseline);
      const ad = adapt.get(b)!;
      ad.acc.add(cis, file);
      ad.passes += indices.length + 1;
      ad.r.push(cisR(cis, dense!));
    }
    done++;
    if (done % 10 === 0) console.log(`${name}: ${done} images, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const ref = grid.get(DENSE)!;
  const refMap = ref.acc.mean();
  const face = (q: number): boolean => ref.acc.coverage[q]! > 0;
  const row = (strategy: Row['strategy'], stride: number, keep: number, e: { acc: CmsAccumulator; passes: number; r: number[] }): Row => {
    const [lo, hi] = bootstrapMean(e.r);
    const map = strategy !== 'grid' ? e.acc.meanCovered() : e.acc.mean();
    return {
      model: name, strategy, stride, keep, images: e.acc.images, passesPerImage: e.passes / e.acc.images, totalPasses: e.passes,
      passesSavedPercent: 100 * (1 - e.passes / ref.passes), cmsR: pearsonMasked(map, refMap, face),
      ...(strategy !== 'grid' ? { cmsRSumOverImages: pearsonMasked(e.acc.mean(), refMap, face) } : {}),
      cisR: e.r.reduce((a, b) => a + b, 0) / e.r.length, cisRLow: lo, cisRHigh: hi,
    };
  };
  const rows = [...strides.map((s) => row('grid', s, 1, grid.get(s)!)), ...keeps.map((k) => row('stratified', DENSE, k, strat.get(k)!)), ...budgets.map((b) => row('adaptive', DENSE, b, adapt.get(b)!))];
  for (const ex of explainers.values()) await ex.dispose();
  await session.dispose();
  return { rows, images: done, seconds };
}

const tag = values.tag ?? hostname().replace(/[^a-zA-Z0-9_-]/g, '').slice(0, 24);
const base = join(REPO_ROOT, 'bench', 'results', `sampling-${tag}`);
mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
const rows: Row[] = [];
const perModel: Record<string, { images: number; seconds: number }> = {};
for (const name of models) {
  const r = await benchModel(name);
  rows.push(...r.rows);
  perModel[name] = { images: r.images, seconds: r.seconds };
  for (const x of r.rows) console.log(`${name} ${x.strategy} stride ${x.stride} k ${x.keep}: ${x.passesPerImage.toFixed(0)} passes/image, CMS r ${x.cmsR.toFixed(4)}, CIS r ${x.cisR.toFixed(3)}`);
  // Written after every model, so a run cut short keeps what it finished.
  const result = { engine, date: new Date().toISOString(), machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?' }, dense: { stride: DENSE, estimator: 'sum / images' }, perModel, versions: versions(), rows };
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  const f = (v: number, d = 4): string => v.toFixed(d);
  const md = [
    `# Sampling: CMS quality against forward passes (${engine} engine, ${result.date.slice(0, 10)})`, '',
    `Images of csm-celeba100: ${Object.entries(perModel).map(([m, p]) => `${m} ${p.images} (${p.seconds.toFixed(0)} s)`).join(', ')}. Reference: the dense CMS (grid, stride ${DENSE}, sum / images).`,
    'Stratified rows are simulated exactly from the dense drops (bench/sampling.ts); their CMS is sum / coverage, as `csm cms --sampling stratified` writes it',
    '(the column "r, sum/images" is the other estimator). CIS r: mean per-image r with the dense CIS, 95 % bootstrap interval over images.', '',
    '| model | sampling | passes / image | total passes | passes saved | CMS r | CMS r, sum/images | CIS r [95 % CI] |', '|---|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((x) => `| ${x.model} | ${x.strategy === 'grid' ? `grid, stride ${x.stride}` : x.strategy === 'stratified' ? `stratified, k = ${x.keep}` : `adaptive, ${x.keep} points`} | ${x.passesPerImage.toFixed(0)} | ${x.totalPasses} | ${x.passesSavedPercent.toFixed(1)} % | ${f(x.cmsR)} | ${x.cmsRSumOverImages === undefined ? '' : f(x.cmsRSumOverImages)} | ${f(x.cisR, 3)} [${f(x.cisRLow, 3)}, ${f(x.cisRHigh, 3)}] |`),
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  const series = rows.length ? [...new Set(rows.map((x) => `${x.model} ${x.strategy}`))].map((label) => ({ label, points: rows.filter((x) => `${x.model} ${x.strategy}` === label).map((x) => [x.passesPerImage, x.cmsR] as [number, number]).sort((a, b) => a[0] - b[0]) })) : [];
  writeFileSync(`${base}.png`, rgbaPng(lineChart(series, { xLabel: 'forward passes per image', yLabel: 'CMS r with the dense CMS', width: 640, height: 400 })));
  console.log(`wrote ${base}.json, .md and .png`);
}
