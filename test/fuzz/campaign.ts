/**
 * The long fuzz campaign (issue 13): `npm run fuzz -- --count 2000 [--seed S] [--chunk N]`.
 *
 * Splits the count into chunks; each chunk is one seeded corpus (every class at least once, then
 * drawn by weight) mixed with a few valid photos in one `csm cms` run, judged as in CI
 * (harness.ts), then checked against a run over only the files it explained (cms.npy byte for
 * byte). The first chunk is run twice to check that a run is deterministic. Prints counts per
 * class, explained/skipped, the distinct causes and every violation; exits 1 on any violation.
 *
 * Options: --count N (2000) --seed S (1) --chunk N (500) --valid N (4) --classes a,b,...
 * --timeout SECONDS per run (900) --keep (leave the folders) --causes (print distinct causes).
 * To rebuild one finding: --case SEED:INDEX --out DIR, with the chunk seed and case index that the
 * violation names (and the same --valid and --classes), writes just that file into DIR.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CELEBA_DIR } from '../helpers/data.js';
import { classNames, writeCase, writeCorpus, type Corpus } from './corpus.js';
import { compareRuns, doubtedFace, formatViolation, judgeRun, listedPath, referenceRun, runCms, type CmsOutcome, type Violation } from './harness.js';

interface ClassTally {
  files: number;
  explained: number;
  skipped: number;
  absent: number;
  /** Explained although csm warned that the mesh network doubts the face. */
  doubted: number;
  violations: number;
  causes: Map<string, number>;
}

function loadPhotos(): Buffer[] {
  const dir = join(CELEBA_DIR, 'images');
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.jpg')).sort();
  } catch {
    throw new Error(`the fuzz campaign needs real photos: csm-celeba100 is not at ${CELEBA_DIR} (set CSM_TEST_DATA)`);
  }
  // 061323.jpg shows a face hidden by hair, which csm refuses as no face (the mesh network's
  // presence is 0.00): it cannot stand for a valid photo, whatever the mutation.
  return names.filter((n) => !HIDDEN_FACES.has(n)).map((n) => readFileSync(join(dir, n)));
}

/** Photos of csm-celeba100 whose face csm rightly refuses (face/align.ts MIN_PRESENCE). */
const HIDDEN_FACES = new Set(['061323.jpg']);

/** A cause with the file's name and corpus folder taken out, so that causes can be counted. */
function causeShape(cause: string, file: string): string {
  return cause.split(file).join('FILE').replace(/\/tmp\/[^\s"]*/g, 'PATH');
}

async function writeOneCase(spec: string, out: string | undefined, valid: string, classes: string | undefined): Promise<number> {
  const [seed, index] = spec.split(':').map(Number) as [number, number];
  if (!out || !Number.isInteger(seed) || !Number.isInteger(index) || index < 0) {
    console.error('usage: npm run fuzz -- --case SEED:INDEX --out DIR');
    return 2;
  }
  mkdirSync(out, { recursive: true });
  const files = await writeCase(out, { seed, index, count: index + 1, photos: loadPhotos(), validCount: Number(valid), ...(classes ? { classes: classes.split(',') } : {}) });
  for (const f of files) console.log(`${f.cls} (${f.expect}): ${join(out, f.listed)}`);
  return 0;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '2000' },
      seed: { type: 'string', default: '1' },
      chunk: { type: 'string', default: '500' },
      valid: { type: 'string', default: '4' },
      classes: { type: 'string' },
      timeout: { type: 'string', default: '900' },
      keep: { type: 'boolean', default: false },
      causes: { type: 'boolean', default: false },
      case: { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (values.case) return writeOneCase(values.case, values.out, values.valid!, values.classes);
  const count = Number(values.count);
  const seed = Number(values.seed);
  const chunk = Number(values.chunk);
  const validCount = Number(values.valid);
  const timeoutMs = Number(values.timeout) * 1000;
  if (![count, seed, chunk, validCount, timeoutMs].every((n) => Number.isInteger(n) && n >= 0) || chunk < 1) {
    console.error('usage: npm run fuzz -- [--count N] [--seed S] [--chunk N] [--valid N] [--classes a,b] [--timeout S] [--keep] [--causes]');
    return 2;
  }
  const classes = values.classes?.split(',');
  for (const c of classes ?? []) if (!classNames().includes(c)) throw new Error(`unknown class "${c}"; classes: ${classNames().join(', ')}`);
  const photos = loadPhotos();
  const root = mkdtempSync(join(tmpdir(), 'csm-fuzz-'));
  console.log(`fuzz campaign: ${count} hostile files, seed ${seed}, chunks of ${chunk}, ${validCount} valid photos per run, in ${root}`);

  const tally = new Map<string, ClassTally>();
  const violations: Violation[] = [];
  const t0 = performance.now();
  let runs = 0;
  let runMs = 0;
  let accepted = 0;
  let skipped = 0;
  for (let c = 0, done = 0; done < count; c++) {
    const n = Math.min(chunk, count - done);
    done += n;
    const chunkSeed = (seed + Math.imul(c, 0x9e3779b9)) >>> 0;
    const base = join(root, `chunk-${c}`);
    const images = join(base, 'images');
    mkdirSync(images, { recursive: true });
    const tg = performance.now();
    const corpus: Corpus = await writeCorpus(images, { seed: chunkSeed, count: n, photos, validCount, ...(classes ? { classes } : {}) });
    const genS = (performance.now() - tg) / 1000;
    const run = await runCms(images, join(base, 'out'), timeoutMs);
    runs++;
    runMs += run.ms;
    const found = judgeRun(corpus, run);
    let note = '';
    if (run.sidecar) {
      const ref = await referenceRun(corpus, run, join(base, 'reference'), join(base, 'reference-out'), timeoutMs);
      runs++;
      runMs += ref.ms;
      if (ref.code !== 0 || !ref.npy) found.push({ what: 'reference run failed', detail: `exit ${ref.code} ${ref.signal ?? ''}: ${ref.stderr.trim().slice(-400)}` });
      else if (!run.npy || !run.npy.equals(ref.npy)) found.push({ what: 'map differs', detail: 'cms.npy is not byte-identical to the run over only the explained files' });
      if (c === 0) {
        const again: CmsOutcome = await runCms(images, join(base, 'out-again'), timeoutMs);
        runs++;
        runMs += again.ms;
        found.push(...compareRuns(run, images, again, images));
        note = ', rerun identical';
        if (found.some((x) => x.what === 'determinism')) note = ', rerun DIFFERS';
      }
      accepted += run.sidecar.images.length;
      skipped += run.sidecar.skipped.length;
      const byPath = new Map<string, string>();
      for (const s of run.sidecar.skipped) byPath.set(s.file, s.cause);
      const explained = new Set(run.sidecar.images);
      for (const f of corpus.files) {
        const t = tally.get(f.cls) ?? { files: 0, explained: 0, skipped: 0, absent: 0, doubted: 0, violations: 0, causes: new Map() };
        tally.set(f.cls, t);
        t.files++;
        const p = listedPath(corpus, f);
        if (explained.has(p)) {
          t.explained++;
          if (doubtedFace(run, p)) t.doubted++;
        }
        else if (byPath.has(p)) {
          t.skipped++;
          const shape = causeShape(byPath.get(p)!, p);
          t.causes.set(shape, (t.causes.get(shape) ?? 0) + 1);
        } else t.absent++;
      }
    }
    for (const x of found) {
      const t = x.cls ? tally.get(x.cls) : undefined;
      if (t) t.violations++;
    }
    violations.push(...found.map((x) => ({ ...x, detail: `${x.detail} (chunk ${c}, seed ${chunkSeed})` })));
    console.log(
      `chunk ${c}: ${n} hostile + ${validCount} valid, generated in ${genS.toFixed(1)} s, run ${(run.ms / 1000).toFixed(1)} s (exit ${run.code}${run.signal ? `, ${run.signal}` : ''}` +
        `${run.timedOut ? ', TIMED OUT' : ''}), ${run.sidecar?.images.length ?? '?'} explained, ${run.sidecar?.skipped.length ?? '?'} skipped${note}, ${found.length} violation(s)`,
    );
  }

  console.log(`\nper class (files: explained / skipped / not listed; explained with a doubted face; violations):`);
  const rows = [...tally.entries()].sort((a, b) => b[1].files - a[1].files);
  for (const [cls, t] of rows) {
    console.log(`  ${cls.padEnd(24)} ${String(t.files).padStart(5)}: ${String(t.explained).padStart(4)} / ${String(t.skipped).padStart(4)} / ${String(t.absent).padStart(2)}${t.doubted ? `   ${t.doubted} with a doubted face` : ''}${t.violations ? `   ${t.violations} VIOLATION(S)` : ''}`);
    if (values.causes) for (const [shape, k] of [...t.causes.entries()].sort((a, b) => b[1] - a[1])) console.log(`      ${String(k).padStart(4)} × ${shape}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`\n${count} hostile files in ${Math.ceil(count / chunk)} chunk(s): ${accepted} explained, ${skipped} skipped; ${runs} cms runs took ${(runMs / 1000).toFixed(1)} s; ${seconds.toFixed(1)} s in all`);
  if (violations.length) {
    // Group repeats: same class, same kind, same cause shape.
    const groups = new Map<string, { n: number; first: Violation }>();
    for (const x of violations) {
      const key = `${x.cls ?? ''}|${x.what}|${x.file ? causeShape(x.detail, x.file).replace(/\(chunk \d+, seed \d+\)/, '') : x.detail}`;
      const g = groups.get(key);
      if (g) g.n++;
      else groups.set(key, { n: 1, first: x });
    }
    console.log(`\n${violations.length} VIOLATION(S), ${groups.size} distinct:`);
    for (const { n, first } of groups.values()) console.log(`  ${n} × ${formatViolation(first)}`);
  } else console.log('no violations');
  if (!values.keep) rmSync(root, { recursive: true, force: true });
  else console.log(`kept ${root}`);
  return violations.length ? 1 : 0;
}

process.exitCode = await main();
