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
