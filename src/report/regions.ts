/**
 * Facial regions on the canonical face, to summarise a saliency map as "how much of the drop comes
 * from the eyes, the nose, ..." (the paper discusses its maps in these terms). Regions come from
 * the canonical mesh's landmark index sets (MediaPipe 468-point topology), so they sit on the same
 * canonical pixels as every CIS/CMS map of the same frame size.
 *
 * Every face pixel (triangleRaster ≥ 0) belongs to exactly one region: the landmark polygons are
 * claimed first in a fixed priority, then forehead / chin_jaw by height, and cheeks take the rest.
 */
import { triangleRaster } from '../face/correspondence.js';
import type { CanonicalFrame } from '../face/types.js';
import { toGray, type RgbImage } from '../image/index.js';
import type { RgbaImage } from './colorbar.js';

/** Region names, in the order tables list them. */
export const REGION_NAMES = ['brows', 'eyes', 'nose', 'mouth', 'cheeks', 'forehead', 'chin_jaw'] as const;
export type RegionName = (typeof REGION_NAMES)[number];

/** MediaPipe landmark index sets (subject's right / left). */
const RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246];
const LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466];
const RIGHT_BROW = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46];
const LEFT_BROW = [300, 293, 334, 296, 336, 285, 295, 282, 283, 276];
const LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185];
const NOSE = [168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 129, 358, 49, 279, 48, 278, 64, 294, 102, 331, 209, 429, 217, 437, 115, 344];
const FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149,
  150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109];

export interface RegionOptions {
  /** Eye polygons grow by this fraction of the face width, to take in the eyelids. Default 0.04. */
  eyeDilation?: number;
  /** Brow polygons grow by this fraction of the face width, to take in all of the brow hair. Default 0.02. */
  browDilation?: number;
  /** The lip polygon grows by this fraction of the face width, so the pixels under its outline count as mouth. Default 0.01. */
  mouthDilation?: number;
  /** chin_jaw starts this fraction of the face height below the lowest lip point. Default 0.02. */
  chinMargin?: number;
  /** triangleRaster(frame), if already computed. */
  raster?: Int32Array;
}

type Point = [number, number];

/**
 * One mask per region (frame.size², 1 = in the region). Polygons are claimed in the order
 * eyes, brows, mouth, nose: an eye outranks the brow above it and the nose bridge beside it,
 * because occluding an eye is the more specific explanation of a drop there.
 */
export function regionMasks(frame: CanonicalFrame, opts: RegionOptions = {}): Record<RegionName, Uint8Array> {
  const { size } = frame;
  const raster = opts.raster ?? triangleRaster(frame);
  if (raster.length !== size * size) throw new RangeError(`raster has ${raster.length} pixels, frame needs ${size}×${size}`);
  const pts = (ids: readonly number[]): Point[] => ids.map((i) => [frame.xy[2 * i]!, frame.xy[2 * i + 1]!]);
  const oval = pts(FACE_OVAL);
  const faceW = Math.max(...oval.map((p) => p[0])) - Math.min(...oval.map((p) => p[0]));
  const faceH = Math.max(...oval.map((p) => p[1])) - Math.min(...oval.map((p) => p[1]));

  // Each polygon region: its convex hulls and how far (pixels) a pixel centre may lie outside them.
  const polygons: { name: RegionName; hulls: Point[][]; grow: number }[] = [
    { name: 'eyes', hulls: [convexHull(pts(RIGHT_EYE)), convexHull(pts(LEFT_EYE))], grow: (opts.eyeDilation ?? 0.04) * faceW },
    { name: 'brows', hulls: [convexHull(pts(RIGHT_BROW)), convexHull(pts(LEFT_BROW))], grow: (opts.browDilation ?? 0.02) * faceW },
    { name: 'mouth', hulls: [convexHull(pts(LIPS_OUTER))], grow: (opts.mouthDilation ?? 0.01) * faceW },
    { name: 'nose', hulls: [convexHull(pts(NOSE))], grow: 0 },
  ];
  // "Lowest" in the image = largest y (y points down).
  const browLow = Math.max(...pts([...RIGHT_BROW, ...LEFT_BROW]).map((p) => p[1]));
  const chinTop = Math.max(...pts(LIPS_OUTER).map((p) => p[1])) + (opts.chinMargin ?? 0.02) * faceH;

  const masks = Object.fromEntries(REGION_NAMES.map((n) => [n, new Uint8Array(size * size)])) as Record<RegionName, Uint8Array>;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = y * size + x;
      if (raster[p]! < 0) continue;
      const cx = x + 0.5, cy = y + 0.5;
      let name: RegionName | undefined = polygons.find((r) => r.hulls.some((h) => distanceOutside(h, cx, cy) <= r.grow))?.name;
      name ??= cy < browLow ? 'forehead' : cy > chinTop ? 'chin_jaw' : 'cheeks';
      masks[name][p] = 1;
    }
  }
  return masks;
}

/**
 * Convex hull (Andrew's monotone chain). Vertices come in the order that keeps the interior on the
 * positive-cross side of every edge (counter-clockwise with y up, clockwise as seen in an image).
 */
export function convexHull(points: Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (sorted.length < 3) return sorted;
  const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (seq: Point[]): Point[] => {
    const h: Point[] = [];
    for (const p of seq) {
      while (h.length >= 2 && cross(h[h.length - 2]!, h[h.length - 1]!, p) <= 0) h.pop();
      h.push(p);
    }
    h.pop(); // the last point starts the other half
    return h;
  };
  return [...half(sorted), ...half([...sorted].reverse())];
}

/** 0 inside the convex polygon `hull` (as built by convexHull), else the distance to its boundary. */
function distanceOutside(hull: Point[], x: number, y: number): number {
  let inside = hull.length >= 3;
  let best = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!, b = hull[(i + 1) % hull.length]!;
    const ex = b[0] - a[0], ey = b[1] - a[1];
    // convexHull's order keeps the interior on the left of every edge (cross ≥ 0).
    if (ex * (y - a[1]) - ey * (x - a[0]) < 0) inside = false;
    const len2 = ex * ex + ey * ey;
    const t = len2 > 0 ? Math.min(1, Math.max(0, ((x - a[0]) * ex + (y - a[1]) * ey) / len2)) : 0;
    best = Math.min(best, Math.hypot(x - (a[0] + t * ex), y - (a[1] + t * ey)));
  }
  return inside ? 0 : best;
}

/** One row of a region summary of a map. */
export interface RegionRow {
  region: RegionName;
  pixels: number;
  /** Mean value over the region's pixels (NaN for an empty region). */
  mean: number;
  /** Mean absolute value: large where occlusion matters either way. */
  meanAbs: number;
  /** This region's share of the map's total positive mass (sum of max(v, 0) over all regions); 0 if there is none. */
  share: number;
}

/**
 * Summarises `map` per region. Share counts only positive values because positive saliency is
 * confidence lost by occlusion, the "evidence" a region provides; negative values would cancel it.
 */
export function regionTable(map: Float32Array, masks: Record<RegionName, Uint8Array>): RegionRow[] {
  const stats = REGION_NAMES.map((region) => {
    const m = masks[region];
    if (m.length !== map.length) throw new RangeError(`region ${region} has ${m.length} pixels, map has ${map.length}`);
    let pixels = 0, sum = 0, sumAbs = 0, pos = 0;
    for (let p = 0; p < m.length; p++) {
      if (!m[p]) continue;
      const v = map[p]!;
      pixels++; sum += v; sumAbs += Math.abs(v);
      if (v > 0) pos += v;
    }
    return { region, pixels, sum, sumAbs, pos };
  });
  const total = stats.reduce((s, r) => s + r.pos, 0);
  return stats.map((r) => ({
    region: r.region,
    pixels: r.pixels,
    mean: r.pixels ? r.sum / r.pixels : NaN,
    meanAbs: r.pixels ? r.sumAbs / r.pixels : NaN,
    share: total > 0 ? r.pos / total : 0,
  }));
}

/**
 * Whether every region with pixels has a negative mean: occluding any region raised the
 * confidence on average, so "most salient" would name the least negative one.
 */
export function allRegionsNegative(rows: RegionRow[]): boolean {
  const measured = rows.filter((r) => r.pixels > 0 && Number.isFinite(r.mean));
  return measured.length > 0 && measured.every((r) => r.mean < 0);
}

const ALL_NEGATIVE = 'Every region\'s mean saliency is negative: on average, occluding any region raised the model\'s confidence, so no region is salient in the usual sense (the ranking only orders the least negative first).';

/** The table as GitHub-flavoured markdown (share in percent), with a line saying so when every region is negative. */
export function regionTableMarkdown(rows: RegionRow[]): string {
  const num = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : '—');
  const lines = ['| region | pixels | mean | mean abs | share |', '|---|---:|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.region} | ${r.pixels} | ${num(r.mean)} | ${num(r.meanAbs)} | ${(100 * r.share).toFixed(1)}% |`);
  if (allRegionsNegative(rows)) lines.push('', ALL_NEGATIVE);
  return lines.join('\n');
}

/** A distinct colour per region, for region pictures. */
export const REGION_COLORS: Readonly<Record<RegionName, [number, number, number]>> = {
  brows: [140, 80, 20],
  eyes: [30, 120, 255],
  nose: [255, 200, 0],
  mouth: [230, 30, 60],
  cheeks: [60, 200, 90],
  forehead: [170, 90, 230],
  chin_jaw: [0, 200, 200],
};

/** The regions painted in REGION_COLORS, blended at `alpha` over F in grayscale (F resized by the caller to size). */
export function regionsRgba(masks: Record<RegionName, Uint8Array>, size: number, F?: RgbImage, alpha = 0.55): RgbaImage {
  const rgba = new Uint8Array(4 * size * size);
  const gray = F ? toGray(F) : undefined;
  if (gray && gray.length !== size * size) throw new RangeError(`face image is ${F!.width}x${F!.height}, regions are ${size}×${size}`);
  for (let p = 0; p < size * size; p++) {
    const g = gray ? gray[p]! : 0;
    let color: [number, number, number] | undefined;
    for (const n of REGION_NAMES) if (masks[n][p]) color = REGION_COLORS[n];
    for (let c = 0; c < 3; c++) rgba[4 * p + c] = Math.round(color ? g * (1 - alpha) + color[c]! * alpha : g);
    rgba[4 * p + 3] = 255;
  }
  return { width: size, height: size, rgba };
}

/**
 * The regions ranked by mean signed saliency per pixel (not by share, which grows with a region's
 * area: the cheeks are the largest region), as one sentence for summaries; when every region is
 * negative the sentence says so instead of calling the least negative one "most salient".
 */
export function topRegionsText(rows: RegionRow[], count = 3): string {
  const top = rows.filter((r) => r.pixels > 0).sort((a, b) => b.mean - a.mean).slice(0, count);
  const list = top.map((r) => `${r.region} ${Number(r.mean.toPrecision(3))}`).join(', ');
  if (allRegionsNegative(rows)) return `no salient region: every region's mean saliency is negative (occluding any region raised the confidence on average); least negative: ${list}`;
  return `most salient regions (mean saliency per pixel): ${list}`;
}
