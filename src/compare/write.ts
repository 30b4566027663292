/**
 * The files of a comparison of two sets of canonical maps, written the same way by `csm compare`
 * and by `csm paper`: compare.png (A | B | A − B, non-significant pixels grey), compare-diff-all.png,
 * compare-convergence.png (each side's CMS change as images are added, with a band), the maps as
 * .npy, compare-regions.md, compare.json (statistics, counts, region table and whatever the caller
 * records beside them) and index.html.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { writeNpy } from '../image/npy.js';
import { lineChart } from '../report/chart.js';
import { rgbaPng } from '../report/colorbar.js';
import { writeHtmlIndex } from '../report/html.js';
import type { CanonicalMapSpace } from '../report/maps.js';
import { regionMasks } from '../report/regions.js';
import { compareFigures } from './figure.js';
import { compareMapSets, compareRegionMarkdown, convergenceBand, toFloat32, type CanonicalMapSet, type MapComparison, type MapNormalisation } from './maps.js';
import { methodDescription, type CompareDesign, type Correction } from './stats.js';

export interface ComparisonSide { label: string; set: CanonicalMapSet }

export interface ComparisonStatistics {
  permutations: number;
  bootstrap: number;
  alpha: number;
  seed: number;
  correction: Correction;
  minImages: number;
}

export interface ComparisonInput {
  design: CompareDesign;
  A: ComparisonSide;
  B: ComparisonSide;
  statistics: ComparisonStatistics;
  /** How each CIS map was normalised before it was kept (recorded). */
  normalise: MapNormalisation;
  space: CanonicalMapSpace;
  /** The report's title. */
  title: string;
  /** Images the caller skipped (counted and listed). */
  skipped: { file: string; cause: string }[];
  /** Images the caller listed (explained or skipped). */
  listed: number;
  /** More fields of compare.json (sides' models, grouping, parameters…), and of the HTML parameters. */
  record?: Record<string, unknown>;
  /** Sentences added to the report's first section. */
  note?: string;
}

export interface WrittenComparison {
  result: MapComparison;
  record: Record<string, unknown>;
  regionMarkdown: string;
  significant: number;
  tested: number;
  /** Set when nothing can be significant (too few images or permutations for α). */
  warning?: string;
}

export const COMPARISON_FILES = ['compare.png', 'compare-diff-all.png', 'compare-convergence.png', 'a.npy', 'b.npy', 'diff.npy', 'diff-low.npy', 'diff-high.npy', 'significant.npy', 't.npy', 'p.npy', 'p-fwer.npy', 'compare-regions.md', 'compare.json', 'index.html'];

const NORMALISE_NOTE: Record<MapNormalisation, string> = {
  'mean-abs': 'each CIS map divided by its mean |value| over its measured pixels (unitless)',
  none: 'none: maps in score units',
};

/** Compares A with B (compareMapSets) and writes every file of a comparison into `out`. */
export async function writeComparison(out: string, input: ComparisonInput): Promise<WrittenComparison> {
  const { design, A, B, space, statistics } = input;
  const size = space.size;
  const t1 = performance.now();
  const masks = space.frame ? regionMasks(space.frame) : undefined;
  const { permutations, bootstrap, alpha, seed, correction, minImages } = statistics;
  const options = { permutations, bootstrap, alpha, seed, correction, minImages };
  const result = compareMapSets(design, A.set, B.set, options, masks);
  const statsSeconds = (performance.now() - t1) / 1000;
  const r = result.pixels;
  const warning = r.minP > alpha
    ? `with ${r.exhaustive ? `${A.set.maps.length} paired images (all ${r.permutations} sign flips)` : `${r.permutations} permutations`} the smallest attainable p-value is ${r.minP.toPrecision(3)} > α = ${alpha}: nothing can be significant; use more images${r.exhaustive ? '' : ' or --permutations'}`
    : undefined;
  const names: [string, string] = [A.label, B.label];
  const sum = (m: Uint8Array): number => m.reduce((s, v) => s + v, 0);
  const figures = compareFigures(result, space, names);
  await mkdir(out, { recursive: true });
  const npy = (name: string, data: Float32Array | Uint8Array): Promise<void> =>
    writeFileAtomic(join(out, name), writeNpy({ dtype: data instanceof Uint8Array ? 'uint8' : 'float32', shape: [size, size], data }));
  await npy('a.npy', toFloat32(r.meanA));
  await npy('b.npy', toFloat32(r.meanB));
  await npy('diff.npy', toFloat32(r.diff));
  await npy('diff-low.npy', toFloat32(r.low));
  await npy('diff-high.npy', toFloat32(r.high));
  await npy('significant.npy', r.significant);
  await npy('t.npy', Float32Array.from(r.t, (v, p) => (r.tested[p] ? v : NaN)));
  await npy('p.npy', toFloat32(r.p));
  await npy('p-fwer.npy', toFloat32(r.pFwer));
  await writeFileAtomic(join(out, 'compare.png'), rgbaPng(figures.figure));
  await writeFileAtomic(join(out, 'compare-diff-all.png'), rgbaPng(figures.diffAll));
  // Fig. 5 with a band: the change of each side's CMS as images are added, over 200 random orders.
  const bands = { A: convergenceBand(A.set.maps, { seed }), B: convergenceBand(B.set.maps, { seed }) };
  const series = (side: 'A' | 'B', label: string) => (['low', 'median', 'high'] as const).map((q) => ({
    label: `${label} ${q === 'median' ? 'median' : q === 'low' ? '2.5 %' : '97.5 %'}`, points: bands[side].map((b) => [b.images, b[q]] as [number, number]),
  }));
  await writeFileAtomic(join(out, 'compare-convergence.png'), rgbaPng(lineChart([...series('A', A.label), ...series('B', B.label)], { logY: true, xLabel: 'images', yLabel: 'relative change of the CMS' })));
  const regionMarkdown = result.regions ? compareRegionMarkdown(result.regions, names, r.options.level) : 'no facial regions (external alignment: no region model)';
  await writeFileAtomic(join(out, 'compare-regions.md'), `${regionMarkdown}\n`);
  const methods = methodDescription(design, r);
  const explained = design === 'paired' ? A.set.maps.length : A.set.maps.length + B.set.maps.length;
  const { sides: extraSides, ...extra } = (input.record ?? {}) as { sides?: { A?: object; B?: object } } & Record<string, unknown>;
  const record: Record<string, unknown> = {
    command: 'compare',
    design,
    sides: {
      A: { label: A.label, images: A.set.maps.length, ...(extraSides?.A ?? {}) },
      B: { label: B.label, images: B.set.maps.length, ...(extraSides?.B ?? {}) },
    },
    normalise: { method: input.normalise, what: NORMALISE_NOTE[input.normalise] },
    statistics: { ...options, level: r.options.level, permutationsUsed: r.permutations, exhaustive: r.exhaustive, minAttainableP: r.minP, maxtThreshold: r.maxtThreshold, maxtRule: 'a pixel is FWER-significant when |t| > maxtThreshold', methods },
    counts: {
      images: input.listed, explained, skipped: input.skipped.length,
      pixels: size * size, testedPixels: sum(r.tested), significantPixels: { chosen: sum(r.significant), maxt: sum(r.fwerMask), fdr: sum(r.fdrMask) },
    },
    regions: result.regions,
    convergence: { what: 'relative change of each side\'s CMS (plain mean of the maps) as images are added: median and 95 % band over 200 random image orders (seeded)', ...bands },
    regionsNote: 'region p-values: raw per region; FWER-adjusted by max-t over the 7 regions; Holm-adjusted. Read the raw ones as 7 tests, not one.',
    ...extra,
    skipped: input.skipped,
    seconds: { ...((extra['seconds'] as object | undefined) ?? {}), statistics: statsSeconds },
    files: COMPARISON_FILES,
  };
  await writeFileAtomic(join(out, 'compare.json'), `${JSON.stringify(record, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  const significant = sum(r.significant), tested = sum(r.tested);
  await writeHtmlIndex(out, {
    title: input.title,
    sections: [
      {
        heading: `${A.label} | ${B.label} | ${A.label} − ${B.label}`,
        text: `${methods.estimate}. ${methods.correction}. ${methods.permutation}. ${methods.interval}. ${methods.missing}.\n\nSignificant pixels: ${significant} of ${tested} tested (max-t: ${sum(r.fwerMask)}, BH: ${sum(r.fdrMask)}). ${input.skipped.length} images skipped.${input.note ? `\n\n${input.note}` : ''}`,
        images: [{ file: 'compare.png', caption: `${A.label} and ${B.label} share a colour range; ${A.label} − ${B.label} is coloured only where significant` }, { file: 'compare-diff-all.png', caption: 'the difference at every tested pixel' }, { file: 'compare-convergence.png', caption: 'how each CMS settles as images are added: median and 95 % band over 200 random image orders' }],
      },
      { heading: 'Facial regions', text: record['regionsNote'] as string, images: [], tables: regionMarkdown },
    ],
    params: { design, statistics: record['statistics'], sides: record['sides'], ...('grouping' in extra ? { grouping: extra['grouping'] } : {}), ...('params' in extra ? { params: extra['params'] } : {}) },
  });
  return { result, record, regionMarkdown, significant, tested, ...(warning ? { warning } : {}) };
}
