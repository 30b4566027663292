/**
 * Benchmark (not a test) for issue 14, "fewer forward passes for the same map": CMS and CIS
 * quality against forward passes for grid, stratified and adaptive sampling, and the CMS of
 * stratified sampling against the number of images. Run: `npx tsc -p tsconfig.json && node
 * dist/bench/sampling.js [--images N --models a,b --strides 4,6,8,16 --keeps 2,4,8,16 --adaptive
 * 264,528,1056 --subsets 100 --tag NAME]`.
 *
 * The reference is the dense run (grid, stride 4, every point; CMS = sum / images, Eq. 6). Grid
 * strides are real runs (their points are not a subset of stride 4's). Every sampled row is the
 * real sampling code (sampled.ts: point choice, rounds, reconstruction) driven through the real
 * occlusion loop by a session that replays the dense drops (test/helpers/replay-session.ts): exact,
 * since each forward pass occludes one patch, so a drop does not depend on which other points run.
 * The dense drops are computed once and cached (bench/sampling-dense.ts).
 *
 * Rows: `stratified` (csm cms --sampling stratified --keep 1/k), `stratified, no reconstruction`
 * (the same points, the CIS of the measured patches alone, CMS = sum / coverage: the estimator of
 * the first stratified runs), `uniform` (the same 1/k lattice for every image: thinning without
 * stratification), and `adaptive` (--sampling adaptive --points N, batch 32).
 * Reported: forward passes per image (with the unoccluded passes), CMS r with the dense CMS over
 * the face (pixels the dense CMS covers), and the mean per-image CIS r with the dense CIS over the
 * dense CIS's pixels, with a 95 % bootstrap interval over images (src/eval/stats.ts).
 * Against the number of images: for N of 10, 25, 50 and 75, random subsets of N images (without
 * replacement); r of the stratified CMS with the dense CMS of the same images: mean and the
 * 2.5–97.5 % range over subsets (and the full set's r).
 * Results: bench/results/sampling-<tag>.json, .md and sampling-<tag>-<model>-{cis,cms}.png.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  accumulateCis, bootstrapMeans, CmsAccumulator, lineChart, pearsonMasked, rgbaPng, sampledCis, seededRandom, stratifiedIndices, stratumKey, subPlan, versions, type CisMap, type Sampling,
} from '../src/index.js';
import { celebaImages } from '../test/helpers/data.js';
import { replaySession } from '../test/helpers/replay-session.js';
import { REPO_ROOT } from '../scripts/paths.js';
import { denseDrops, type DenseImage } from './sampling-dense.js';

const { values } = parseArgs({ options: { images: { type: 'string' }, models: { type: 'string' }, strides: { type: 'string' }, keeps: { type: 'string' }, adaptive: { type: 'string' }, subsets: { type: 'string' }, tag: { type: 'string' }, engine: { type: 'string' } } });
const models = (values.models ?? 'emotion,gender').split(',');
const strides = (values.strides ?? '4,6,8,16').split(',').map(Number).sort((a, b) => a - b);
const keeps = (values.keeps ?? '2,4,8,16').split(',').map(Number);
const budgets = (values.adaptive ?? '264,528,1056').split(',').filter(Boolean).map(Number);
const subsets = Number(values.subsets ?? 100);
const engine = values.engine ?? 'cpu';
const photos = celebaImages()?.slice(0, Number(values.images ?? 100));
if (!photos) throw new Error('bench needs ../shared/data/csm-celeba100 (or CSM_TEST_DATA)');
const DENSE = strides[0]!;
const SIZE = 256;
const BATCH = 32;

interface Row {
  model: string; strategy: string; label: string; images: number; passesPerImage: number; totalPasses: number; passesSavedPercent: number;
  cmsR: number; cisR: number; cisRLow: number; cisRHigh: number;
}
interface SizeRow { model: string; keep: number; images: number; subsets: number; mean: number; low: number; high: number }

/** One configuration's CIS maps (per image, in `images` order) and passes. */
interface Run { strategy: string; label: string; maps: CisMap[]; passes: number; estimator: 'images' | 'coverage' }

const cisR = (a: CisMap, dense: CisMap): number => pearsonMasked(a.map, dense.map, (q) => dense.count[q]! > 0);

function cms(maps: CisMap[], ids: string[], estimator: 'images' | 'coverage'): { map: Float32Array; coverage: Uint32Array } {
  const acc = new CmsAccumulator(SIZE);
  maps.forEach((m, i) => acc.add(m, ids[i]!));
  return { map: estimator === 'images' ? acc.mean() : acc.meanCovered(), coverage: acc.coverage };
}

async function sampled(d: DenseImage, sampling: Sampling, key = stratumKey(d.file)): Promise<{ cis: CisMap; passes: number }> {
  const session = replaySession(d.plan, d.drops, d.baseline, BATCH);
  const r = await sampledCis(session, { input: new Float32Array(1), plan: d.plan, score: { output: 'replay', kind: 'index', index: 0 } }, sampling, key, DENSE);
  if (session.passes !== r.passes) throw new Error(`passes counted ${session.passes}, reported ${r.passes}`);
  return { cis: r.cis, passes: r.passes };
}

async function benchModel(name: string): Promise<{ rows: Row[]; sizes: SizeRow[]; images: number; seconds: number }> {
  const denseRun = await denseDrops(name, photos!, { stride: DENSE, engine });
  // Images every stride could explain (a face refused at one stride is left out of all).
  const grids = new Map<number, Map<string, DenseImage>>();
  for (const s of strides.slice(1)) grids.set(s, new Map((await denseDrops(name, photos!, { stride: s, engine })).images.map((d) => [d.file, d])));
  const images = denseRun.images.filter((d) => [...grids.values()].every((g) => g.has(d.file)));
  const ids = images.map((d) => d.file);
  const dense = images.map((d) => accumulateCis(d.plan, d.drops, d.baseline));
  const densePasses = images.reduce((s, d) => s + d.plan.count + 1, 0);
  const runs: Run[] = [{ strategy: 'grid', label: `grid, stride ${DENSE}`, maps: dense, passes: densePasses, estimator: 'images' }];
  for (const [s, g] of grids) {
    const list = ids.map((f) => g.get(f)!);
    runs.push({ strategy: 'grid', label: `grid, stride ${s}`, maps: list.map((d) => accumulateCis(d.plan, d.drops, d.baseline)), passes: list.reduce((t, d) => t + d.plan.count + 1, 0), estimator: 'images' });
  }
  const keepRuns = new Map<number, CisMap[]>();
  for (const k of keeps) {
    const strat: CisMap[] = [];
    const raw: CisMap[] = [];
    const uniform: CisMap[] = [];
    let [ps, pu] = [0, 0];
    for (const d of images) {
      const s = await sampled(d, { kind: 'stratified', keep: k });
      strat.push(s.cis); ps += s.passes;
      // The same points, without reconstruction: the measured patches alone.
      const idx = stratifiedIndices(d.plan, { kind: 'stratified', keep: k }, DENSE, stratumKey(d.file));
      raw.push(accumulateCis(subPlan(d.plan, idx), Float32Array.from(idx, (n) => d.drops[n]!), d.baseline));
      const u = await sampled(d, { kind: 'stratified', keep: k }, 'uniform');
      uniform.push(u.cis); pu += u.passes;
    }
    keepRuns.set(k, strat);
    runs.push({ strategy: 'stratified', label: `stratified, keep 1/${k}`, maps: strat, passes: ps, estimator: 'images' });
    runs.push({ strategy: 'stratified, no reconstruction', label: `stratified 1/${k}, no reconstruction`, maps: raw, passes: ps, estimator: 'coverage' });
    runs.push({ strategy: 'uniform', label: `uniform 1/${k} (same points every image)`, maps: uniform, passes: pu, estimator: 'images' });
  }
  for (const b of budgets) {
    const maps: CisMap[] = [];
    let p = 0;
    for (const d of images) { const a = await sampled(d, { kind: 'adaptive', points: b }); maps.push(a.cis); p += a.passes; }
    runs.push({ strategy: 'adaptive', label: `adaptive, ${b} points`, maps, passes: p, estimator: 'images' });
  }
  const ref = cms(dense, ids, 'images');
  const face = (q: number): boolean => ref.coverage[q]! > 0;
  const rows: Row[] = runs.map((r) => {
    const rs = r.maps.map((m, i) => cisR(m, dense[i]!));
    const [ci] = bootstrapMeans([rs]);
    return {
      model: name, strategy: r.strategy, label: r.label, images: images.length, passesPerImage: r.passes / images.length, totalPasses: r.passes,
      passesSavedPercent: 100 * (1 - r.passes / densePasses), cmsR: pearsonMasked(cms(r.maps, ids, r.estimator).map, ref.map, face),
      cisR: rs.reduce((a, b) => a + b, 0) / rs.length, cisRLow: ci!.low, cisRHigh: ci!.high,
    };
  });
  // CMS r against the number of images.
  const sizes: SizeRow[] = [];
  const random = seededRandom(14);
  for (const k of keeps.filter((k) => k <= 8)) {
    const strat = keepRuns.get(k)!;
    for (const n of [10, 25, 50, 75]) {
      if (n >= images.length) continue;
      const rs: number[] = [];
      for (let t = 0; t < subsets; t++) {
        // Sums suffice: r does not change with the 1/N scale.
        const pick = shuffle(images.length, random).slice(0, n);
        const d = sumMaps(pick.map((i) => dense[i]!));
        const s = sumMaps(pick.map((i) => strat[i]!));
        rs.push(pearsonMasked(s.map, d.map, (q) => d.covered[q]! > 0));
      }
      rs.sort((a, b) => a - b);
      sizes.push({ model: name, keep: k, images: n, subsets, mean: rs.reduce((a, b) => a + b, 0) / rs.length, low: rs[Math.floor(0.025 * rs.length)]!, high: rs[Math.min(rs.length - 1, Math.floor(0.975 * rs.length))]! });
    }
    const all = rows.find((x) => x.label === `stratified, keep 1/${k}`)!.cmsR;
    sizes.push({ model: name, keep: k, images: images.length, subsets: 1, mean: all, low: NaN, high: NaN });
  }
  return { rows, sizes, images: images.length, seconds: denseRun.seconds };
}

function sumMaps(maps: CisMap[]): { map: Float64Array; covered: Uint8Array } {
  const map = new Float64Array(SIZE * SIZE);
  const covered = new Uint8Array(SIZE * SIZE);
  for (const m of maps) for (let q = 0; q < map.length; q++) { map[q] += m.map[q]!; if (m.count[q]) covered[q] = 1; }
  return { map, covered };
}

function shuffle(n: number, random: () => number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [a[i], a[j]] = [a[j]!, a[i]!]; }
  return a;
}

const tag = values.tag ?? 'celeba100';
const base = join(REPO_ROOT, 'bench', 'results', `sampling-${tag}`);
mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
const rows: Row[] = [];
const sizes: SizeRow[] = [];
const perModel: Record<string, { images: number; denseSeconds: number }> = {};
for (const name of models) {
  const r = await benchModel(name);
  rows.push(...r.rows);
  sizes.push(...r.sizes);
  perModel[name] = { images: r.images, denseSeconds: r.seconds };
  for (const x of r.rows) console.log(`${name} ${x.label}: ${x.passesPerImage.toFixed(0)} passes/image, CMS r ${x.cmsR.toFixed(4)}, CIS r ${x.cisR.toFixed(3)}`);
}
const result = { engine, date: new Date().toISOString(), machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?' }, dense: { stride: DENSE, estimator: 'sum / images' }, batch: BATCH, perModel, versions: versions(), rows, sizes };
writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
const f = (v: number, d = 4): string => v.toFixed(d);
const md = [
  `# Sampling: map quality against forward passes (csm-celeba100, ${result.date.slice(0, 10)})`, '',
  `Images: ${Object.entries(perModel).map(([m, p]) => `${m} ${p.images} (dense drops: ${p.denseSeconds.toFixed(0)} s on the ${engine} engine, ${result.machine.cpus} cores)`).join(', ')}; every image every stride could explain.`,
  `Reference: the dense run (grid, stride ${DENSE}, every point; CMS = sum / images). Grid rows are real runs; sampled rows run the real sampling code and loop on`,
  'a session replaying the dense drops (exact: bench/sampling.ts). Sampled CIS maps are reconstructed (unmeasured drops imputed, then the dense accumulation)',
  'and the CMS is sum / images; "no reconstruction" is the CIS of the measured patches alone with CMS = sum / coverage (the first stratified runs\' estimator).',
  `"uniform" runs the same 1/k lattice on every image. Adaptive rounds are whole batches of ${BATCH}; passes include one unoccluded pass per round.`,
  'CMS r: Pearson r with the dense CMS over the face. CIS r: mean per-image r with the dense CIS over its pixels, 95 % bootstrap interval over images.', '',
  '| model | sampling | passes / image | total passes | passes saved | CMS r | CIS r [95 % CI] |', '|---|---|---:|---:|---:|---:|---|',
  ...rows.map((x) => `| ${x.model} | ${x.label} | ${x.passesPerImage.toFixed(0)} | ${x.totalPasses} | ${x.passesSavedPercent.toFixed(1)} % | ${f(x.cmsR)} | ${f(x.cisR, 3)} [${f(x.cisRLow, 3)}, ${f(x.cisRHigh, 3)}] |`),
  '', '## Stratified CMS against the number of images', '',
  `r of the stratified CMS with the dense CMS of the same images: mean and 2.5–97.5 % range over ${subsets} random subsets of N images (drawn without replacement).`, '',
  '| model | keep | N images | CMS r mean | 95 % range |', '|---|---|---:|---:|---|',
  ...sizes.map((s) => `| ${s.model} | 1/${s.keep} | ${s.images} | ${f(s.mean)} | ${Number.isNaN(s.low) ? '(all images: one set)' : `[${f(s.low)}, ${f(s.high)}]`} |`),
  '',
].join('\n');
writeFileSync(`${base}.md`, md);
// Charts per model (the palette has six colours), without the dense point (r = 1 by definition).
for (const model of models) {
  for (const [what, pick, title] of [['cis', (x: Row) => x.cisR, 'CIS r with the dense CIS (mean over images)'], ['cms', (x: Row) => x.cmsR, 'CMS r with the dense CMS']] as const) {
    const mine = rows.filter((x) => x.model === model && x.passesSavedPercent > 0);
    const series = [...new Set(mine.map((x) => x.strategy))].map((label) => ({ label, points: mine.filter((x) => x.strategy === label).map((x) => [x.passesPerImage, pick(x)] as [number, number]).sort((a, b) => a[0] - b[0]) }));
    writeFileSync(`${base}-${model}-${what}.png`, rgbaPng(lineChart(series, { xLabel: `forward passes per image (${model}; dense: ${rows.find((x) => x.model === model && x.passesSavedPercent === 0)?.passesPerImage.toFixed(0)})`, yLabel: title, width: 640, height: 420 })));
  }
}
console.log(`wrote ${base}.json, .md and charts ${base}-<model>-{cis,cms}.png`);
