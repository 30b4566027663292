/**
 * The comparison figure: A | B | A − B over the canonical face, each with its colour bar. A and B
 * share one colour range (so equal colours mean equal saliency); A − B has its own range,
 * symmetric around 0, and only its significant pixels are coloured: the rest show the grey face.
 */
import { canonicalOverlay, photoOverlay, type Overlay } from '../report/overlay.js';
import { withColorbar, type RgbaImage } from '../report/colorbar.js';
import type { ColormapName } from '../report/colormap.js';
import { drawText, GLYPH_HEIGHT, textWidth } from '../report/font.js';
import type { CanonicalMapSpace } from '../report/maps.js';
import type { MapComparison } from './maps.js';

/** A map over the canonical face (csm's frame) or over F of an external alignment, tinted where `mask` is set. */
export function mapOverlay(map: Float32Array, space: CanonicalMapSpace, mask: Uint8Array, colormap: ColormapName, range: [number, number]): Overlay {
  const both = space.mask ? mask.map((m, p) => (m && space.mask![p] ? 1 : 0)) : mask;
  return space.frame
    ? canonicalOverlay(map, space.frame, space.face, { colormap, mask: both, range, symmetric: range[0] === -range[1] })
    : photoOverlay(space.face, map, both, { colormap, range, symmetric: range[0] === -range[1] });
}

/** [lo, hi] over the masked finite values of several maps: symmetric around 0 when any is negative, else [min(0, lo), hi]. */
export function sharedRange(maps: ArrayLike<number>[], mask: Uint8Array): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const m of maps) for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    const v = m[p]!;
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return [0, 0];
  if (lo < 0) { const a = Math.max(-lo, hi); return [-a, a]; }
  return [0, hi];
}

/** Panels side by side, a title above each (white background). */
export function titledRow(panels: { title: string; image: RgbaImage }[], gap = 12): RgbaImage {
  const scale = Math.max(1, Math.round(Math.max(...panels.map((p) => p.image.height)) / 200));
  const titleH = GLYPH_HEIGHT * scale + 8 * scale;
  // Each panel gets a slot as wide as its image or its title, whichever is wider.
  const slots = panels.map((p) => Math.max(p.image.width, textWidth(p.title, scale)));
  const width = slots.reduce((s, w) => s + w, 0) + gap * (panels.length + 1);
  const height = titleH + Math.max(...panels.map((p) => p.image.height)) + gap;
  const rgba = new Uint8Array(4 * width * height).fill(255);
  let x = gap;
  panels.forEach(({ title, image }, k) => {
    const slot = slots[k]!;
    const ix = x + Math.floor((slot - image.width) / 2);
    for (let y = 0; y < image.height; y++) rgba.set(image.rgba.subarray(4 * y * image.width, 4 * (y + 1) * image.width), 4 * ((titleH + y) * width + ix));
    drawText(rgba, width, height, x + Math.floor((slot - textWidth(title, scale)) / 2), 4 * scale, title, [0, 0, 0, 255], scale);
    x += slot + gap;
  });
  return { width, height, rgba };
}

export interface CompareFigures {
  /** A | B | A − B (significant pixels only). */
  figure: RgbaImage;
  /** A − B at every tested pixel (no mask), same range as the figure's. */
  diffAll: RgbaImage;
}

/** The figures of a comparison; `names` label A and B. */
export function compareFigures(c: MapComparison, space: CanonicalMapSpace, names: [string, string], colormap: ColormapName = 'jet'): CompareFigures {
  const r = c.pixels;
  const [a, b, d] = [Float32Array.from(r.meanA), Float32Array.from(r.meanB), Float32Array.from(r.diff)];
  const abRange = sharedRange([a, b], r.tested);
  const dm = sharedRange([d], r.tested);
  const dRange: [number, number] = [-Math.max(Math.abs(dm[0]), Math.abs(dm[1])), Math.max(Math.abs(dm[0]), Math.abs(dm[1]))];
  const panel = (map: Float32Array, mask: Uint8Array, range: [number, number]): RgbaImage => withColorbar(mapOverlay(map, space, mask, colormap, range), { colormap, range });
  const sigCount = r.significant.reduce((s, v) => s + v, 0);
  const figure = titledRow([
    { title: names[0], image: panel(a, r.tested, abRange) },
    { title: names[1], image: panel(b, r.tested, abRange) },
    { title: `${names[0]} - ${names[1]}: ${sigCount} px significant`, image: panel(d, r.significant, dRange) },
  ]);
  return { figure, diffAll: titledRow([{ title: `${names[0]} - ${names[1]} (all tested pixels)`, image: panel(d, r.tested, dRange) }]) };
}
