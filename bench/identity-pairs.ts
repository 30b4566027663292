/**
 * Verification pairs of both kinds for `csm eval --pairs` on a folder without identity labels
 * (such as csm-celeba100): the k-th photo with a face (sorted order, k from 0) is paired
 *   - with the next photo with a face when k is even: an impostor neighbour (label 0), and
 *   - with its own mirror image when k is odd: a genuine pair (label 1) by construction.
 * A mirror image is the same person seen from the mirrored side; the model's similarity on it is
 * high (faceres: cos 0.88–0.98 on csm-celeba100), so it is an easy genuine pair, not a second
 * photo of the person. The mirrored copies are written as lossless PNGs under OUT/mirror, never
 * next to the data. Photos where csm finds no face are left out, one line each.
 *
 *   node dist/bench/identity-pairs.js DIR OUT [N=50]   → OUT/pairs.csv (absolute paths)
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { CsmError, createExplainSetup, encodePng, readImage, rgbToRgba8, type RgbImage } from '../src/index.js';

/** The photo seen in a mirror: columns reversed in every (planar) channel. */
function mirror(img: RgbImage): RgbImage {
  const { width: w, height: h, data } = img;
  const out = new Float32Array(data.length);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      const row = c * w * h + y * w;
      for (let x = 0; x < w; x++) out[row + x] = data[row + w - 1 - x]!;
    }
  }
  return { width: w, height: h, data: out };
}

async function main(): Promise<void> {
  const [dirArg, outArg, nArg] = process.argv.slice(2);
  if (!dirArg || !outArg) throw new Error('usage: node dist/bench/identity-pairs.js DIR OUT [N=50]');
  const dir = resolve(dirArg);
  const out = resolve(outArg);
  const n = Number(nArg ?? 50);
  if (!Number.isInteger(n) || n < 2) throw new Error(`N must be a whole number ≥ 2, not "${nArg}"`);
  const photos = readdirSync(dir).filter((f) => ['.jpg', '.jpeg', '.png'].includes(extname(f).toLowerCase())).sort();
  // csm's own face finder decides which photos count (the same one csm eval uses).
  const setup = await createExplainSetup({ model: 'faceres', explain: { head: 'descriptor' }, backend: 'cpu', batch: 1 });
  const faces: string[] = [];
  try {
    // N pairs need N + 1 photos with a face (the last impostor's partner); stop there.
    for (const f of photos) {
      if (faces.length > n) break;
      try {
        await setup.explainer.prepare(join(dir, f));
        faces.push(f);
      } catch (e) {
        if (!(e instanceof CsmError)) throw e;
        console.log(`left out ${f}: ${e.message}`);
      }
    }
  } finally {
    await setup.dispose();
  }
  if (faces.length < 2) throw new Error(`fewer than 2 photos with a face in ${dir}`);
  mkdirSync(join(out, 'mirror'), { recursive: true });
  const lines: string[] = [];
  for (let k = 0; k < Math.min(n, faces.length); k++) {
    const a = join(dir, faces[k]!);
    if (k % 2 === 0) {
      lines.push(`${a},${join(dir, faces[(k + 1) % faces.length]!)},0`);
    } else {
      const m = join(out, 'mirror', `${faces[k]!.replace(/\.[^.]+$/, '')}-mirror.png`);
      const img = mirror(await readImage(a));
      writeFileSync(m, encodePng(img.width, img.height, rgbToRgba8(img)));
      lines.push(`${a},${m},1`);
    }
  }
  writeFileSync(join(out, 'pairs.csv'), `${lines.join('\n')}\n`);
  console.log(`${lines.length} pairs (${Math.ceil(lines.length / 2)} impostor neighbours, ${Math.floor(lines.length / 2)} mirror genuine) → ${join(out, 'pairs.csv')}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
