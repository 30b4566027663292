/**
 * The faces of the sample photos as explanation items, and verification pairs among them: what
 * `csm demo` explains when there is no data set.
 */
import { basename } from 'node:path';
import { FaceAligner, MIN_PRESENCE, SMALL_FACE_PX } from '../face/align.js';
import { readImage } from '../image/decode.js';
import type { Pair } from '../saliency/identity.js';
import { samplePhotos } from './photos.js';

/**
 * Every usable face of the sample photos as an item "PHOTO#N" (the N-th largest face of PHOTO):
 * present with confidence and at least twice the small-face size.
 */
export async function sampleFaces(): Promise<string[]> {
  // The photos first: when their packages are missing, say so before loading any model.
  const photos = samplePhotos();
  const aligner = await FaceAligner.create();
  const items: string[] = [];
  try {
    for (const { path } of photos) {
      for (const f of await aligner.align(await readImage(path), basename(path), { face: 'all' })) {
        const box = f.mesh.detection.box;
        if (f.mesh.presence >= MIN_PRESENCE && Math.min(box.width, box.height) >= 2 * SMALL_FACE_PX) items.push(`${path}#${f.rank}`);
      }
    }
  } finally {
    await aligner.dispose();
  }
  return items;
}

/**
 * Verification pairs among sample faces: the FGNet frames of one person (franck_*) make the
 * genuine pairs, and the same frames against the other portraits (not the group photos) the
 * impostor pairs; `count` of each (pairsJob fits τ on half of them and explains the other half).
 */
export function samplePairs(items: string[], count = 10): Pair[] {
  const franck = items.filter((i) => basename(i).startsWith('franck_'));
  const others = items.filter((i) => !basename(i).startsWith('franck_') && !basename(i).startsWith('sample'));
  return [
    ...franck.slice(0, count).map((a, k) => ({ a, b: franck[(k + 3) % franck.length]!, same: true })),
    ...franck.slice(0, count).map((a, k) => ({ a, b: others[(k * 3) % others.length]!, same: false })),
  ];
}
