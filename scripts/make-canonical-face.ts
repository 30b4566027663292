/**
 * Makes csm's canonical face image F (assets/canonical-face.png): the mean of every usable face in
 * the npm sample photos (src/samples/photos.ts), each warped onto MediaPipe's canonical frontal
 * face with its own 468-point mesh. Run: npm run build && node dist/scripts/make-canonical-face.js
 * The output is the project's own derived image (no test data goes into it) and is committed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CANONICAL_IMAGE_SIZE, canonicalFrame, loadCanonicalFaceModel } from '../src/face/canonical.js';
import { FaceAligner, MIN_PRESENCE, SMALL_FACE_PX } from '../src/face/align.js';
import { CanonicalAverage } from '../src/face/average.js';
import { meshXYFromXYZ } from '../src/face/correspondence.js';
import { encodePng, readImage, rgbToRgba8 } from '../src/image/index.js';
import { samplePhotos } from '../src/samples/photos.js';
import { REPO_ROOT } from './paths.js';

const aligner = await FaceAligner.create();
const average = new CanonicalAverage(canonicalFrame(await loadCanonicalFaceModel(), CANONICAL_IMAGE_SIZE));
const used: string[] = [];
for (const { path } of samplePhotos()) {
  const photo = await readImage(path);
  for (const face of await aligner.align(photo, basename(path), { face: 'all' })) {
    const box = face.mesh.detection.box;
    // Faces too small to carry detail at this size, or that the mesh network doubts, would blur F.
    if (face.mesh.presence < MIN_PRESENCE || Math.min(box.width, box.height) < 2 * SMALL_FACE_PX) continue;
    average.add(photo, meshXYFromXYZ(face.mesh.points));
    used.push(`${basename(path)}#${face.rank}`);
  }
}
await aligner.dispose();
const mean = average.mean();
const out = join(REPO_ROOT, 'assets', 'canonical-face.png');
mkdirSync(join(REPO_ROOT, 'assets'), { recursive: true });
writeFileSync(out, encodePng(mean.width, mean.height, rgbToRgba8(mean)));
writeFileSync(join(REPO_ROOT, 'assets', 'canonical-face.json'), `${JSON.stringify({
  what: 'csm canonical face image F: mean of sample-photo faces warped onto the MediaPipe canonical face (frontal orthographic projection, canonicalFrame margin 0.08)',
  size: CANONICAL_IMAGE_SIZE, faces: used.length, photos: used, script: 'scripts/make-canonical-face.ts',
}, null, 2)}\n`);
console.log(`wrote ${out}: mean of ${used.length} faces`);
