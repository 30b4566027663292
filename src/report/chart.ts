/**
 * A minimal line chart (the CMS convergence curve, Fig. 5): axes, tick values and one line, drawn
 * with the built-in bitmap font, which has digits only; the caption next to the figure names the axes.
 */
import { drawLine } from '../image/draw.js';
import type { RgbaImage } from './colorbar.js';
import { formatTick } from './colorbar.js';
import { drawText, GLYPH_HEIGHT, textWidth } from './font.js';

export interface LineChartOptions {
  width?: number;
  height?: number;
  /** Plot y on a log10 axis (values ≤ 0 are left out). */
  logY?: boolean;
}

export function lineChart(points: [number, number][], opts: LineChartOptions = {}): RgbaImage {
  const width = opts.width ?? 480;
  const height = opts.height ?? 300;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  const pts = points.filter(([, y]) => Number.isFinite(y) && (!opts.logY || y > 0)).map(([x, y]) => [x, opts.logY ? Math.log10(y) : y] as [number, number]);
  const left = 56;
  const bottom = height - 24;
  const top = 10;
  const right = width - 12;
  const axis: [number, number, number, number] = [60, 60, 60, 255];
  drawLine(rgba, width, height, left, top, left, bottom, axis);
  drawLine(rgba, width, height, left, bottom, right, bottom, axis);
  if (pts.length === 0) return { width, height, rgba };
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const px = (x: number): number => left + ((x - x0) / Math.max(1e-12, x1 - x0)) * (right - left);
  const py = (y: number): number => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  const label = (v: number): string => formatTick(opts.logY ? 10 ** v : v);
  const ink: [number, number, number, number] = [40, 40, 40, 255];
  for (const v of [y0, (y0 + y1) / 2, y1]) {
    const t = label(v);
    drawText(rgba, width, height, left - 4 - textWidth(t), Math.round(py(v) - GLYPH_HEIGHT / 2), t, ink);
    drawLine(rgba, width, height, left - 3, py(v), left, py(v), axis);
  }
  for (const v of [x0, x1]) {
    const t = formatTick(v);
    drawText(rgba, width, height, Math.round(px(v) - textWidth(t) / 2), bottom + 6, t, ink);
  }
  const line: [number, number, number, number] = [200, 40, 40, 255];
  for (let k = 1; k < pts.length; k++) drawLine(rgba, width, height, px(pts[k - 1]![0]), py(pts[k - 1]![1]), px(pts[k]![0]), py(pts[k]![1]), line);
  return { width, height, rgba };
}

/** Distinct bar colours, one per method, in order (the figure's caption names them). */
export const BAR_COLORS: [number, number, number][] = [[214, 39, 40], [31, 119, 180], [44, 160, 44], [255, 127, 14], [148, 103, 189], [140, 86, 75]];

/**
 * Grouped bars (the paper's Figs. 10–12): one group per entry of `groups`, one bar per method in
 * BAR_COLORS order, each labelled with its value.
 */
export function barChart(groups: number[][], opts: { width?: number; height?: number; max?: number } = {}): RgbaImage {
  const width = opts.width ?? 480;
  const height = opts.height ?? 300;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  const left = 16;
  const bottom = height - 12;
  const top = 22;
  const max = opts.max ?? Math.max(1e-9, ...groups.flat());
  drawLine(rgba, width, height, left, bottom, width - 8, bottom, [60, 60, 60, 255]);
  const groupWidth = (width - left - 16) / Math.max(1, groups.length);
  groups.forEach((values, g) => {
    const barWidth = (groupWidth * 0.8) / Math.max(1, values.length);
    values.forEach((v, m) => {
      const x0 = Math.round(left + g * groupWidth + groupWidth * 0.1 + m * barWidth);
      const x1 = Math.round(x0 + barWidth - 2);
      const y0 = Math.round(bottom - (Math.max(0, v) / max) * (bottom - top));
      const [r, gr, b] = BAR_COLORS[m % BAR_COLORS.length]!;
      for (let y = y0; y < bottom; y++) for (let x = x0; x < x1; x++) { const o = (y * width + x) * 4; rgba[o] = r; rgba[o + 1] = gr; rgba[o + 2] = b; rgba[o + 3] = 255; }
      const t = formatTick(Number(v.toFixed(1)));
      drawText(rgba, width, height, Math.round((x0 + x1) / 2 - textWidth(t) / 2), y0 - GLYPH_HEIGHT - 3, t, [30, 30, 30, 255]);
    });
  });
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
