/** `csm ablate`: alignment, patch size and number of images ablations (the paper's Section 5). */
// Every output file is written atomically after a free-space check (io/atomic.ts).
import { writeFileAtomic as writeFile } from '../index.js';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  alignmentAblation, alignmentFaithfulness, canonicalOverlay, evaluationMarkdown, heatmapWithColorbar, imagesAblation, lineChart, listImages, patchAblation, photoOverlay, rgbaPng,
  runInfo, withColorbar, writeHtmlIndex, type ReportSection,
} from '../index.js';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, setupExplain, type ExplainSetup } from './explain-args.js';
import type { StudyReport } from './sanity.js';
import { EXIT, UsageError, print } from './output.js';

const STUDIES = ['alignment', 'patch', 'images'] as const;

export const ABLATE_HELP = `Usage: csm ablate --model MODEL --images DIR|LIST --out DIR [--studies ${STUDIES.join(',')}] [options]

  alignment   occlusion maps averaged with no alignment (in the model input), with a 5-keypoint
              similarity alignment, and as CIS maps on the canonical face (CMS); the agreement
              (mean pairwise correlation of the per-image maps) shows what alignment buys (Figs. 20–21);
              and Fig. 20's faithfulness metrics (Average Drop, % Increase, Win %, with 95 %
              intervals) of the three, each map made on the other folds: canonical (the CMS
              reprojected onto I), keypoint (the model fed 5-keypoint-aligned images; their mean
              occlusion map darkens the image's own aligned input) and none (the mean occlusion map
              in I's frame)
  patch       the CMS for several patch sizes, compared with the default (Fig. 18)
  images      the CMS of the first n images against the CMS of all (Fig. 5)

Options:
  --studies a,b           which studies                                          [default: all]
  --patches a,b,c         patch sizes in input pixels        [default: ½, 1, 2 and 3 × the default]

Writes ablate.md, ablate.json, figures and index.html.

${EXPLAIN_HELP}`;

/** Runs the chosen ablation studies into `setup.out` and returns their report sections (also used by csm eval). */
export async function ablationReport(setup: ExplainSetup, files: string[], studies: string[], patchesText: string | undefined, quiet: boolean): Promise<StudyReport> {
  const sections: ReportSection[] = [];
  const md: string[] = [];
  const json: Record<string, unknown> = {};
  const say = (s: string): void => { if (!quiet) process.stderr.write(`${s}\n`); };
  const canonicalPng = async (name: string, map: Float32Array): Promise<void> => {
    const o = setup.space.frame ? canonicalOverlay(map, setup.space.frame, setup.space.face, { colormap: 'jet' }) : photoOverlay(setup.space.face, map, new Uint8Array(map.length).fill(1), { colormap: 'jet' });
    await writeFile(join(setup.out, name), rgbaPng(withColorbar(o, { colormap: 'jet', range: o.range })));
  };
  if (studies.includes('alignment')) {
    say('ablate: alignment…');
    const a = await alignmentAblation(setup.explainer, files);
    await writeFile(join(setup.out, 'ablate-alignment-none.png'), rgbaPng(heatmapWithColorbar(a.none, a.inputSize, { colormap: 'jet' })));
    await canonicalPng('ablate-alignment-keypoint.png', a.keypoint);
    await canonicalPng('ablate-alignment-canonical.png', a.canonical);
    const table = ['| alignment | agreement of per-image maps (mean pairwise r) |', '|---|---:|', `| none (model input) | ${a.agreement.none.toFixed(3)} |`, `| 5-keypoint similarity | ${a.agreement.keypoint.toFixed(3)} |`, `| canonical (dense) | ${a.agreement.canonical.toFixed(3)} |`].join('\n');
    md.push(`## Alignment (${a.images} images)\n\n${table}`);
    say('ablate: alignment, faithfulness…');
    const f = await alignmentFaithfulness(setup.explainer, files);
    const faithful = evaluationMarkdown({ methods: f.variants, scores: f.scores, paired: f.paired, statistics: f.statistics, images: f.ratios });
    md.push(`### Faithfulness by alignment (Fig. 20; ${f.folds} folds, φ(E)/φ(base))\n\n${faithful}`);
    json['alignment'] = { agreement: a.agreement, images: a.images, faithfulness: { variants: f.variants, scores: f.scores, paired: f.paired, statistics: f.statistics, folds: f.folds, ratios: f.ratios } };
    sections.push({ heading: 'Ablation: alignment (Figs. 20–21)', text: `Mean maps of ${a.images} images. Agreement: the mean correlation between the per-image maps in each frame. Faithfulness (Fig. 20): each image is darkened by maps made on the other ${f.folds - 1} of ${f.folds} folds; keypoint feeds the model keypoint-aligned images, so the metrics use φ(E)/φ(base) with the base the image the model sees.`, images: [{ file: 'ablate-alignment-none.png', caption: 'no alignment (model input)' }, { file: 'ablate-alignment-keypoint.png', caption: '5-keypoint similarity' }, { file: 'ablate-alignment-canonical.png', caption: 'canonical (CMS)' }], tables: `${table}\n\n${faithful}` });
  }
  if (studies.includes('patch')) {
    say('ablate: patch size…');
    const probe = setup.explainer.plan(await setup.explainer.prepare(files[0]!)).patch;
    const patches = patchesText ? patchesText.split(',').map(Number) : [Math.max(1, Math.round(probe / 2)), probe, 2 * probe, 3 * probe];
    if (patches.some((x) => !Number.isInteger(x) || x < 1)) throw new UsageError(`--patches takes whole numbers ≥ 1, got "${patchesText}"`);
    const p = await patchAblation(setup.explainer, files, patches);
    for (const [k, patch] of p.patches.entries()) await canonicalPng(`ablate-patch-${patch}.png`, p.maps[k]!);
    const table = ['| patch (input px) | Spearman ρ with the default patch |', '|---:|---:|', ...p.patches.map((patch, k) => `| ${patch}${patch === p.defaultPatch ? ' (default)' : ''} | ${p.spearmanToDefault[k]!.toFixed(3)} |`)].join('\n');
    md.push(`## Patch size\n\n${table}`);
    json['patch'] = { patches: p.patches, spearmanToDefault: p.spearmanToDefault, defaultPatch: p.defaultPatch };
    sections.push({ heading: 'Ablation: patch size (Fig. 18)', images: p.patches.map((patch) => ({ file: `ablate-patch-${patch}.png`, caption: `patch ${patch} px` })), tables: table });
  }
  if (studies.includes('images')) {
    say('ablate: number of images…');
    const i = await imagesAblation(setup.explainer, files);
    await writeFile(join(setup.out, 'ablate-images.png'), rgbaPng(lineChart(i.counts.map((n, k) => [n, i.spearmanToAll[k]!]), { xLabel: 'images in the CMS', yLabel: 'Spearman ρ with the CMS of all', label: 'CMS of the first n images' })));
    const table = ['| images | Spearman ρ with the CMS of all | change when the n-th is added |', '|---:|---:|---:|', ...i.counts.map((n, k) => `| ${n} | ${i.spearmanToAll[k]!.toFixed(3)} | ${i.change[k]!.toExponential(2)} |`)].join('\n');
    md.push(`## Number of images\n\n${table}`);
    json['images'] = i;
    sections.push({ heading: 'Ablation: number of images (Fig. 5)', images: [{ file: 'ablate-images.png', caption: 'Spearman ρ with the full CMS vs images' }], tables: table });
  }
  return { sections, markdown: md.join('\n\n'), json };
}

export async function ablateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { ...EXPLAIN_OPTIONS, images: { type: 'string' }, studies: { type: 'string' }, patches: { type: 'string' } } });
  if (values.help) { print(ABLATE_HELP); return EXIT.ok; }
  if (!values.images) throw new UsageError('ablate needs --images DIR|LIST');
  const studies = parseStudies(values.studies);
  // The studies run every point of their own plans (src/eval/ablation.ts); a sampling would be ignored.
  if (values.sampling !== undefined || values.keep !== undefined || values.points !== undefined) throw new UsageError('csm ablate runs every occlusion point of its studies; --sampling, --keep and --points are for csm cis, cms and compare');
  const setup = await setupExplain(values, { finished: ['ablate.json'] });
  try {
    const files = await listImages(values.images);
    const report = await ablationReport(setup, files, studies, values.patches, values.quiet ?? false);
    await writeFile(join(setup.out, 'ablate.md'), `${report.markdown}\n`);
    await writeFile(join(setup.out, 'ablate.json'), `${JSON.stringify({ ...report.json, params: setup.params, run: runInfo(setup) }, null, 2)}\n`);
    await writeHtmlIndex(setup.out, { title: `csm ablate: ${setup.model.spec.name}`, sections: report.sections, params: setup.params });
    print(`${report.markdown}\n→ ${join(setup.out, 'index.html')}`);
  } finally {
    await setup.dispose();
  }
  return EXIT.ok;
}

/** The studies named by --studies (all when absent). */
export function parseStudies(text: string | undefined): string[] {
  const studies = (text ?? STUDIES.join(',')).split(',').map((s) => s.trim());
  for (const s of studies) if (!(STUDIES as readonly string[]).includes(s)) throw new UsageError(`unknown study "${s}" (studies: ${STUDIES.join(', ')})`);
  return studies;
}
