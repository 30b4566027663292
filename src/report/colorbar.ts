/**
 * A figure = an image (heatmap or overlay) with a vertical colour bar and its tick labels on the
 * right, in one RGBA buffer / PNG. Without the bar a saliency figure is unreadable: the same colour
 * means different drops in different images.
 */
import { encodePng, type Rgba } from '../image/index.js';
import { colormap, heatmapRgba, resolveRange, type ColormapName, type HeatmapOptions, type ResolvedRange } from './colormap.js';
import { drawText, GLYPH_HEIGHT, textWidth } from './font.js';

/** An interleaved RGBA8 image. */
export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8Array;
}

export interface ColorbarOptions {
  colormap: ColormapName;
  /** The range the image was coloured with (from resolveRange, or [lo, hi]). */
  range: ResolvedRange | [number, number];
  /** Canvas colour behind transparent image pixels and around the bar. Default white. */
  background?: Rgba;
  /** Text and tick colour. Default black. */
  ink?: Rgba;
}

/**
 * Short tick label: 3 significant digits, exponent notation for very small or large magnitudes
 * (the font has 'e', '+', '-'), and no trailing zeros so labels stay narrow.
 */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return 'NaN';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) {
    const [mant, exp] = v.toExponential(2).split('e') as [string, string];
    return `${String(Number(mant))}e${exp}`;
  }
  return String(Number(v.toPrecision(3)));
}

/** Tick values of a range: its ends, and 0 when 0 lies strictly inside (the "no effect" level). */
export function colorbarTicks(lo: number, hi: number): number[] {
  if (!(hi > lo)) return [lo];
  return lo < 0 && hi > 0 ? [lo, 0, hi] : [lo, hi];
}

/** `image` with a labelled vertical colour bar to its right (max at the top, min at the bottom). */
export function withColorbar(image: RgbaImage, opts: ColorbarOptions): RgbaImage {
  const { width: W, height: H, rgba: src } = image;
  if (src.length !== 4 * W * H) throw new RangeError(`image has ${src.length} bytes, expected ${4 * W * H} for ${W}x${H}`);
  const [lo, hi] = Array.isArray(opts.range) ? opts.range : [opts.range.lo, opts.range.hi];
  const bg = opts.background ?? [255, 255, 255, 255];
  const ink = opts.ink ?? [0, 0, 0, 255];
  // Text and bar grow with the image so that labels stay legible on large figures.
  const scale = Math.max(1, Math.round(H / 200));
  const gap = 6 * scale, barW = Math.max(10, Math.round(H / 20)), tick = 3 * scale, pad = 3 * scale;
  const ticks = colorbarTicks(lo, hi);
  const labels = ticks.map(formatTick);
  const labelW = Math.max(...labels.map((l) => textWidth(l, scale)));
  const textH = GLYPH_HEIGHT * scale;
  // Vertical margin so that the end labels, centred on the bar's ends, stay inside the canvas.
  const margin = Math.ceil(textH / 2) + pad;
  const height = Math.max(H, 2 * margin + 16);
  const width = W + gap + barW + tick + pad + labelW + pad;
  const out = new Uint8Array(4 * width * height);
  for (let p = 0; p < width * height; p++) out.set(bg, 4 * p);

  // The image, composited over the background (its transparent pixels show the background).
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = 4 * (y * W + x), d = 4 * (y * width + x);
      const a = src[s + 3]! / 255;
      for (let c = 0; c < 3; c++) out[d + c] = Math.round(src[s + c]! * a + bg[c]! * (1 - a));
      out[d + 3] = 255;
    }
  }

  // The bar: row y shows the colour of the value at that height (top = hi).
  const x0 = W + gap, top = margin, bottom = height - margin - 1;
  for (let y = top; y <= bottom; y++) {
    const [r, g, b] = colormap(opts.colormap, (bottom - y) / Math.max(1, bottom - top));
    for (let x = x0; x < x0 + barW; x++) out.set([r, g, b, 255], 4 * (y * width + x));
  }
  // Outline, so that the bar's pale ends do not melt into the background. Filled rectangles, not
  // drawLine: its DDA steps by floating-point fractions and can skip a row on long vertical lines.
  fillRect(out, width, x0 - 1, top - 1, barW + 2, 1, ink);
  fillRect(out, width, x0 - 1, bottom + 1, barW + 2, 1, ink);
  fillRect(out, width, x0 - 1, top - 1, 1, bottom - top + 3, ink);
  fillRect(out, width, x0 + barW, top - 1, 1, bottom - top + 3, ink);

  ticks.forEach((v, k) => {
    const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    const y = Math.round(bottom - t * (bottom - top));
    fillRect(out, width, x0 + barW, y - Math.floor(scale / 2), tick + 1, scale, ink);
    drawText(out, width, height, x0 + barW + tick + pad, y - Math.floor(textH / 2), labels[k]!, ink, scale);
  });
  return { width, height, rgba: out };
}

/** A square map rendered as a heatmap with its colour bar (the range the heatmap used is labelled). */
export function heatmapWithColorbar(map: Float32Array, size: number, opts: HeatmapOptions): RgbaImage {
  const range = resolveRange(map, opts);
  const rgba = heatmapRgba(map, size, { ...opts, range: [range.lo, range.hi], symmetric: range.symmetric });
  return withColorbar({ width: size, height: size, rgba }, { colormap: opts.colormap, range });
}

/** Paints an opaque axis-aligned w × h rectangle at (x, y) into an RGBA8 buffer `width` pixels wide (no clipping needed: callers stay inside). */
function fillRect(rgba: Uint8Array, width: number, x: number, y: number, w: number, h: number, color: Rgba): void {
  for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) rgba.set(color, 4 * (yy * width + xx));
}

/** PNG bytes of an RGBA image (figures are written with this). */
export function rgbaPng(image: RgbaImage): Buffer {
  return encodePng(image.width, image.height, image.rgba);
}
