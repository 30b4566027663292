/** `csm reproject`: a canonical map (CIS or CMS) drawn onto photos through each face's mesh (Fig. 6 d). */
// Every output file is written atomically after a free-space check (io/atomic.ts).
import { writeFileAtomic as writeFile } from '../index.js';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  canonicalFrame, CsmError, FaceAligner, loadCanonicalFaceModel, parseFaceChoice, photoOverlay, readImage, readNpyFile, rgbaPng,
  warpToPhoto, withColorbar, writeNpy, isColormapName, COLORMAP_NAMES,
} from '../index.js';
import { openOutput } from './out.js';
import { EXIT, UsageError, print, warn } from './output.js';

export const REPROJECT_HELP = `Usage: csm reproject --map MAP.npy --out DIR PHOTO [PHOTO…] [options]

Pulls a canonical map made with csm's own alignment (cms.npy or cis-*.npy) back onto photos:
each photo's face is aligned, and every face pixel takes the map's value at its canonical place.
Writes NAME-reprojected.png (overlay with colour bar) and NAME-reprojected.npy (float32, the
photo's size, 0 off the face).

Options:
  --map FILE.npy          a square float32 canonical map                          [required]
  --out DIR               output folder                                           [required]
  --force                 overwrite the NAME-reprojected files of an earlier run
  --face largest|N        which face of a photo with several                 [default: largest]
  --colormap ${COLORMAP_NAMES.join('|')}                                                 [default: jet]`;

export async function reprojectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { map: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, face: { type: 'string' }, colormap: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { print(REPROJECT_HELP); return EXIT.ok; }
  if (!values.map) throw new UsageError('reproject needs --map MAP.npy');
  if (!values.out) throw new UsageError('reproject needs --out DIR');
  if (!positionals.length) throw new UsageError('reproject needs at least one PHOTO');
  const colormap = values.colormap ?? 'jet';
  if (!isColormapName(colormap)) throw new UsageError(`--colormap takes ${COLORMAP_NAMES.join(' | ')}`);
  let face;
  try { face = parseFaceChoice(values.face ?? 'largest'); } catch (e) { throw new UsageError((e as Error).message); }
  if (face === 'all') throw new UsageError('--face takes largest or N here');
  const npy = await readNpyFile(values.map);
  if (npy.shape.length !== 2 || npy.shape[0] !== npy.shape[1]) throw new CsmError(`"${values.map}" is not a square 2-D map (shape [${npy.shape}])`);
  const size = npy.shape[0]!;
  const map = Float32Array.from(npy.data as ArrayLike<number>);
  const out = values.out;
  const lock = await openOutput(out, { finished: positionals.map((f) => `${basename(f, extname(f))}-reprojected.npy`), force: values.force ?? false });
  let aligner: FaceAligner | undefined;
  let failed = false;
  try {
    const frame = canonicalFrame(await loadCanonicalFaceModel(), size);
    aligner = await FaceAligner.create();
    for (const file of positionals) {
      try {
        const photo = await readImage(file);
        const [aligned] = await aligner.align(photo, file, { face });
        for (const w of aligned!.warnings) warn(`warning: ${w}`);
        const { values: onPhoto, mask } = warpToPhoto(map, frame, aligned!.mesh.points, photo.width, photo.height);
        const stem = join(out, `${basename(file, extname(file))}-reprojected`);
        const overlay = photoOverlay(photo, onPhoto, mask, { colormap });
        await writeFile(`${stem}.png`, rgbaPng(withColorbar(overlay, { colormap, range: overlay.range })));
        await writeFile(`${stem}.npy`, writeNpy({ dtype: 'float32', shape: [photo.height, photo.width], data: onPhoto }));
        print(`${file} → ${stem}.png`);
      } catch (e) {
        if (!(e instanceof CsmError)) throw e;
        failed = true;
        warn(`error: ${e.message}`);
      }
    }
  } finally {
    await aligner?.dispose();
    await lock.release();
  }
  return failed ? EXIT.failure : EXIT.ok;
}
