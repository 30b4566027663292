/**
 * Writing a canonical map (a CIS or a CMS) as a user gets it: the raw float32 `.npy`, heatmaps in
 * jet and turbo with colour bars, the overlay on the canonical face F (Fig. 1 style), the facial
 * region table, and a JSON sidecar holding every parameter that made it.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CanonicalFrame } from '../face/types.js';
import { writeNpy, type RgbImage } from '../image/index.js';
import { writeFilesAtomic, type AtomicWriteOptions, type OutputFile } from '../io/atomic.js';
import { heatmapWithColorbar, rgbaPng, withColorbar } from './colorbar.js';
import { COLORMAP_NAMES, type ColormapName } from './colormap.js';
import { canonicalOverlay, photoOverlay } from './overlay.js';
import { regionMasks, regionTable, regionTableMarkdown, type RegionName, type RegionRow } from './regions.js';

export interface CanonicalMapSpace {
  size: number;
  /** The canonical face image F at `size`. */
  face: RgbImage;
  /** csm's own canonical frame (absent for external alignments, which have no region model). */
  frame?: CanonicalFrame;
  /** Pixels where the map is defined (for external alignments: where any patch landed). */
  mask?: Uint8Array;
}

export interface WrittenMap {
  files: string[];
  regions?: RegionRow[];
}

const regionCache = new Map<CanonicalFrame, Record<RegionName, Uint8Array>>();

/** Pixels that any patch reached (count or coverage > 0): where a map is defined. */
export function coverageMask(counts: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(counts, (c) => (c > 0 ? 1 : 0));
}

/** The files of a canonical map, encoded but not written (see {@link writeCanonicalMap}). */
export interface CanonicalMapFiles {
  outputs: OutputFile[];
  regions?: RegionRow[];
}

/**
 * Encodes `<stem>.npy`, `<stem>-jet.png`, `<stem>-turbo.png`, `<stem>-overlay.png`,
 * `<stem>-regions.md` and `<stem>.json` for `dir` without writing them, so that a caller can write
 * them together with its own files in one atomic set (writeFilesAtomic).
 */
export function canonicalMapFiles(dir: string, stem: string, map: Float32Array, space: CanonicalMapSpace, sidecar: Record<string, unknown>, overlayColormap: ColormapName = 'jet'): CanonicalMapFiles {
  const { size } = space;
  const outputs: OutputFile[] = [];
  const put = (name: string, data: Uint8Array | string): void => {
    outputs.push({ path: join(dir, name), data });
  };
  put(`${stem}.npy`, writeNpy({ dtype: 'float32', shape: [size, size], data: map }));
  for (const colormap of COLORMAP_NAMES) {
    put(`${stem}-${colormap}.png`, rgbaPng(heatmapWithColorbar(map, size, { colormap, ...(space.mask ? { mask: space.mask } : {}) })));
  }
  const overlay = space.frame
    ? canonicalOverlay(map, space.frame, space.face, { colormap: overlayColormap, ...(space.mask ? { mask: space.mask } : {}) })
    : photoOverlay(space.face, map, space.mask ?? new Uint8Array(size * size).fill(1), { colormap: overlayColormap });
  put(`${stem}-overlay.png`, rgbaPng(withColorbar(overlay, { colormap: overlayColormap, range: overlay.range })));
  let regions: RegionRow[] | undefined;
  if (space.frame) {
    let masks = regionCache.get(space.frame);
    if (!masks) { masks = regionMasks(space.frame); regionCache.set(space.frame, masks); }
    regions = regionTable(map, masks);
    put(`${stem}-regions.md`, `${regionTableMarkdown(regions)}\n`);
  }
  const names = outputs.map((f) => f.path.slice(dir.length + 1)).concat(`${stem}.json`);
  put(`${stem}.json`, `${JSON.stringify({ ...sidecar, ...(regions ? { regions } : {}), files: names }, null, 2)}\n`);
  return { outputs, ...(regions ? { regions } : {}) };
}

/**
 * Writes `<stem>.npy`, `<stem>-jet.png`, `<stem>-turbo.png`, `<stem>-overlay.png`, `<stem>-regions.md`
 * and `<stem>.json` (creating `dir`), atomically and after a free-space check (writeFilesAtomic):
 * a full disk leaves none of them half written.
 */
export async function writeCanonicalMap(
  dir: string, stem: string, map: Float32Array, space: CanonicalMapSpace, sidecar: Record<string, unknown>, overlayColormap: ColormapName = 'jet', options: AtomicWriteOptions = {},
): Promise<WrittenMap> {
  await mkdir(dir, { recursive: true });
  const { outputs, regions } = canonicalMapFiles(dir, stem, map, space, sidecar, overlayColormap);
  const files = await writeFilesAtomic(outputs, options);
  return { files, ...(regions ? { regions } : {}) };
}
