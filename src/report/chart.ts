/**
 * Line and bar charts as RGBA images (PNG figures): labelled axes with tick values, light grid
 * lines, and a legend naming each line or bar colour, all drawn with the built-in bitmap font.
 */
import { drawLine, type Rgba } from '../image/draw.js';
import type { RgbaImage } from './colorbar.js';
import { formatTick } from './colorbar.js';
import { drawText, drawTextUp, GLYPH_HEIGHT, textWidth } from './font.js';

/** Distinct colours, one per method (bars) or series (lines), in order. */
export const BAR_COLORS: [number, number, number][] = [[214, 39, 40], [31, 119, 180], [44, 160, 44], [255, 127, 14], [148, 103, 189], [140, 86, 75]];

const AXIS: Rgba = [60, 60, 60, 255];
const INK: Rgba = [30, 30, 30, 255];
const GRID: Rgba = [225, 225, 225, 255];
const color = (k: number): Rgba => [...BAR_COLORS[k % BAR_COLORS.length]!, 255];

/** One line of a line chart. */
export interface LineSeries {
  /** Its legend entry. */
  label: string;
  points: [number, number][];
}

export interface LineChartOptions {
  width?: number;
  height?: number;
  /** Plot y on a log10 axis (values ≤ 0 are left out). */
  logY?: boolean;
  /** Axis titles, drawn under the x axis and up the y axis. */
  xLabel?: string;
  yLabel?: string;
  /** The legend entry of a single line given as points (series carry their own). */
  label?: string;
}

export interface BarChartOptions {
  width?: number;
  height?: number;
  /** Top of the value axis (default: the largest value). */
  max?: number;
  /** One label per group, under it (e.g. the metric). */
  groupLabels?: string[];
  /** One legend entry per bar colour (e.g. the methods). */
  seriesLabels?: string[];
  xLabel?: string;
  yLabel?: string;
}

function fill(rgba: Uint8Array, width: number, height: number, x0: number, y0: number, x1: number, y1: number, c: Rgba): void {
  for (let y = Math.max(0, y0); y < Math.min(height, y1); y++) {
    for (let x = Math.max(0, x0); x < Math.min(width, x1); x++) {
      const o = (y * width + x) * 4;
      rgba[o] = c[0]; rgba[o + 1] = c[1]; rgba[o + 2] = c[2]; rgba[o + 3] = 255;
    }
  }
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.999)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return ticks;
}

interface Legend { width: number; height: number; draw: (x: number, y: number) => void }

/** Legend entries (a colour swatch or a short line, then the label) laid out in rows of at most `maxWidth`. */
function legend(rgba: Uint8Array, width: number, height: number, labels: string[], maxWidth: number, swatch: 'box' | 'line'): Legend {
  const gap = 14;
  const entryWidth = (l: string): number => 16 + textWidth(l);
  const rows: number[][] = [[]];
  let rowWidth = 0;
  labels.forEach((l, k) => {
    const w = entryWidth(l);
    if (rows[rows.length - 1]!.length && rowWidth + gap + w > maxWidth) { rows.push([]); rowWidth = 0; }
    rowWidth += (rows[rows.length - 1]!.length ? gap : 0) + w;
    rows[rows.length - 1]!.push(k);
  });
  const widths = rows.map((r) => r.reduce((s, k, i) => s + (i ? gap : 0) + entryWidth(labels[k]!), 0));
  const lineH = GLYPH_HEIGHT + 6;
  return {
    width: labels.length ? Math.max(...widths) : 0,
    height: labels.length ? rows.length * lineH - 6 : 0,
    draw: (x, y) => rows.forEach((r, i) => {
      let cx = x + (Math.max(...widths) - widths[i]!);
      const cy = y + i * lineH;
      for (const k of r) {
        if (swatch === 'box') fill(rgba, width, height, cx, cy, cx + 11, cy + GLYPH_HEIGHT, color(k));
        else for (const d of [-1, 0, 1]) drawLine(rgba, width, height, cx, cy + 3 + d * 0.5, cx + 11, cy + 3 + d * 0.5, color(k));
        drawText(rgba, width, height, cx + 16, cy, labels[k]!, INK);
        cx += entryWidth(labels[k]!) + gap;
      }
    }),
  };
}

/** The frame around a plot: margins for tick labels, axis titles and a legend above. */
function frame(width: number, height: number, o: { yTickWidth: number; xLabel?: string | undefined; yLabel?: string | undefined; legendHeight: number; xTickRows: number }) {
  const left = 6 + (o.yLabel ? GLYPH_HEIGHT + 8 : 0) + o.yTickWidth + 6;
  const top = 8 + (o.legendHeight ? o.legendHeight + 10 : 4);
  const bottom = height - (8 + (o.xLabel ? GLYPH_HEIGHT + 8 : 0) + o.xTickRows * (GLYPH_HEIGHT + 6));
  const right = width - 14;
  return { left, top, bottom, right };
}

function axisTitles(rgba: Uint8Array, width: number, height: number, f: { left: number; top: number; bottom: number; right: number }, xLabel?: string, yLabel?: string): void {
  if (xLabel) drawText(rgba, width, height, Math.round((f.left + f.right) / 2 - textWidth(xLabel) / 2), height - 8 - GLYPH_HEIGHT, xLabel, INK);
  if (yLabel) drawTextUp(rgba, width, height, 6, Math.max(0, Math.round((f.top + f.bottom) / 2 - textWidth(yLabel) / 2)), yLabel, INK);
}

/**
 * A line chart of one line (`points`) or several (`series`, each with its legend entry): x and y
 * axes with round tick values and grid lines, optional axis titles, a legend above the plot.
 */
export function lineChart(points: [number, number][], opts?: LineChartOptions): RgbaImage;
export function lineChart(series: LineSeries[], opts?: LineChartOptions): RgbaImage;
export function lineChart(data: [number, number][] | LineSeries[], opts: LineChartOptions = {}): RgbaImage {
  const width = opts.width ?? 560;
  const height = opts.height ?? 340;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  const series: LineSeries[] = data.length && !Array.isArray(data[0]) ? (data as LineSeries[]) : [{ label: opts.label ?? '', points: data as [number, number][] }];
  const tr = series.map((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!opts.logY || y > 0)).map(([x, y]) => [x, opts.logY ? Math.log10(y) : y] as [number, number]));
  const all = tr.flat();
  const labels = series.map((s) => s.label);
  const hasLegend = labels.some((l) => l);
  let [x0, x1] = all.length ? [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))] : [0, 1];
  let [y0, y1] = all.length ? [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))] : [0, 1];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= opts.logY ? 0.5 : Math.abs(y0) * 0.1 || 1; y1 += opts.logY ? 0.5 : Math.abs(y1) * 0.1 || 1; }
  // A log axis ticks at whole decades when it spans two or more, else at round values.
  const decades = opts.logY ? niceTicks(Math.ceil(y0), Math.floor(y1), 5).filter((v) => Number.isInteger(v) && v >= y0 && v <= y1) : [];
  const yTicks = !opts.logY ? niceTicks(y0, y1, 4)
    : decades.length >= 2 ? decades
      : niceTicks(10 ** y0, 10 ** y1, 4).filter((v) => v > 0).map(Math.log10);
  const yText = (v: number): string => formatTick(opts.logY ? Number((10 ** v).toPrecision(6)) : v);
  // Whole-number data (counts of images, layers) ticks at whole numbers only.
  const xTicks = all.every((p) => Number.isInteger(p[0])) ? niceTicks(x0, x1, Math.min(6, x1 - x0)).filter(Number.isInteger) : niceTicks(x0, x1, 6);
  const lg = legend(rgba, width, height, hasLegend ? labels : [], width - 40, 'line');
  const f = frame(width, height, { yTickWidth: Math.max(...yTicks.map((v) => textWidth(yText(v)))), xLabel: opts.xLabel, yLabel: opts.yLabel, legendHeight: lg.height, xTickRows: 1 });
  const px = (x: number): number => f.left + ((x - x0) / (x1 - x0)) * (f.right - f.left);
  const py = (y: number): number => f.bottom - ((y - y0) / (y1 - y0)) * (f.bottom - f.top);
  for (const v of yTicks) {
    const y = Math.round(py(v));
    drawLine(rgba, width, height, f.left + 1, y, f.right, y, GRID);
    drawLine(rgba, width, height, f.left - 3, y, f.left, y, AXIS);
    const t = yText(v);
    drawText(rgba, width, height, f.left - 5 - textWidth(t), y - Math.floor(GLYPH_HEIGHT / 2), t, INK);
  }
  for (const v of xTicks) {
    const x = Math.round(px(v));
    drawLine(rgba, width, height, x, f.top, x, f.bottom - 1, GRID);
    drawLine(rgba, width, height, x, f.bottom, x, f.bottom + 3, AXIS);
    const t = formatTick(v);
    drawText(rgba, width, height, Math.round(x - textWidth(t) / 2), f.bottom + 6, t, INK);
  }
  drawLine(rgba, width, height, f.left, f.top, f.left, f.bottom, AXIS);
  drawLine(rgba, width, height, f.left, f.bottom, f.right, f.bottom, AXIS);
  tr.forEach((pts, k) => {
    const c = color(k);
    for (let i = 1; i < pts.length; i++) drawLine(rgba, width, height, px(pts[i - 1]![0]), py(pts[i - 1]![1]), px(pts[i]![0]), py(pts[i]![1]), c);
    if (pts.length === 1) drawLine(rgba, width, height, px(pts[0]![0]) - 2, py(pts[0]![1]), px(pts[0]![0]) + 2, py(pts[0]![1]), c);
  });
  axisTitles(rgba, width, height, f, opts.xLabel, opts.yLabel);
  lg.draw(f.right - lg.width, 8);
  return { width, height, rgba };
}

/**
 * Grouped bars (the paper's Figs. 10–12): one group per entry of `groups` (labelled under it), one
 * bar per series in BAR_COLORS order (named in the legend), each bar labelled with its value, over
 * a value axis with round ticks.
 */
export function barChart(groups: number[][], opts: BarChartOptions = {}): RgbaImage {
  const width = opts.width ?? 560;
  const height = opts.height ?? 340;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  const max = opts.max ?? Math.max(1e-9, ...groups.flat().filter(Number.isFinite));
  const ticks = niceTicks(0, max, 4).filter((v) => v <= max * (1 + 1e-9));
  const lg = legend(rgba, width, height, opts.seriesLabels ?? [], width - 40, 'box');
  const f = frame(width, height, {
    yTickWidth: Math.max(...ticks.map((v) => textWidth(formatTick(v)))), xLabel: opts.xLabel, yLabel: opts.yLabel, legendHeight: lg.height,
    xTickRows: opts.groupLabels?.length ? 1 : 0,
  });
  // Room above the tallest bar for its value label.
  const plotTop = f.top + GLYPH_HEIGHT + 4;
  const py = (v: number): number => Math.round(f.bottom - (Math.min(Math.max(0, v), max) / max) * (f.bottom - plotTop));
  for (const v of ticks) {
    const y = py(v);
    if (v > 0) drawLine(rgba, width, height, f.left + 1, y, f.right, y, GRID);
    drawLine(rgba, width, height, f.left - 3, y, f.left, y, AXIS);
    const t = formatTick(v);
    drawText(rgba, width, height, f.left - 5 - textWidth(t), y - Math.floor(GLYPH_HEIGHT / 2), t, INK);
  }
  const groupWidth = (f.right - f.left) / Math.max(1, groups.length);
  groups.forEach((values, g) => {
    const barWidth = (groupWidth * 0.8) / Math.max(1, values.length);
    values.forEach((v, m) => {
      const x0 = Math.round(f.left + g * groupWidth + groupWidth * 0.1 + m * barWidth);
      const x1 = Math.round(x0 + barWidth - 2);
      const y0 = py(v);
      fill(rgba, width, height, x0, y0, x1, f.bottom, color(m));
      const t = Number.isFinite(v) ? formatTick(Number(v.toFixed(1))) : 'NaN';
      drawText(rgba, width, height, Math.round((x0 + x1) / 2 - textWidth(t) / 2), y0 - GLYPH_HEIGHT - 3, t, INK);
    });
    const label = opts.groupLabels?.[g];
    if (label) drawText(rgba, width, height, Math.round(f.left + (g + 0.5) * groupWidth - textWidth(label) / 2), f.bottom + 6, label, INK);
  });
  drawLine(rgba, width, height, f.left, plotTop - GLYPH_HEIGHT - 4, f.left, f.bottom, AXIS);
  drawLine(rgba, width, height, f.left, f.bottom, f.right, f.bottom, AXIS);
  axisTitles(rgba, width, height, f, opts.xLabel, opts.yLabel);
  lg.draw(f.right - lg.width, 8);
  return { width, height, rgba };
}

export interface IntervalBarChartOptions {
  width?: number;
  height?: number;
  /** Top of the value axis (default: the largest value or interval bound). */
  max?: number;
  /** Per group, per bar: the interval drawn as an error bar (whisker with caps). */
  intervals?: { low: number; high: number }[][];
  /** A label under each group. */
  groupLabels?: string[];
  /** One name per bar colour (the methods), drawn as a legend of colour swatches. */
  legend?: string[];
  /** The value axis's title, drawn above it. */
  yLabel?: string;
}

/**
 * Grouped bars with error bars, a labelled value axis (ticks every quarter), group labels and a
 * legend: the faithfulness figure with its 95 % intervals. Bars are coloured in BAR_COLORS order.
 */
export function intervalBarChart(groups: number[][], opts: IntervalBarChartOptions = {}): RgbaImage {
  const width = opts.width ?? 560;
  const legend = opts.legend ?? [];
  const legendRows = Math.ceil(legend.length / 3);
  const height = opts.height ?? 320 + legendRows * 12;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  const ink: [number, number, number, number] = [30, 30, 30, 255];
  const axis: [number, number, number, number] = [60, 60, 60, 255];
  const left = 44;
  const right = width - 10;
  const top = 28;
  const bottom = height - 22 - legendRows * 12 - 6;
  const bounds = (opts.intervals ?? []).flat().map((i) => i.high).filter(Number.isFinite);
  const max = opts.max ?? Math.max(1e-9, ...groups.flat(), ...bounds);
  const py = (v: number): number => Math.round(bottom - (Math.min(Math.max(v, 0), max) / max) * (bottom - top));
  drawLine(rgba, width, height, left, top, left, bottom, axis);
  drawLine(rgba, width, height, left, bottom, right, bottom, axis);
  for (let q = 0; q <= 4; q++) {
    const v = (max * q) / 4;
    const t = formatTick(Number(v.toFixed(1)));
    drawLine(rgba, width, height, left - 3, py(v), left, py(v), axis);
    drawText(rgba, width, height, left - 5 - textWidth(t), py(v) - Math.floor(GLYPH_HEIGHT / 2), t, ink);
  }
  if (opts.yLabel) drawText(rgba, width, height, 4, 6, opts.yLabel, ink);
  const groupWidth = (right - left - 4) / Math.max(1, groups.length);
  groups.forEach((values, g) => {
    const gx = left + 4 + g * groupWidth;
    const barWidth = (groupWidth * 0.8) / Math.max(1, values.length);
    values.forEach((v, m) => {
      const x0 = Math.round(gx + groupWidth * 0.1 + m * barWidth);
      const x1 = Math.round(x0 + barWidth - 2);
      const y0 = py(v);
      const [r, gr, b] = BAR_COLORS[m % BAR_COLORS.length]!;
      for (let y = y0; y < bottom; y++) for (let x = x0; x < x1; x++) { const o = (y * width + x) * 4; rgba[o] = r; rgba[o + 1] = gr; rgba[o + 2] = b; rgba[o + 3] = 255; }
      const interval = opts.intervals?.[g]?.[m];
      const mid = Math.round((x0 + x1) / 2);
      let labelY = y0;
      if (interval && Number.isFinite(interval.low) && Number.isFinite(interval.high)) {
        const [lo, hi] = [py(interval.low), py(interval.high)];
        const cap = Math.max(2, Math.round(barWidth / 5));
        drawLine(rgba, width, height, mid, lo, mid, hi, ink);
        drawLine(rgba, width, height, mid - cap, lo, mid + cap, lo, ink);
        drawLine(rgba, width, height, mid - cap, hi, mid + cap, hi, ink);
        labelY = Math.min(labelY, hi);
      }
      const t = formatTick(Number(v.toFixed(1)));
      drawText(rgba, width, height, Math.round(mid - textWidth(t) / 2), labelY - GLYPH_HEIGHT - 3, t, ink);
    });
    const label = opts.groupLabels?.[g];
    if (label) drawText(rgba, width, height, Math.round(gx + groupWidth / 2 - textWidth(label) / 2), bottom + 6, label, ink);
  });
  const column = Math.floor((width - 20) / 3);
  legend.forEach((name, m) => {
    const x = 10 + (m % 3) * column;
    const y = height - 6 - legendRows * 12 + Math.floor(m / 3) * 12;
    const [r, gr, b] = BAR_COLORS[m % BAR_COLORS.length]!;
    for (let yy = y; yy < y + 8; yy++) for (let xx = x; xx < x + 10; xx++) { const o = (yy * width + xx) * 4; rgba[o] = r; rgba[o + 1] = gr; rgba[o + 2] = b; rgba[o + 3] = 255; }
    drawText(rgba, width, height, x + 14, y, name, ink);
  });
  return { width, height, rgba };
}
