/**
 * Comparing two sets of canonical maps (per-image CIS maps with their coverage) pixel by pixel and
 * region by region, with the statistics of ./stats.ts. The region table uses the facial regions of
 * src/report/regions.ts.
 *
 * Per-image maps are kept in memory (float32 map + uint8 coverage: 5 bytes per pixel per map), so a
 * comparison needs about 5 · H_F² · (maps of A + maps of B) bytes, plus the per-image difference
 * maps of a paired comparison (another 5 · H_F² · images): 200 images per side at H_F = 256 take
 * about 200 MB (paired, ~330 MB with the differences); see {@link compareMemoryBytes}.
 *
 * Region values: for each image and region, the mean of the map over the region's pixels that the
 * image measured (paired: measured by both maps); an image that measured none of a region's pixels
 * is missing for that region. The region estimate is the mean of these per-image values, with the
 * same bootstrap and permutation scheme as the pixels; the region p-values are given raw, with the
 * max-statistic FWER adjustment over the 7 regions, and with Holm's adjustment.
 */
import { quantileSorted, seededRandom } from '../eval/stats.js';
import { REGION_NAMES, type RegionName } from '../report/regions.js';
import { compareSamples, holm, type CompareDesign, type CompareOptions, type CompareResult, type MapSample } from './stats.js';

/** Per-image canonical maps of one side: `covered[i][p]` = 1 where a patch reached pixel p in image i (CIS count > 0). */
export interface CanonicalMapSet {
  size: number;
  maps: Float32Array[];
  covered: Uint8Array[];
  ids: string[];
}

export interface CompareRegionRow {
  region: RegionName;
  pixels: number;
  /** Images with a value for the region (paired: in both maps; groups: A, B). */
  imagesA: number;
  imagesB: number;
  a: number;
  b: number;
  diff: number;
  low: number;
  high: number;
  t: number;
  /** Raw permutation p-value of this region alone. */
  p: number;
  /** Max-statistic FWER-adjusted over the 7 regions. */
  pFwer: number;
  /** Holm-adjusted over the 7 regions. */
  pHolm: number;
  /** Pixels of the region in the pixel-level significance mask. */
  significantPixels: number;
  testedPixels: number;
}

export interface MapComparison {
  design: CompareDesign;
  size: number;
  pixels: CompareResult;
  regions?: CompareRegionRow[];
  regionResult?: CompareResult;
}

/** Bytes the per-image maps of a comparison hold in memory (see the module comment). */
export function compareMemoryBytes(design: CompareDesign, imagesA: number, imagesB: number, size: number): number {
  const per = 5 * size * size;
  return per * (imagesA + imagesB + (design === 'paired' ? imagesA : 0));
}

export type MapNormalisation = 'none' | 'mean-abs';

/**
 * A per-image map made scale-free: 'mean-abs' divides it by its mean |value| over the measured
 * pixels (a map that is 0 everywhere stays 0), so that models whose scores have different scales
 * (a softmax logit, a sigmoid's log-odds) are compared by where they look, not by how much their
 * score moves. 'none' returns the map itself.
 */
export function normaliseMap(map: Float32Array, covered: ArrayLike<number>, how: MapNormalisation): Float32Array {
  if (how === 'none') return map;
  let s = 0, n = 0;
  for (let p = 0; p < map.length; p++) if (covered[p]) { s += Math.abs(map[p]!); n++; }
  const scale = n > 0 && s > 0 ? n / s : 1;
  return map.map((v) => v * scale);
}

/** Region values per image: mean over the region's valid pixels; valid when at least one pixel is. */
export function regionSample(values: ArrayLike<number>[], valid: ArrayLike<number>[], masks: Record<RegionName, Uint8Array>): MapSample {
  const R = REGION_NAMES.length;
  const lists = REGION_NAMES.map((n) => { const m = masks[n]; const ix: number[] = []; for (let p = 0; p < m.length; p++) if (m[p]) ix.push(p); return ix; });
  const out: MapSample = { columns: R, values: [], valid: [] };
  for (let i = 0; i < values.length; i++) {
    const v = new Float64Array(R), ok = new Uint8Array(R);
    lists.forEach((ix, k) => {
      let s = 0, n = 0;
      for (const p of ix) if (valid[i]![p]) { s += values[i]![p]!; n++; }
      if (n > 0) { v[k] = s / n; ok[k] = 1; }
    });
    out.values.push(v);
    out.valid.push(ok);
  }
  return out;
}

/**
 * Compares side A with side B. Paired: the same images in the same order (ids must agree), and
 * each image is compared only where both maps are measured. Groups: independent images.
 * `regions` (from regionMasks) adds the region table.
 */
export function compareMapSets(design: CompareDesign, a: CanonicalMapSet, b: CanonicalMapSet, options: CompareOptions = {}, regions?: Record<RegionName, Uint8Array>): MapComparison {
  if (a.size !== b.size) throw new RangeError(`side A has ${a.size}×${a.size} maps, side B ${b.size}×${b.size}`);
  const P = a.size * a.size;
  let validA: ArrayLike<number>[] = a.covered, validB: ArrayLike<number>[] = b.covered;
  if (design === 'paired') {
    if (a.ids.length !== b.ids.length || a.ids.some((id, i) => id !== b.ids[i])) throw new RangeError('a paired comparison needs the same images, in the same order, on both sides');
    validA = a.covered.map((m, i) => { const j = new Uint8Array(P); const mb = b.covered[i]!; for (let p = 0; p < P; p++) j[p] = m[p] && mb[p] ? 1 : 0; return j; });
    validB = validA;
  }
  const pixels = compareSamples(design, { columns: P, values: a.maps, valid: validA }, { columns: P, values: b.maps, valid: validB }, options);
  if (!regions) return { design, size: a.size, pixels };
  const ra = regionSample(a.maps, validA, regions), rb = regionSample(b.maps, validB, regions);
  // Region columns are few: one block, same seeds and resample counts as the pixels.
  const regionResult = compareSamples(design, ra, rb, { ...options, block: REGION_NAMES.length });
  const pHolm = holm(regionResult.p);
  const rows: CompareRegionRow[] = REGION_NAMES.map((region, k) => {
    const m = regions[region];
    let pix = 0, sig = 0, tested = 0;
    for (let p = 0; p < P; p++) if (m[p]) { pix++; if (pixels.tested[p]) tested++; if (pixels.significant[p]) sig++; }
    return {
      region, pixels: pix, imagesA: regionResult.countA[k]!, imagesB: regionResult.countB[k]!,
      a: regionResult.meanA[k]!, b: regionResult.meanB[k]!, diff: regionResult.diff[k]!, low: regionResult.low[k]!, high: regionResult.high[k]!,
      t: regionResult.t[k]!, p: regionResult.p[k]!, pFwer: regionResult.pFwer[k]!, pHolm: pHolm[k]!, significantPixels: sig, testedPixels: tested,
    };
  });
  return { design, size: a.size, pixels, regions: rows, regionResult };
}

const num = (v: number, digits = 3): string => (Number.isFinite(v) ? String(Number(v.toPrecision(digits))) : '—');
const pval = (v: number): string => (Number.isFinite(v) ? (v < 0.001 ? v.toExponential(1) : v.toFixed(3)) : '—');

/** The region table as markdown: A, B, A − B with its interval, and the permutation p-values. */
export function compareRegionMarkdown(rows: CompareRegionRow[], names: [string, string], level = 0.95): string {
  const lines = [
    `| region | ${names[0]} | ${names[1]} | ${names[0]} − ${names[1]} | ${Math.round(level * 100)} % interval | p (raw) | p (FWER, max-t over regions) | p (Holm) | significant pixels |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.region} | ${num(r.a)} | ${num(r.b)} | ${num(r.diff)} | [${num(r.low)}, ${num(r.high)}] | ${pval(r.p)} | ${pval(r.pFwer)} | ${pval(r.pHolm)} | ${r.significantPixels} / ${r.testedPixels} |`);
  }
  return lines.join('\n');
}

/** A float64 column result as a float32 map (NaN where untested). */
export function toFloat32(values: Float64Array): Float32Array {
  return Float32Array.from(values);
}

/** One point of a convergence band: after `images` images, quantiles of the change over random orderings. */
export interface ConvergenceBandPoint { images: number; median: number; low: number; high: number }

/**
 * How fast the CMS of a set of maps settles (the paper's Fig. 5), with a band: the curve
 * ‖mean_k − mean_{k−1}‖₂ / ‖mean_k‖₂ (as CmsAccumulator's, maps taken as they are, 0 where a CIS
 * has no count) depends on the order the images come in, so it is computed for `orderings` random
 * orders (seeded) and summarised per k by its median and the (1 ± level)/2 quantiles.
 * Cost: orderings × images × H_F² additions.
 */
export function convergenceBand(maps: Float32Array[], options: { orderings?: number; seed?: number; level?: number } = {}): ConvergenceBandPoint[] {
  const R = options.orderings ?? 200, level = options.level ?? 0.95;
  const random = seededRandom(((options.seed ?? 1) ^ 0x27d4eb2f) >>> 0);
  const N = maps.length;
  if (N === 0) return [];
  const P = maps[0]!.length;
  const curves = Array.from({ length: N }, () => new Float64Array(R));
  const sum = new Float64Array(P);
  const order = Int32Array.from({ length: N }, (_, i) => i);
  for (let r = 0; r < R; r++) {
    for (let i = N - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); const x = order[i]!; order[i] = order[j]!; order[j] = x; }
    sum.fill(0);
    for (let k = 1; k <= N; k++) {
      const m = maps[order[k - 1]!]!;
      let diff2 = 0, norm2 = 0;
      for (let p = 0; p < P; p++) {
        const before = sum[p]!;
        const after = before + m[p]!;
        sum[p] = after;
        const cur = after / k;
        const d = cur - (k > 1 ? before / (k - 1) : 0);
        diff2 += d * d; norm2 += cur * cur;
      }
      curves[k - 1]![r] = norm2 > 0 ? Math.sqrt(diff2 / norm2) : 0;
    }
  }
  const tail = (1 - level) / 2;
  return curves.map((c, k) => {
    c.sort();
    return { images: k + 1, median: quantileSorted(c, 0.5), low: quantileSorted(c, tail), high: quantileSorted(c, 1 - tail) };
  });
}
