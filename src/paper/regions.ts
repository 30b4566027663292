/**
 * Region numbers of one set of per-image canonical maps, each with a 95 % bootstrap interval over
 * images: the mean saliency of each facial region (per image: the mean over the region's measured
 * pixels, as compare's region table), and whether one region leads the others.
 */
import type { CanonicalMapSet } from '../compare/maps.js';
import { regionSample } from '../compare/maps.js';
import { bootstrapMeans, type BootstrapOptions } from '../eval/stats.js';
import { REGION_NAMES, type RegionName } from '../report/regions.js';

export interface RegionInterval {
  region: RegionName;
  /** Images that measured the region. */
  images: number;
  mean: number;
  low: number;
  high: number;
}

/** Per region: the mean over images of the region's per-image mean, with its bootstrap interval. */
export function regionIntervals(set: CanonicalMapSet, masks: Record<RegionName, Uint8Array>, options: BootstrapOptions = {}): RegionInterval[] {
  const sample = regionSample(set.maps, set.covered, masks);
  return REGION_NAMES.map((region, k) => {
    const values = sample.values.filter((_, i) => sample.valid[i]![k]).map((v) => v[k]!);
    if (values.length === 0) return { region, images: 0, mean: NaN, low: NaN, high: NaN };
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const [ci] = values.length > 1 ? bootstrapMeans([values], options) : [{ low: NaN, high: NaN }];
    return { region, images: values.length, mean, low: ci!.low, high: ci!.high };
  });
}

export interface RegionLead {
  /** The region asked about (e.g. the nose for head pose). */
  region: RegionName;
  /** Its rank by mean among the regions (1 = the most salient). */
  rank: number;
  /** The other region with the highest mean. */
  runnerUp: RegionName;
  /** Mean over images of (region − runnerUp), with its bootstrap interval: > 0 throughout means it leads. */
  lead: number;
  low: number;
  high: number;
  images: number;
}

/**
 * How `region` stands against the best other region: its rank, and the paired difference
 * region − runner-up over the images that measured both, with a bootstrap interval.
 */
export function regionLead(set: CanonicalMapSet, masks: Record<RegionName, Uint8Array>, region: RegionName, options: BootstrapOptions = {}): RegionLead {
  const rows = regionIntervals(set, masks, options);
  const ranked = rows.filter((r) => r.images > 0).sort((a, b) => b.mean - a.mean);
  const rank = ranked.findIndex((r) => r.region === region) + 1;
  const runnerUp = ranked.find((r) => r.region !== region)?.region ?? region;
  const sample = regionSample(set.maps, set.covered, masks);
  const k = REGION_NAMES.indexOf(region), j = REGION_NAMES.indexOf(runnerUp);
  const diffs = sample.values.filter((_, i) => sample.valid[i]![k] && sample.valid[i]![j]).map((v) => v[k]! - v[j]!);
  const lead = diffs.length ? diffs.reduce((s, v) => s + v, 0) / diffs.length : NaN;
  const [ci] = diffs.length > 1 ? bootstrapMeans([diffs], options) : [{ low: NaN, high: NaN }];
  return { region, rank, runnerUp, lead, low: ci!.low, high: ci!.high, images: diffs.length };
}

const num = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(3))) : '—');

/** "0.12 [0.10, 0.15]" */
export const withInterval = (mean: number, low: number, high: number): string => `${num(mean)} [${num(low)}, ${num(high)}]`;

/** Region intervals of several sets as one markdown table: a row per region, a column per set, ranked by the first. */
export function regionIntervalMarkdown(columns: { name: string; rows: RegionInterval[] }[]): string {
  const head = `| region | ${columns.map((c) => `${c.name}: mean [95 % CI]`).join(' | ')} |`;
  const lines = [head, `|---|${columns.map(() => '---:').join('|')}|`];
  for (const region of REGION_NAMES) {
    lines.push(`| ${region} | ${columns.map((c) => { const r = c.rows.find((x) => x.region === region)!; return withInterval(r.mean, r.low, r.high); }).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Each set's top region and its lead over the runner-up as a markdown table. */
export function leadMarkdown(rows: { name: string; lead: RegionLead }[]): string {
  return ['| map | top region | runner-up | top − runner-up [95 % CI] | images |', '|---|---|---|---:|---:|',
    ...rows.map(({ name, lead: l }) => `| ${name} | ${l.region} | ${l.runnerUp} | ${withInterval(l.lead, l.low, l.high)} | ${l.images} |`)].join('\n');
}
