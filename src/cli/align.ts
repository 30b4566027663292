/** `csm align PHOTO… --out DIR`: detection, mesh and canonical warp of photos, as pictures and JSON. */
// Every output file is written atomically after a free-space check (io/atomic.ts).
import { writeFileAtomic as writeFile, printableName } from '../index.js';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  canonicalFrame, encodePng, FaceAligner, loadCanonicalFaceModel, meshOverlay, meshXYFromXYZ, parseFaceChoice, readImage,
  rgbToRgba8, warpToCanonicalMasked, CsmError,
} from '../index.js';
import { openOutput } from './out.js';
import { EXIT, UsageError, print, printJson, warn } from './output.js';

export const ALIGN_HELP = `Usage: csm align PHOTO [PHOTO…] --out DIR [options]

Finds faces (BlazeFace), fits MediaPipe's 468-point face mesh to each, and warps each face onto
the canonical frontal face. For every photo it writes:
  NAME-mesh.png          the photo with box, keypoints and mesh drawn
  NAME-canonical.png     the face warped into canonical space (NAME-face2-… for other faces)
  NAME-align.json        boxes, scores, presence, warnings and the 468 mesh points (x, y, z)

Options:
  --out DIR              output folder (created)                               [required]
  --force                overwrite the NAME-align.json outputs of an earlier run
  --face largest|all|N   which face when a photo has several (N: N-th largest) [default: largest]
  --size N               side of the canonical image in pixels                 [default: 256]
  --min-score S          detector score threshold                              [default: 0.5]
  --json                 print a JSON summary instead of text

A photo that cannot be read or has no face is reported (with the cause) and skipped; the exit
code is 1 if any photo failed.`;

export async function alignCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { out: { type: 'string' }, force: { type: 'boolean' }, face: { type: 'string' }, size: { type: 'string' }, 'min-score': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { print(ALIGN_HELP); return EXIT.ok; }
  if (!positionals.length) throw new UsageError('align needs at least one PHOTO');
  if (!values.out) throw new UsageError('align needs --out DIR');
  const size = Number(values.size ?? 256);
  if (!Number.isInteger(size) || size < 16 || size > 4096) throw new UsageError(`--size takes a whole number of pixels from 16 to 4096, got "${values.size}"`);
  const minScore = Number(values['min-score'] ?? 0.5);
  if (!(minScore > 0 && minScore < 1)) throw new UsageError(`--min-score takes a number between 0 and 1, got "${values['min-score']}"`);
  let face;
  try { face = parseFaceChoice(values.face ?? 'largest'); } catch (e) { throw new UsageError((e as Error).message); }

  const lock = await openOutput(values.out, { finished: positionals.map((f) => `${basename(f, extname(f))}-align.json`), force: values.force ?? false });
  const summary: { file: string; faces?: number; error?: string; outputs?: string[] }[] = [];
  let aligner: FaceAligner | undefined;
  try {
    const model = await loadCanonicalFaceModel();
    const frame = canonicalFrame(model, size);
    aligner = await FaceAligner.create();
    for (const file of positionals) {
      const stem = basename(file, extname(file));
      try {
        const photo = await readImage(file);
        const faces = await aligner.align(photo, file, { face, minScore });
        const outputs = [join(values.out, `${stem}-mesh.png`), join(values.out, `${stem}-align.json`)];
        await writeFile(outputs[0]!, encodePng(photo.width, photo.height, meshOverlay(photo, faces.map((f) => f.mesh), model.triangles)));
        for (const f of faces) {
          const { image: canonical, mask } = warpToCanonicalMasked(photo, meshXYFromXYZ(f.mesh.points), frame);
          const out = join(values.out, `${stem}${f.rank === 1 ? '' : `-face${f.rank}`}-canonical.png`);
          // Transparent where the face is off the canonical face or outside the photo.
          const rgba = rgbToRgba8(canonical);
          for (let p = 0; p < mask.length; p++) if (!mask[p]) rgba[4 * p + 3] = 0;
          await writeFile(out, encodePng(size, size, rgba));
          outputs.push(out);
          for (const w of f.warnings) warn(`warning: ${w}`);
        }
        await writeFile(outputs[1]!, `${JSON.stringify({
          file, width: photo.width, height: photo.height, face: values.face ?? 'largest', minScore, canonicalSize: size,
          faces: faces.map((f) => ({
            rank: f.rank, box: f.mesh.detection.box, score: f.mesh.detection.score, presence: f.mesh.presence, warnings: f.warnings,
            keypoints: Array.from(f.mesh.detection.keypoints), mesh: Array.from(f.mesh.points, (v) => Math.round(v * 100) / 100),
          })),
        })}\n`);
        summary.push({ file, faces: faces.length, outputs });
        if (!values.json) print(`${printableName(file)}: ${faces.length} face${faces.length === 1 ? '' : 's'} → ${outputs.join(', ')}`);
      } catch (e) {
        if (!(e instanceof CsmError)) throw e;
        summary.push({ file, error: e.message });
        warn(`error: ${e.message}`);
      }
    }
  } finally {
    await aligner?.dispose();
    await lock.release();
  }
  if (values.json) printJson(summary);
  return summary.some((s) => s.error) ? EXIT.failure : EXIT.ok;
}
