/** `csm cis`: the Canonical Image Saliency of each photo given. */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  coverageMask, CsmError, encodePng, photoOverlay, reprojectToInput, rgbaPng, rgbToRgba8, warpToPhoto, withColorbar, writeCanonicalMap,
  type CisResult,
} from '../index.js';
import { EXPLAIN_HELP, EXPLAIN_OPTIONS, runInfo, setupExplain, type ExplainSetup } from './explain-args.js';
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

/** Writes one CIS result's files; returns their paths. */
export async function writeCisOutputs(setup: ExplainSetup, result: CisResult, stem: string): Promise<string[]> {
  const { out, space } = setup;
  const { cis, prepared, plan, prediction } = result;
  const written = await writeCanonicalMap(out, stem, cis.map, { ...space, mask: coverageMask(cis.count) }, {
    kind: 'CIS', file: prepared.file, prediction, baseline: cis.baseline, points: plan.count, patch: plan.patch,
    canonicalPatch: plan.canonicalPatch, warnings: prepared.warnings, params: setup.params, run: runInfo(setup),
  });
  const files = [...written.files];
  const image = prepared.image;
  await writeFile(join(out, `${stem}-input.png`), encodePng(image.width, image.height, rgbToRgba8(image)));
  files.push(join(out, `${stem}-input.png`));
  // Onto the photo through the face's own mesh when csm aligned it, else onto I through the plan.
  const onPhoto = prepared.meshXYZ && setup.explainer.frame
    ? { base: prepared.photo, ...warpToPhoto(cis.map, setup.explainer.frame, prepared.meshXYZ, prepared.photo.width, prepared.photo.height) }
    : (() => { const r = reprojectToInput(cis.map, plan); return { base: image, values: r.values, mask: r.count.map((c) => (c ? 1 : 0)) as unknown as Uint8Array }; })();
  const overlay = photoOverlay(onPhoto.base, onPhoto.values, onPhoto.mask, { colormap: 'jet' });
  await writeFile(join(out, `${stem}-photo.png`), rgbaPng(withColorbar(overlay, { colormap: 'jet', range: overlay.range })));
  files.push(join(out, `${stem}-photo.png`));
  return files;
}

export async function cisCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: EXPLAIN_OPTIONS });
  if (values.help) { print(CIS_HELP); return EXIT.ok; }
  if (!positionals.length) throw new UsageError('cis needs at least one PHOTO');
  const setup = await setupExplain(values);
  await mkdir(setup.out, { recursive: true });
  const summary: { file: string; prediction?: unknown; outputs?: string[]; error?: string; seconds?: number }[] = [];
  try {
    for (const file of positionals) {
      const t0 = performance.now();
      try {
        const result = await setup.explainer.cis(file);
        for (const w of result.prepared.warnings) warn(`warning: ${w}`);
        const outputs = await writeCisOutputs(setup, result, `cis-${basename(file, extname(file))}`);
        const seconds = (performance.now() - t0) / 1000;
        summary.push({ file, prediction: result.prediction, outputs, seconds });
        if (!values.json) print(`${file}: ${result.prediction.label ?? result.prediction.value} (${result.plan.count} occlusions, ${seconds.toFixed(1)} s) → ${join(setup.out, `cis-${basename(file, extname(file))}-overlay.png`)}`);
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
