/**
 * kill -9 soak for `csm cms --resume` (issue 13): `npm run soak [-- --photos N --kills K --seed S]`.
 *
 * Runs `csm cms` over N photos (plus a few files it must skip, so the skipped list is carried
 * across resumes too) once without interruption, then again with `--checkpoint-every 1`, SIGKILLed
 * at K seeded random moments and resumed with `--resume` after each kill (started afresh when a
 * kill came before the first checkpoint), and finally left to finish. The two runs' cms.npy must be
 * byte-identical, and so must the map-relevant fields of cms.json (parameters, mode, counts,
 * skipped files with causes, image list, convergence curve). Prints what each kill interrupted and
 * the verdict; exits 1 when the outputs differ or a run fails. A run that fails on its own after a
 * kill (say, a checkpoint the kill left unloadable) is recorded and the soak starts over, so that
 * every kill is still tried and the failures are counted.
 *
 * Options: --photos N (60) --kills K (20) --seed S (1) --every N (1: checkpoint after every image)
 * --keep (leave the folders).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mulberry32 } from '../test/helpers/random.js';
import { CELEBA_DIR } from '../test/helpers/data.js';
import { CHEAP, runCsm, type CsmResult } from '../test/fuzz/harness.js';
import { spawn } from 'node:child_process';
import { REPO_ROOT } from './paths.js';

/** The fields of cms.json that describe the map (not timings, versions, or per-process predictions). */
const MAP_FIELDS = ['kind', 'mode', 'params', 'counts', 'skipped', 'images', 'convergence', 'regions', 'range', 'points'];

function mapFields(out: string): string {
  const side = JSON.parse(readFileSync(join(out, 'cms.json'), 'utf8')) as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const k of MAP_FIELDS) if (k in side) picked[k] = side[k];
  return JSON.stringify(picked, null, 1);
}

/** cms.npy bytes and the map fields of cms.json of two output folders compared. */
function compare(refOut: string, out: string): { npySame: boolean; jsonSame: boolean; detail: string } {
  const npySame = readFileSync(join(out, 'cms.npy')).equals(readFileSync(join(refOut, 'cms.npy')));
  const [a, b] = [mapFields(refOut), mapFields(out)];
  let detail = npySame ? '' : 'cms.npy differs';
  if (a !== b) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    detail += `${detail ? '; ' : ''}cms.json differs first at character ${i}: uninterrupted "${a.slice(Math.max(0, i - 120), i + 120)}" vs killed "${b.slice(Math.max(0, i - 120), i + 120)}"`;
  }
  return { npySame, jsonSame: a === b, detail };
}

/** The checkpoint's progress: how many items it covers, or -1 when there is none (or it is unreadable). */
function checkpointNext(out: string): number {
  try {
    const state = JSON.parse(readFileSync(join(out, 'checkpoint', 'cms-state.json'), 'utf8')) as { extra?: { next?: number } };
    return state.extra?.next ?? -1;
  } catch {
    return -1;
  }
}

/** Starts csm and SIGKILLs it after `afterMs`; resolves when it has ended. */
function runAndKill(args: string[], afterMs: number): Promise<CsmResult & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => {
      killed = child.exitCode === null && child.signalCode === null;
      child.kill('SIGKILL');
    }, afterMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut: false, killed: killed && signal === 'SIGKILL', ms: performance.now() - t0, stdout, stderr });
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      photos: { type: 'string', default: '60' },
      kills: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      every: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
    },
  });
  const [nPhotos, kills, seed, every] = [values.photos, values.kills, values.seed, values.every].map(Number) as [number, number, number, number];
  if (![nPhotos, kills, seed, every].every((n) => Number.isInteger(n) && n >= 0) || nPhotos < 1) {
    console.error('usage: npm run soak -- [--photos N] [--kills K] [--seed S] [--every N] [--keep]');
    return 2;
  }
  const source = join(CELEBA_DIR, 'images');
  if (!existsSync(source)) {
    console.error(`kill soak: needs real photos; csm-celeba100 is not at ${CELEBA_DIR} (set CSM_TEST_DATA)`);
    return 2;
  }
  const root = mkdtempSync(join(tmpdir(), 'csm-soak-'));
  const images = join(root, 'images');
  mkdirSync(images);
  const names = readdirSync(source).filter((n) => n.endsWith('.jpg')).sort().slice(0, nPhotos);
  for (const n of names) copyFileSync(join(source, n), join(images, n));
  // Files every run must skip, spread through the list: their causes go through the checkpoints too.
  writeFileSync(join(images, `${names[Math.floor(names.length / 3)]!.replace('.jpg', '')}-notes.jpg`), 'not a photo\n');
  writeFileSync(join(images, `${names[Math.floor((2 * names.length) / 3)]!.replace('.jpg', '')}-cut.jpg`), readFileSync(join(source, names[0]!)).subarray(0, 900));
  writeFileSync(join(images, 'zz-empty.png'), '');
  const listed = readdirSync(images).length;
  const args = (out: string): string[] => ['cms', '--images', images, '--out', out, ...CHEAP, '--checkpoint-every', String(every)];

  console.log(`kill soak: ${names.length} photos + 3 bad files, checkpoint every ${every}, ${kills} SIGKILLs (seed ${seed}), in ${root}`);
  const refOut = join(root, 'uninterrupted');
  const ref = await runCsm(args(refOut), 600_000);
  if (ref.code !== 0) {
    console.error(`the uninterrupted run failed (exit ${ref.code} ${ref.signal ?? ''}): ${ref.stderr.slice(-1000)}`);
    return 1;
  }
  console.log(`uninterrupted run: ${(ref.ms / 1000).toFixed(1)} s`);

  const out = join(root, 'killed');
  const rand = mulberry32(seed);
  let done = 0;
  let attempts = 0;
  let finishedEarly = 0;
  let fresh = 0;
  const mismatches: string[] = [];
  const failures: string[] = [];
  const t0 = performance.now();
  while (done < kills) {
    const before = checkpointNext(out);
    const resume = before >= 0;
    if (!resume) fresh++;
    // Anywhere from startup to the end of the remaining work (estimated from the uninterrupted run).
    const remaining = before >= 0 ? Math.max(0, 1 - before / listed) : 1;
    const afterMs = 50 + rand() * ref.ms * (0.35 + 0.65 * remaining);
    const r = await runAndKill([...args(out), ...(resume ? ['--resume'] : [])], afterMs);
    attempts++;
    const after = checkpointNext(out);
    if (r.killed) {
      done++;
      console.log(`  kill ${String(done).padStart(2)} at ${(afterMs / 1000).toFixed(2)} s: ${resume ? `resumed at ${before}` : 'fresh start'}, checkpoint then at ${after} of ${listed}`);
    } else if (r.code === 0) {
      // Finished before its kill: a complete (resumed) run, checked like the last one, then a new start.
      finishedEarly++;
      const c = compare(refOut, out);
      if (!c.npySame || !c.jsonSame) mismatches.push(`run finished after ${done} kills: ${c.detail}`);
      console.log(`  run finished before its kill at ${(afterMs / 1000).toFixed(2)} s (${resume ? `resumed at ${before}` : 'fresh start'}): outputs ${c.npySame && c.jsonSame ? 'identical' : 'DIFFER'}; starting again from scratch`);
      rmSync(out, { recursive: true, force: true });
    } else {
      // A run that fails on its own after a kill (a checkpoint the kill left unloadable): recorded,
      // then the soak goes on from scratch so that every kill is still tried.
      const message = r.stderr.trim().split('\n').slice(-3).join(' | ');
      failures.push(`after kill ${done}: the ${resume ? `run resumed at ${before}` : 'fresh run'} failed (exit ${r.code}${r.signal ? `, ${r.signal}` : ''}): ${message}`);
      console.log(`  FAILED: the ${resume ? 'resumed' : 'fresh'} run exited ${r.code}${r.signal ? ` (${r.signal})` : ''} on its own: ${message}; starting again from scratch`);
      rmSync(out, { recursive: true, force: true });
    }
  }
  const resume = checkpointNext(out) >= 0;
  let last = await runCsm([...args(out), ...(resume ? ['--resume'] : [])], 600_000);
  if (last.code !== 0) {
    const message = last.stderr.trim().split('\n').slice(-3).join(' | ');
    failures.push(`the final ${resume ? 'resumed' : 'fresh'} run failed (exit ${last.code}${last.signal ? `, ${last.signal}` : ''}): ${message}`);
    console.log(`  FAILED: the final ${resume ? 'resumed' : 'fresh'} run exited ${last.code}: ${message}; running once more from scratch for the comparison`);
    rmSync(out, { recursive: true, force: true });
    last = await runCsm(args(out), 600_000);
    if (last.code !== 0) {
      console.log(`\nRESULT: FAIL (a fresh run failed too: ${last.stderr.trim().slice(-500)})`);
      return 1;
    }
  }
  const final = compare(refOut, out);
  const { npySame, jsonSame } = final;
  const leftovers = readdirSync(join(out, 'checkpoint')).filter((n) => n.startsWith('.'));
  const pngs = readdirSync(refOut).filter((n) => n.endsWith('.png') && n !== 'cms-convergence.png');
  const pngSame = pngs.filter((n) => readFileSync(join(refOut, n)).equals(readFileSync(join(out, n))));
  console.log(
    `\n${done} kills in ${attempts} runs (${fresh} fresh starts, ${finishedEarly} finished before their kill) + 1 final resume, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  console.log(`cms.npy byte-identical to the uninterrupted run: ${npySame ? 'yes' : 'NO'}`);
  console.log(`cms.json map fields (${MAP_FIELDS.join(', ')}) identical: ${jsonSame ? 'yes' : 'NO'}`);
  if (!jsonSame) console.log(`  ${final.detail}`);
  for (const m of mismatches) console.log(`earlier complete run differs: ${m}`);
  console.log(`runs that failed on their own after a kill: ${failures.length}`);
  for (const f of failures) console.log(`  ${f}`);
  console.log(`figures identical: ${pngSame.length} of ${pngs.length} (${pngs.filter((n) => !pngSame.includes(n)).join(', ') || 'all'})`);
  if (leftovers.length) console.log(`note: ${leftovers.length} temporary file(s) left in the checkpoint folder by kills: ${leftovers.slice(0, 5).join(', ')}`);
  const ok = npySame && jsonSame && mismatches.length === 0 && failures.length === 0;
  console.log(`\nRESULT: ${ok ? 'PASS' : 'FAIL'}`);
  if (!values.keep) rmSync(root, { recursive: true, force: true });
  else console.log(`kept ${root}`);
  return ok ? 0 : 1;
}

process.exitCode = await main();
