/**
 * End-to-end benchmark of a CMS run (not a test): `npm run bench:pipeline [-- --images N
 * --rounds R --large N --large-rounds R --models a,b --modes serial,inline,workers --stride S
 * --engines cpu,webgpu --rss 100,1000 --no-rss --no-save --tag T]` (`npm run bench` runs it
 * after bench/run.ts, with the defaults). WebGPU rows only with --engines (lavapipe is slow).
 *
 * For each engine, model and data set (csm-celeba100, and large photos made at bench time by
 * upscaling celeba photos 8× to 2.5 MP with csm's own resize, saved as JPEG in a temp dir), CMS
 * runs through `runCms` with checkpoints every 25 images, with:
 * - `serial`: no front end, outputs in line (the run before pipelining);
 * - `inline`: main-thread front end prefetching 2 images, outputs queued;
 * - `workers`: worker-thread front end (defaultWorkers(), depth 2), outputs queued;
 * and, on csm-celeba100, serial and workers again writing every image's CIS outputs (the output
 * queue's effect). The images are split in rounds; in each round every variant runs over the same
 * chunk in turn, so the background load of a shared machine falls on all of them alike.
 * Reported per image: wall time, the split decode / detect + mesh / input crop / loop / write,
 * time the loop waited for the front end, the share of wall time with a forward pass of the
 * explained model in flight (BusyMeter), CPU use, and the ratio to "loop alone": the same images
 * explained from images prepared beforehand, nothing else running. Target: ratio ≤ 1.10.
 *
 * Peak RSS (process.resourceUsage().maxRSS, worker threads included) of a CMS run over 100 and
 * 1,000 images (a list of distinct symlinks to the 100 photos, gender, stride 16, canonical 128)
 * is measured in fresh processes (bench/rss.ts).
 *
 * Results: bench/results/pipeline-<engine>-<host or tag>.json and .md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import jpeg from 'jpeg-js';
import {
  BusyMeter, canonicalFaceImage, coverageMask, createFrontEnd, DEFAULT_EXPLAIN, defaultWorkers, Explainer, meterSession, openEngine, readImage, resizeBilinear,
  resolveModel, rgbToRgba8, runCms, versions, writeCanonicalMap, type CanonicalMapSpace, type CisResult, type FrontEnd, type FrontEndKind, type PreparedImage,
} from '../src/index.js';
import { celebaImages } from '../test/helpers/data.js';
import { REPO_ROOT } from '../scripts/paths.js';

const { values } = parseArgs({
  options: {
    engines: { type: 'string' }, images: { type: 'string' }, models: { type: 'string' }, stride: { type: 'string' }, large: { type: 'string' },
    'large-scale': { type: 'string' }, modes: { type: 'string' }, rounds: { type: 'string' }, 'no-save': { type: 'boolean' }, 'large-rounds': { type: 'string' }, rss: { type: 'string' }, 'no-rss': { type: 'boolean' }, tag: { type: 'string' },
  },
});
const engines = (values.engines ?? 'cpu').split(',');
const models = (values.models ?? 'emotion,gender').split(',');
const stride = Number(values.stride ?? DEFAULT_EXPLAIN.stride);
const imageCount = Number(values.images ?? 24);
const largeCount = Number(values.large ?? 12);
const largeScale = Number(values['large-scale'] ?? 8);
const modes = (values.modes ?? 'serial,inline,workers').split(',') as Mode[];
const rounds = Number(values.rounds ?? 3);
const largeRounds = Number(values['large-rounds'] ?? 2);
const rssCounts = values['no-rss'] ? [] : (values.rss ?? '100,1000').split(',').map(Number);
const celeba = celebaImages();
if (!celeba) throw new Error('bench needs ../shared/data/csm-celeba100 (or CSM_TEST_DATA)');

type Mode = 'serial' | 'inline' | 'workers';
interface Variant { mode: Mode; save: boolean }

interface Row {
  engine: string; model: string; dataset: string; mode: Mode | 'loop alone'; frontEnd: string; outputs: string; images: number;
  /** Seconds per image. */
  wall: number; decode: number; align: number; input: number; loop: number; write: number; frontEndWait: number;
  imagesPerSecond: number; engineBusy: number; cpuCores: number; ratioToLoop: number;
  /** Median over rounds of (wall per image / loop alone per image) within the round: robust to load that changes between rounds. */
  medianRatio: number;
}

/** Large photos: celeba photos upscaled `scale`× (bilinear, csm's resize) and saved as JPEG. */
async function makeLarge(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const file of celeba!.slice(0, largeCount)) {
    const photo = await readImage(file);
    // e.g. 178×218 × 8 = 1424×1744, 2.5 MP.
    const big = resizeBilinear(photo, photo.width * largeScale, photo.height * largeScale);
    const path = join(dir, `large-${out.length}.jpg`);
    writeFileSync(path, jpeg.encode({ width: big.width, height: big.height, data: Buffer.from(rgbToRgba8(big)) }, 92).data);
    out.push(path);
  }
  return out;
}

interface Sums { images: number; wall: number; decode: number; align: number; input: number; loop: number; write: number; wait: number; busy: number; cpu: number; rounds: number[] }
const zero = (): Sums => ({ images: 0, wall: 0, decode: 0, align: 0, input: 0, loop: 0, write: 0, wait: 0, busy: 0, cpu: 0, rounds: [] });
const median = (xs: number[]): number => { const a = [...xs].sort((x, y) => x - y); const m = a.length >> 1; return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2; };
const cpuSeconds = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

/**
 * The data set in `rounds` chunks; within each chunk every variant runs over the same images in
 * turn, so that a change in the machine's background load falls on all of them alike.
 */
async function benchModel(engine: string, name: string, dataset: string, files: string[], variants: Variant[], rounds: number): Promise<Row[]> {
  const model = await resolveModel(name);
  const meter = new BusyMeter();
  const raw = await openEngine(engine, model);
  const session = meterSession(raw, meter);
  const explainer = await Explainer.create(model.spec, session, { ...DEFAULT_EXPLAIN, stride });
  const size = explainer.canonicalSize;
  const space: CanonicalMapSpace = { size, face: await canonicalFaceImage(size), frame: explainer.frame! };
  const key = (v: Variant): string => `${v.mode}${v.save ? '+save' : ''}`;
  const frontEnds = new Map<Mode, FrontEnd>();
  const sums = new Map<string, Sums>([['loop', zero()], ...variants.map((v) => [key(v), zero()] as [string, Sums])]);
  const base = { engine: raw.engine, model: name, dataset };
  try {
    for (const mode of new Set(variants.map((v) => v.mode))) if (mode !== 'serial') frontEnds.set(mode, await createFrontEnd(explainer, { kind: mode as FrontEndKind }));
    await explainer.cis(files[0]!); // warm-up
    const chunk = Math.ceil(files.length / rounds);
    for (let r = 0; r < rounds; r++) {
      const part = files.slice(r * chunk, (r + 1) * chunk);
      if (!part.length) break;
      // Loop alone: images prepared beforehand, then only plan + prediction + occlusion loop.
      const prepared: PreparedImage[] = [];
      for (const f of part) prepared.push(await explainer.prepare(f));
      const loop = sums.get('loop')!;
      meter.reset();
      const [t0, c0] = [performance.now(), cpuSeconds()];
      for (const p of prepared) await explainer.cis(p);
      const wall = (performance.now() - t0) / 1000;
      Object.assign(loop, { images: loop.images + part.length, wall: loop.wall + wall, loop: loop.loop + wall, busy: loop.busy + meter.busySeconds, cpu: loop.cpu + cpuSeconds() - c0 });
      const loopPerImage = wall / part.length;
      loop.rounds.push(1);
      prepared.length = 0;
      for (const v of variants) {
        const out = mkdtempSync(join(tmpdir(), 'csm-bench-out-'));
        const frontEnd = frontEnds.get(v.mode);
        const s = sums.get(key(v))!;
        const onImage = async (res: CisResult, index: number): Promise<void> => {
          const t = res.prepared.timing;
          if (t) { s.decode += t.decode; s.align += t.align; s.input += t.input; }
          if (v.save) await writeCanonicalMap(out, `cis-${index}`, res.cis.map, { ...space, mask: coverageMask(res.cis.count) }, { file: res.prepared.file, prediction: res.prediction, baseline: res.cis.baseline });
        };
        meter.reset();
        const c1 = cpuSeconds();
        const prep0 = s.decode + s.align + s.input;
        try {
          const res = await runCms(part, (f, p) => explainer.cis(p?.[0] ?? f), size, {
            checkpointDir: join(out, 'checkpoint'), checkpointEvery: 25, resume: false, fingerprint: {}, onImage,
            ...(frontEnd ? { frontEnd } : {}), outputQueue: v.mode === 'serial' ? 0 : 4,
          });
          const t = res.timing;
          // Serial: explain includes preparing; the loop is what remains.
          const prep = s.decode + s.align + s.input - prep0;
          Object.assign(s, {
            images: s.images + part.length, wall: s.wall + t.wall, loop: s.loop + (v.mode === 'serial' ? t.explain - prep : t.explain),
            write: s.write + t.outputs, wait: s.wait + t.frontEndWait, busy: s.busy + meter.busySeconds, cpu: s.cpu + cpuSeconds() - c1,
          });
          s.rounds.push(t.wall / part.length / loopPerImage);
        } finally {
          rmSync(out, { recursive: true, force: true });
        }
      }
      console.log(`[${raw.engine}] ${name} ${dataset}: round ${r + 1}/${rounds} done`);
    }
  } finally {
    for (const fe of frontEnds.values()) await fe.close();
    await explainer.dispose();
    await raw.dispose();
  }
  const loopAlone = sums.get('loop')!.wall / sums.get('loop')!.images;
  const cores = cpus().length;
  const row = (mode: Row['mode'], frontEnd: string, outputs: string, s: Sums): Row => {
    const n = s.images;
    const r: Row = {
      ...base, mode, frontEnd, outputs, images: n, wall: s.wall / n, decode: s.decode / n, align: s.align / n, input: s.input / n, loop: s.loop / n,
      write: s.write / n, frontEndWait: s.wait / n, imagesPerSecond: n / s.wall, engineBusy: s.busy / s.wall, cpuCores: s.cpu / s.wall / cores, ratioToLoop: s.wall / n / loopAlone,
      medianRatio: median(s.rounds),
    };
    console.log(`[${raw.engine}] ${name} ${dataset} ${mode} (${outputs}): ${r.wall.toFixed(3)} s/image (${r.ratioToLoop.toFixed(3)} × loop, median of rounds ${r.medianRatio.toFixed(3)}), ${r.imagesPerSecond.toFixed(2)} images/s, engine busy ${(100 * r.engineBusy).toFixed(1)} %, CPU ${(100 * r.cpuCores).toFixed(0)} %`);
    return r;
  };
  return [
    row('loop alone', '-', '-', sums.get('loop')!),
    ...variants.map((v) => row(v.mode, frontEnds.get(v.mode)?.description ?? 'serial (explain prepares)', v.save ? `every CIS, ${v.mode === 'serial' ? 'in line' : 'queued'}` : 'checkpoints', sums.get(key(v))!)),
  ];
}

interface RssResult { images: number; maxRssMiB: number; seconds: number; rssMiBEvery100: number[]; frontEnd: string }

function measureRss(count: number): RssResult {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'bench', 'rss.js'), '--count', String(count)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`rss child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as RssResult;
}

const host = values.tag ?? hostname().replace(/[^a-zA-Z0-9_-]/g, '').slice(0, 24);
mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
const largeDir = mkdtempSync(join(tmpdir(), 'csm-bench-large-'));
try {
  const large = await makeLarge(largeDir);
  const first = await readImage(large[0]!);
  const largeName = `large photos (${largeCount}, ${first.width}×${first.height} = ${(first.width * first.height / 1e6).toFixed(1)} MP, JPEG)`;
  const rss: RssResult[] = [];
  for (const count of rssCounts) {
    const r = measureRss(count);
    rss.push(r);
    console.log(`peak RSS over ${count} images: ${r.maxRssMiB.toFixed(0)} MiB (${r.seconds.toFixed(0)} s, RSS every 100 images: ${r.rssMiBEvery100.map((m) => m.toFixed(0)).join(', ')} MiB)`);
  }
  for (const engine of engines) {
    const t0 = performance.now();
    const loadBefore = loadavg()[0]!;
    const rows: Row[] = [];
    const plain = modes.map((mode) => ({ mode, save: false }));
    // The output queue's effect: every image's CIS outputs written, serial (in line) vs workers (queued).
    const saving = values['no-save'] ? [] : modes.filter((m) => m !== 'inline').map((mode) => ({ mode, save: true }));
    for (const name of models) {
      rows.push(...await benchModel(engine, name, `csm-celeba100 (${Math.min(imageCount, celeba.length)})`, celeba.slice(0, imageCount), [...plain, ...saving], rounds));
      rows.push(...await benchModel(engine, name, largeName, large, plain, largeRounds));
    }
    const result = {
      engine, date: new Date().toISOString(), machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?' }, stride, defaultWorkers: defaultWorkers(),
      // Other processes on the machine skew wall times: the 1-minute load average before and after.
      loadAverage: { before: loadBefore, after: loadavg()[0]! },
      versions: versions(), rows, peakRss: rss, seconds: (performance.now() - t0) / 1000,
    };
    const file = join(REPO_ROOT, 'bench', 'results', `pipeline-${engine}-${host}`);
    writeFileSync(`${file}.json`, `${JSON.stringify(result, null, 2)}\n`);
    const ms = (s: number): string => (1000 * s).toFixed(0);
    const md = [
      `# End-to-end CMS runs, ${engine} engine (${rows[0]?.engine ?? engine}) on ${result.machine.cpus} × ${result.machine.cpu}, ${result.date.slice(0, 10)}`,
      '',
      `Load average (1 min) of the machine before / after: ${result.loadAverage.before.toFixed(2)} / ${result.loadAverage.after.toFixed(2)}; a row whose CPU share is well under 100 % shared the cores with other processes.`,
      '',
      `Stride ${stride}, canonical size 256, ${rounds} rounds on csm-celeba100 and ${largeRounds} on the large photos (each variant in turn over the same chunk of images, so background load falls on all alike). ` +
      '*outputs*: checkpoints every 25 images and the CLI\'s per-image bookkeeping (the `csm cms` default), or also every image\'s CIS outputs ' +
      '(npy, 2 heatmaps, overlay, regions, json: `--save-cis` for all), in line (queue 0) or queued behind the loop. ' +
      'Times are per image (ms), measured where the work ran (a worker\'s decode shares the cores with the engine, so it reads longer than serial). ' +
      '*loop*: plan + prediction + occlusion loop; *write*: output tasks (elapsed: queued ones interleave with the loop); *wait*: the loop waiting for the front end; ' +
      '*busy*: share of wall time with a forward pass of the explained model in flight; *CPU*: process CPU time / (wall × cores); ' +
      '*ratio*: wall per image / loop alone over the whole set, and the median of that ratio over the rounds (target ≤ 1.10).',
      '',
      '| model | data set | front end | outputs | wall | images/s | decode | detect + mesh | crop | loop | write | wait | busy | CPU | ratio | median ratio |',
      '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.model} | ${r.dataset} | ${r.mode === 'loop alone' ? '*loop alone*' : r.frontEnd} | ${r.outputs} | ${ms(r.wall)} | ${r.imagesPerSecond.toFixed(2)} | ${ms(r.decode)} | ${ms(r.align)} | ${ms(r.input)} | ${ms(r.loop)} | ${ms(r.write)} | ${ms(r.frontEndWait)} | ${(100 * r.engineBusy).toFixed(1)} % | ${(100 * r.cpuCores).toFixed(0)} % | ${r.ratioToLoop.toFixed(3)} | ${r.medianRatio.toFixed(3)} |`),
      '',
      ...(rss.length ? [
        '## Peak RSS of a CMS run (gender, stride 16, canonical size 128, default front end; worker threads included)', '',
        '| images | front end | peak RSS | seconds | RSS after every 100 images (MiB) |', '|---:|---|---:|---:|---|',
        ...rss.map((r) => `| ${r.images} | ${r.frontEnd} | ${r.maxRssMiB.toFixed(0)} MiB | ${r.seconds.toFixed(0)} | ${r.rssMiBEvery100.map((m) => m.toFixed(0)).join(', ')} |`),
        '',
      ] : []),
    ].join('\n');
    writeFileSync(`${file}.md`, md);
    console.log(`wrote ${file}.json and .md`);
  }
} finally {
  rmSync(largeDir, { recursive: true, force: true });
}
