/** `csm sanity`: the cascading model-randomisation sanity check for CMS (the paper's Fig. 8). */
// Every output file is written atomically after a free-space check (io/atomic.ts).
import { writeFileAtomic as writeFile } from '../index.js';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { canonicalOverlay, lineChart, listImages, photoOverlay, rgbaPng, runInfo, sanityCheck, withColorbar, writeHtmlIndex, type ReportSection, type SanitySchedule } from '../index.js';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, setupExplain, type ExplainSetup } from './explain-args.js';
import { EXIT, UsageError, print, printJson } from './output.js';

export const SANITY_HELP = `Usage: csm sanity --model MODEL --images DIR|LIST --out DIR [--steps N] [--curve] [options]

Model-randomisation sanity check (Adebayo et al.): the weights of the model's layers are replaced
by random values (same mean and spread, seeded) from the output backwards. By default the cascade
of the paper's Fig. 8: the last 1, 2, …, N layers randomised; with --curve, N steps spread up to
all layers (the whole degradation curve). At each step the CMS of the same images, plans and classes is made again and compared
with the original CMS by Spearman rank correlation and SSIM. A faithful map degrades step by step.
Writes sanity.json, sanity.md, sanity-curve.png (Spearman and SSIM over steps), sanity-step-K.png
(the CMS at each step) and index.html.

  --steps N               randomisation steps (each randomises more layers)          [default: 4]
  --curve                 spread the steps over all layers instead of the last 1, 2, …, N

${EXPLAIN_HELP}`;

export interface StudyReport { sections: ReportSection[]; markdown: string; json: Record<string, unknown> }

/** Runs the sanity check into `setup.out` and returns its report section (also used by csm eval). */
export async function sanityReport(setup: ExplainSetup, files: string[], steps: number, quiet: boolean, schedule: SanitySchedule = 'cascade'): Promise<StudyReport> {
  const overlay = (map: Float32Array) => (setup.space.frame
    ? canonicalOverlay(map, setup.space.frame, setup.space.face, { colormap: 'jet' })
    : photoOverlay(setup.space.face, map, new Uint8Array(map.length).fill(1), { colormap: 'jet' }));
  const write = async (name: string, map: Float32Array): Promise<void> => {
    const o = overlay(map);
    await writeFile(join(setup.out, name), rgbaPng(withColorbar(o, { colormap: 'jet', range: o.range })));
  };
  const result = await sanityCheck(setup.explainer, setup.model, files, steps, (m) => setup.open(m, { batch: setup.session.batch }), (s) => {
    if (!quiet) process.stderr.write(`sanity: ${s.layers} layers randomised: Spearman ${s.spearman.toFixed(3)}, SSIM ${s.ssim.toFixed(3)}\n`);
  }, schedule);
  await write('sanity-original.png', result.original);
  for (const [k, s] of result.steps.entries()) await write(`sanity-step-${k + 1}.png`, s.map);
  await writeFile(join(setup.out, 'sanity-curve.png'), rgbaPng(lineChart([
    { label: 'Spearman ρ', points: [[0, 1], ...result.steps.map((s) => [s.layers, s.spearman] as [number, number])] },
    { label: 'SSIM', points: [[0, 1], ...result.steps.map((s) => [s.layers, s.ssim] as [number, number])] },
  ], { xLabel: 'layers randomised (from the output)', yLabel: 'similarity to the original CMS' })));
  const table = ['| layers randomised | Spearman ρ | SSIM |', '|---:|---:|---:|', '| 0 | 1 | 1 |', ...result.steps.map((s) => `| ${s.layers} / ${result.layers.length} | ${s.spearman.toFixed(3)} | ${s.ssim.toFixed(3)} |`)].join('\n');
  return {
    markdown: table,
    json: { schedule, layers: result.layers, steps: result.steps.map(({ map: _, ...s }) => s) },
    sections: [{
      heading: schedule === 'cascade' ? 'Sanity check (Fig. 8): the last 1, 2, … layers randomised from the output backwards' : 'Sanity check: randomisation curve from the output backwards to every layer', text: 'Spearman rank correlation and SSIM of each step\'s CMS with the original CMS (the curve starts at 0 layers, ρ = 1).',
      images: [{ file: 'sanity-curve.png', caption: 'Spearman ρ and SSIM vs layers randomised' }, { file: 'sanity-original.png', caption: 'original CMS' }, ...result.steps.map((s, k) => ({ file: `sanity-step-${k + 1}.png`, caption: `${s.layers} layers randomised (ρ ${s.spearman.toFixed(2)})` }))],
      tables: table,
    }],
  };
}

export async function sanityCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { ...EXPLAIN_OPTIONS, images: { type: 'string' }, steps: { type: 'string' }, curve: { type: 'boolean' } } });
  if (values.help) { print(SANITY_HELP); return EXIT.ok; }
  if (!values.images) throw new UsageError('sanity needs --images DIR|LIST');
  const steps = Number(values.steps ?? 4);
  if (!Number.isInteger(steps) || steps < 1 || steps > 100) throw new UsageError(`--steps takes a whole number from 1 to 100, got "${values.steps}"`);
  const setup = await setupExplain(values, { finished: ['sanity.json'] });
  try {
    const files = await listImages(values.images);
    const report = await sanityReport(setup, files, steps, values.quiet ?? false, values.curve ? 'curve' : 'cascade');
    await writeFile(join(setup.out, 'sanity.md'), `${report.markdown}\n`);
    await writeFile(join(setup.out, 'sanity.json'), `${JSON.stringify({ ...report.json, params: setup.params, run: runInfo(setup), images: files }, null, 2)}\n`);
    await writeHtmlIndex(setup.out, { title: `csm sanity: ${setup.model.spec.name}`, sections: report.sections, params: setup.params });
    if (values.json) printJson(report.json);
    else print(`${report.markdown}\n→ ${join(setup.out, 'index.html')}`);
  } finally {
    await setup.dispose();
  }
  return EXIT.ok;
}
