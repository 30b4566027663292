/** `csm cis`: the Canonical Image Saliency of each photo given. */
import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CsmError, writeCisOutputs, printableName } from '../index.js';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, setupExplain } from './explain-args.js';
import { EXIT, UsageError, print, printJson, warn } from './output.js';

export const CIS_HELP = `Usage: csm cis --model MODEL --out DIR PHOTO [PHOTO…] [options]

Canonical Image Saliency (Algorithm 1): for each photo, occludes a patch at every correspondence
point, scores the model's confidence drop, and paints it onto the canonical face. Writes per photo
(NAME = the photo's file name without extension):
  cis-NAME.npy                      the map, float32 [H_F, H_F]
  cis-NAME-jet.png, -turbo.png      heatmaps with colour bars (signed: 0 is the middle colour)
  cis-NAME-overlay.png              the map over the canonical face F
  cis-NAME-photo.png                the map reprojected onto the photo
  cis-NAME-input.png                the model's input image I
  cis-NAME-regions.md               mean saliency per facial region
  cis-NAME.json                     every parameter, the prediction, baseline φ(I), counts

${EXPLAIN_HELP}`;

export async function cisCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: EXPLAIN_OPTIONS });
  if (values.help) { print(CIS_HELP); return EXIT.ok; }
  if (!positionals.length) throw new UsageError('cis needs at least one PHOTO');
  const setup = await setupExplain(values, { finished: positionals.map((f) => `cis-${basename(f, extname(f))}.json`) });
  await mkdir(setup.out, { recursive: true });
  const summary: { file: string; prediction?: unknown; outputs?: string[]; error?: string; seconds?: number }[] = [];
  try {
    for (const file of positionals) {
      const t0 = performance.now();
      try {
        const result = await setup.explainer.cis(file);
        for (const w of result.prepared.warnings) warn(`warning: ${w}`);
        const outputs = await writeCisOutputs(setup, setup.out, result, `cis-${basename(file, extname(file))}`);
        const seconds = (performance.now() - t0) / 1000;
        summary.push({ file, prediction: result.prediction, outputs, seconds });
        if (!values.json) print(`${printableName(file)}: ${result.prediction.label ?? result.prediction.value} (${result.plan.count} occlusions, ${seconds.toFixed(1)} s) → ${join(setup.out, `cis-${basename(file, extname(file))}-overlay.png`)}`);
      } catch (e) {
        if (!(e instanceof CsmError)) throw e;
        summary.push({ file, error: e.message });
        warn(`error: ${e.message}`);
      }
    }
  } finally {
    await setup.dispose();
  }
  if (values.json) printJson(summary);
  return summary.some((s) => s.error) ? EXIT.failure : EXIT.ok;
}
