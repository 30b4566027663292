/**
 * Running `csm cms` over a fuzz corpus and judging the result (issue 13). A run must exit 0 without
 * a signal and within its time limit; every skipped file must be named in a one-line,
 * one-sentence cause free of internals; every file must be explained or skipped as its class
 * requires; and the map must be byte-identical to a run over only the files that were explained.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { printableName } from '../../src/image/types.js';
import { REPO_ROOT } from '../helpers/data.js';
import type { Corpus, FuzzFile } from './corpus.js';

/** A cheap configuration: small canonical grid, sparse points, fixed batch (no warm-up measurement). */
export const CHEAP = ['--model', 'emotion', '--backend', 'cpu', '--stride', '24', '--canonical-size', '96', '--batch', '32', '--quiet'];

export interface CsmResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs the csm CLI in a child process; SIGKILLs it after `timeoutMs`. */
export function runCsm(args: string[], timeoutMs: number): Promise<CsmResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'csm.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, ms: performance.now() - t0, stdout, stderr });
    });
  });
}

export interface Sidecar {
  counts: { listed: number; explained: number; skipped: number };
  skipped: { file: string; cause: string }[];
  images: string[];
}

export interface CmsOutcome extends CsmResult {
  out: string;
  sidecar?: Sidecar;
  npy?: Buffer;
}

/** `csm cms` over `images` into `out` with the cheap configuration. */
export async function runCms(images: string, out: string, timeoutMs: number, extra: string[] = []): Promise<CmsOutcome> {
  const r = await runCsm(['cms', '--images', images, '--out', out, ...CHEAP, ...extra], timeoutMs);
  const outcome: CmsOutcome = { ...r, out };
  const side = join(out, 'cms.json');
  if (existsSync(side)) outcome.sidecar = JSON.parse(readFileSync(side, 'utf8')) as Sidecar;
  if (existsSync(join(out, 'cms.npy'))) outcome.npy = readFileSync(join(out, 'cms.npy'));
  return outcome;
}

export interface Violation {
  /** The file at fault (as listed), if one. */
  file?: string;
  cls?: string;
  what: string;
  detail: string;
}

/**
 * Text that must not reach a user in a cause: library and runtime internals, JavaScript error
 * names, stack frames, non-values. Matched after the file's name is taken out.
 */
const INTERNALS: [RegExp, string][] = [
  [/\bundefined\b|\bnull\b|\bNaN\b|\[object /, 'a non-value (undefined, null, NaN, [object ...])'],
  [/Cannot read propert|Cannot (set|access)|is not a function|is not iterable|is not defined|Maximum call stack|out of bounds|Invalid array length|Unexpected token/, 'a JavaScript runtime message'],
  [/\b(Type|Range|Reference|Syntax|Eval|Aggregate)Error\b|\bError:/, 'a JavaScript error name'],
  [/^\s*at \S|\bat \S+ \(|\bat [^\s"]+:\d+:\d+|node:internal|file:\/\//m, 'a stack frame'],
  [/pngjs|jpeg-js|jpeg_|\bsharp\b|\bvips|libpng|libjpeg|libspng|mozjpeg|zlib|inflate|deflate|\bpng_|\bZ_[A-Z_]+\b|onnxruntime|\bort\b/i, 'a library name or internal'],
  [/\bE(NOENT|ACCES|PERM|ISDIR|NOTDIR|LOOP|NAMETOOLONG|MFILE|NFILE|IO|NXIO|NODEV|AGAIN|WOULDBLOCK|TIMEDOUT|INVAL|NOMEM|FBIG|OVERFLOW|BADF|BUSY)\b|errno|syscall/, 'an OS error code'],
];

/** What is wrong with a skip cause for `file` (empty when it is a proper one-sentence cause). */
export function causeProblems(file: string, cause: string): string[] {
  const problems: string[] = [];
  if (typeof cause !== 'string' || cause.length === 0) return ['no cause given'];
  const forms = [...new Set([file, printableName(file)])].sort((a, b) => b.length - a.length);
  if (!forms.some((f) => cause.includes(f))) problems.push('does not name the file');
  if (/[\r\n\u2028\u2029]/.test(cause)) problems.push('is more than one line');
  let rest = cause;
  for (const f of forms) rest = rest.split(f).join('FILE');
  if (/[.!?;]\s+[A-Z]/.test(rest)) problems.push('is more than one sentence');
  if (rest.length > 400) problems.push(`is ${rest.length} characters long`);
  for (const [re, what] of INTERNALS) if (re.test(rest)) problems.push(`shows ${what}`);
  return problems;
}

/** Lines of stderr that show internals (a stack, an unexpected error). */
function stderrProblems(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /unexpected error|^\s+at \S|node:internal|UnhandledPromiseRejection|FATAL ERROR|Segmentation|Aborted|core dumped/.test(l));
}

/** Listed path of a corpus file (as csm names it). */
export function listedPath(corpus: Corpus, f: FuzzFile): string {
  return `${corpus.dir}/${f.listed}`;
}

/**
 * Judges one cms run over `corpus`: exit, stderr, the sidecar's skipped list and explained list
 * against the corpus and each file's expectation.
 */
export function judgeRun(corpus: Corpus, run: CmsOutcome): Violation[] {
  const v: Violation[] = [];
  if (run.timedOut) v.push({ what: 'hang', detail: `the run did not finish within its time limit (${(run.ms / 1000).toFixed(0)} s) and was killed` });
  else if (run.signal) v.push({ what: 'crash', detail: `the run was ended by ${run.signal}; stderr: ${tail(run.stderr)}` });
  else if (run.code !== 0) v.push({ what: 'crash', detail: `exit code ${run.code}; stderr: ${tail(run.stderr)}` });
  for (const line of stderrProblems(run.stderr)) v.push({ what: 'internals on stderr', detail: line.slice(0, 300) });
  const side = run.sidecar;
  if (!side) {
    if (!run.timedOut && run.code === 0) v.push({ what: 'no sidecar', detail: `${run.out}/cms.json is missing` });
    return v;
  }
  const byPath = new Map<string, FuzzFile[]>();
  for (const f of corpus.files) {
    const p = listedPath(corpus, f);
    byPath.set(p, [...(byPath.get(p) ?? []), f]);
  }
  const seen = new Map<string, { accepted: number; skipped: number }>();
  const note = (p: string, k: 'accepted' | 'skipped'): void => {
    const s = seen.get(p) ?? { accepted: 0, skipped: 0 };
    s[k]++;
    seen.set(p, s);
  };
  for (const p of side.images) {
    if (!byPath.has(p)) v.push({ file: p, what: 'unknown file explained', detail: 'explained a file that is not in the corpus' });
    note(p, 'accepted');
  }
  for (const s of side.skipped) {
    const entries = byPath.get(s.file);
    if (!entries) v.push({ file: s.file, what: 'unknown file skipped', detail: s.cause });
    for (const problem of causeProblems(s.file, s.cause)) {
      v.push({ file: s.file, ...(entries ? { cls: entries[0]!.cls } : {}), what: `cause ${problem}`, detail: s.cause });
    }
    note(s.file, 'skipped');
  }
  if (side.counts.listed !== side.counts.explained + side.counts.skipped) {
    v.push({ what: 'counts', detail: `listed ${side.counts.listed} ≠ explained ${side.counts.explained} + skipped ${side.counts.skipped}` });
  }
  for (const [p, entries] of byPath) {
    const s = seen.get(p) ?? { accepted: 0, skipped: 0 };
    const f = entries[0]!;
    const base = { file: p, cls: f.cls };
    const times = s.accepted + s.skipped;
    if (f.expect === 'ignore') {
      if (s.accepted) v.push({ ...base, what: 'explained', detail: 'a file of this class must not be explained' });
      if (times > entries.length) v.push({ ...base, what: 'listed twice', detail: `explained ${s.accepted}, skipped ${s.skipped} times` });
      continue;
    }
    if (times !== entries.length) {
      v.push({ ...base, what: times ? 'listed twice' : 'not listed', detail: `explained ${s.accepted}, skipped ${s.skipped} times; expected ${entries.length} in all` });
    }
    if (f.expect === 'accept' && s.skipped) {
      const cause = side.skipped.find((x) => x.file === p)?.cause ?? '';
      v.push({ ...base, what: 'refused a valid photo', detail: cause });
    }
    if (f.expect === 'refuse' && s.accepted) v.push({ ...base, what: 'explained a file that must be refused', detail: 'it was added to the map' });
    // A name with a newline or tab, printed as is, splits or garbles the output's one line per file.
    if (printableName(p) !== p) {
      for (const [stream, text] of [['stdout', run.stdout], ['stderr', run.stderr]] as const) {
        if (text.includes(p)) v.push({ ...base, what: `name printed raw on ${stream}`, detail: 'its control characters (newline, tab) were written as they are, not escaped' });
      }
    }
  }
  return v;
}

/**
 * Whether csm warned that the mesh network doubts the face it explained in `path` (presence below
 * 0.5). Not a violation by itself: a damaged photo can still show a face. Counted by the campaign.
 */
export function doubtedFace(run: CsmResult, path: string): boolean {
  return [path, printableName(path)].some((n) => run.stderr.includes(`"${n}": face 1: the mesh network doubts this is a face`));
}

function tail(s: string): string {
  const t = s.trim();
  return t.length > 600 ? `…${t.slice(-600)}` : t;
}

/**
 * The run over only the files `run` explained: their bytes, under the same names, in a fresh
 * folder `dir`. Its cms.npy must be byte-identical to `run`'s.
 */
export async function referenceRun(corpus: Corpus, run: CmsOutcome, dir: string, out: string, timeoutMs: number): Promise<CmsOutcome> {
  mkdirSync(dir, { recursive: true });
  const byPath = new Map(corpus.files.map((f) => [listedPath(corpus, f), f]));
  for (const p of run.sidecar?.images ?? []) {
    const f = byPath.get(p);
    if (!f?.bytes) continue; // judged already: not a corpus file
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), f.name]), f.bytes);
  }
  return runCms(dir, out, timeoutMs);
}

/** The map and skipped list of two runs compared (paths relative to their folders). */
export function compareRuns(a: CmsOutcome, dirA: string, b: CmsOutcome, dirB: string): Violation[] {
  const v: Violation[] = [];
  if (!a.npy || !b.npy) return [{ what: 'determinism', detail: 'a run wrote no cms.npy' }];
  if (!a.npy.equals(b.npy)) v.push({ what: 'determinism', detail: 'two runs over the same seed wrote different cms.npy bytes' });
  const rel = (o: CmsOutcome, dir: string): string =>
    JSON.stringify({ skipped: o.sidecar?.skipped, images: o.sidecar?.images }).split(JSON.stringify(dir).slice(1, -1)).join('<DIR>');
  const [ra, rb] = [rel(a, dirA), rel(b, dirB)];
  if (ra !== rb) v.push({ what: 'determinism', detail: `skipped or explained lists differ: ${firstDifference(ra, rb)}` });
  return v;
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at character ${i}: "${a.slice(Math.max(0, i - 80), i + 80)}" vs "${b.slice(Math.max(0, i - 80), i + 80)}"`;
}

/** One line per violation: control characters in names and causes are shown escaped. */
export function formatViolation(x: Violation): string {
  return printableName(`${x.cls ? `[${x.cls}] ` : ''}${x.file ? `${JSON.stringify(x.file)}: ` : ''}${x.what}: ${x.detail}`);
}
