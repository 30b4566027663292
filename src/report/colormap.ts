/**
 * Colour maps and the heatmap rendering of saliency maps.
 *
 * Saliency from occlusion is SIGNED (method.md: s_n = φ(I) − φ(I*) is not clamped): negative
 * values mean occluding there raised the confidence. A colour scale that starts at the map's
 * minimum would paint "no effect" (0) in some arbitrary colour, so when a map has negative values
 * the default range is symmetric around 0 and 0 lands on the map's middle colour.
 */

/** An RGB triple, each channel 0..255 (integers). */
export type Rgb = [number, number, number];

/** A colour map: t in [0, 1] → RGB in [0, 1] per channel (t already clamped). */
type UnitColormap = (t: number) => [number, number, number];

/**
 * MATLAB's classic "jet", the colour map of the paper's figures: piecewise linear, dark blue
 * (0, 0, 0.5) → blue → cyan → yellow → red → dark red (0.5, 0, 0). Each channel is a trapezoid
 * 1.5 − |4t − k| clamped to [0, 1], with peaks at t = 1/4 (blue), 1/2 (green), 3/4 (red).
 */
function jetUnit(t: number): [number, number, number] {
  const tri = (k: number): number => clamp01(1.5 - Math.abs(4 * t - k));
  return [tri(3), tri(2), tri(1)];
}

/**
 * Google's "Turbo" colour map (Anton Mikhailov, 2019): a rainbow like jet but with smoother
 * lightness, from dark blue-violet through cyan, green, yellow, orange to dark red. Turbo itself
 * is a 256-entry lookup table; what is evaluated here is the published degree-5 polynomial fit
 * to that table (Ruofei Du's GLSL approximation; per channel, coefficients of t^0..t^5), so no
 * table has to be carried around. The fit is close in the middle but drifts at the ends: t = 0
 * gives (35, 23, 27) where the table has about (48, 18, 59), t = 1 gives (144, 13, 0) for about
 * (122, 4, 3). Both ends stay dark and the order of hues is the same, which is what a heatmap needs.
 */
const TURBO_COEFFS: readonly (readonly number[])[] = [
  [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
  [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
  [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
];

function turboUnit(t: number): [number, number, number] {
  const channel = (c: readonly number[]): number => {
    // Horner's scheme: fewer multiplications and better rounding than summing powers.
    let v = 0;
    for (let k = c.length - 1; k >= 0; k--) v = v * t + c[k]!;
    // The fit overshoots [0, 1] by a hair near the ends.
    return clamp01(v);
  };
  return [channel(TURBO_COEFFS[0]!), channel(TURBO_COEFFS[1]!), channel(TURBO_COEFFS[2]!)];
}

/** Every colour map by name; the CLI lists and validates `--colormap` from this. */
export const COLORMAPS = {
  jet: jetUnit,
  turbo: turboUnit,
} as const satisfies Record<string, UnitColormap>;

export type ColormapName = keyof typeof COLORMAPS;

/** Names of the colour maps, in registry order (built from COLORMAPS, so the two never disagree). */
export const COLORMAP_NAMES: readonly ColormapName[] = Object.keys(COLORMAPS) as ColormapName[];

/** True when `name` is a registered colour map (for validating user input). */
export function isColormapName(name: string): name is ColormapName {
  return Object.prototype.hasOwnProperty.call(COLORMAPS, name);
}

/** The colour of `t` under the named map; t is clamped to [0, 1] (NaN counts as 0). */
export function colormap(name: ColormapName, t: number): Rgb {
  const fn: UnitColormap | undefined = COLORMAPS[name];
  if (!fn) throw new RangeError(`unknown colour map "${String(name)}"; known: ${COLORMAP_NAMES.join(', ')}`);
  const [r, g, b] = fn(clamp01(t));
  return [Math.round(255 * r), Math.round(255 * g), Math.round(255 * b)];
}

/**
 * Entries of a lookup table: odd, so that t = 0.5 (the value 0 of a symmetric range) has an entry
 * of its own and gets exactly the map's middle colour; 257 levels is more than 8-bit output shows.
 */
export const LUT_LEVELS = 257;

/**
 * An RGB lookup table of the map (LUT_LEVELS entries, t = i / (LUT_LEVELS − 1)), so that per-pixel
 * rendering costs one index instead of a polynomial evaluation per channel.
 */
export function colormapLut(name: ColormapName): Uint8Array {
  const lut = new Uint8Array(LUT_LEVELS * 3);
  for (let i = 0; i < LUT_LEVELS; i++) lut.set(colormap(name, i / (LUT_LEVELS - 1)), 3 * i);
  return lut;
}

/** How a map's values are mapped to colours. */
export interface HeatmapOptions {
  colormap: ColormapName;
  /** Values mapped to the first and last colour; values outside are clamped. Default: see resolveRange. */
  range?: [number, number];
  /**
   * Force a range symmetric around 0 (true) or the data's own range (false). Default: symmetric
   * exactly when the map has negative values. With `range` given it only decides where a
   * degenerate range (lo = hi) is painted: the middle colour (symmetric) or the first.
   */
  symmetric?: boolean;
  /** 1 where the map is defined; 0 pixels are left out of the range and drawn transparent black. */
  mask?: Uint8Array;
}

/** The colour range actually used for a map, so that colour bars can label the same numbers. */
export interface ResolvedRange {
  lo: number;
  hi: number;
  symmetric: boolean;
}

/**
 * The range a heatmap of `map` uses, computed over the masked-in finite values:
 * - `range` given: used as is;
 * - symmetric (the default when any value is < 0): [−m, m] with m = max |v|, so 0 is the middle colour;
 * - otherwise [min(0, min v), max v]: a non-negative saliency map starts at 0 ("no effect") so the
 *   lowest colour means "no drop", not "the least drop in this image".
 * A degenerate range (all zeros) is returned as is; heatmapRgba paints it in one colour.
 */
export function resolveRange(map: Float32Array, opts: Omit<HeatmapOptions, 'colormap'> = {}): ResolvedRange {
  const { mask } = opts;
  if (mask && mask.length !== map.length) throw new RangeError(`mask has ${mask.length} pixels, map has ${map.length}`);
  if (opts.range) {
    const [lo, hi] = opts.range;
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi >= lo)) throw new RangeError(`range must be finite with lo ≤ hi, got [${lo}, ${hi}]`);
    return { lo, hi, symmetric: opts.symmetric ?? lo === -hi };
  }
  let min = Infinity, max = -Infinity;
  for (let p = 0; p < map.length; p++) {
    if (mask && !mask[p]) continue;
    const v = map[p]!;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) { min = 0; max = 0; } // nothing defined: an empty (all-masked) map
  const symmetric = opts.symmetric ?? min < 0;
  if (symmetric) {
    const m = Math.max(Math.abs(min), Math.abs(max));
    return { lo: -m, hi: m, symmetric: true };
  }
  return { lo: Math.min(0, min), hi: max, symmetric: false };
}

/** Position of v in [lo, hi] as t in [0, 1]; a degenerate range puts everything at its middle when symmetric. */
export function rangePosition(v: number, r: ResolvedRange): number {
  if (!(r.hi > r.lo)) return r.symmetric ? 0.5 : 0;
  return clamp01((v - r.lo) / (r.hi - r.lo));
}

/**
 * Renders a square size × size map as interleaved RGBA8. Masked-out pixels (and non-finite values)
 * are transparent black [0, 0, 0, 0]; everything else is opaque.
 */
export function heatmapRgba(map: Float32Array, size: number, opts: HeatmapOptions): Uint8Array {
  if (map.length !== size * size) throw new RangeError(`map has ${map.length} values, expected ${size}×${size}`);
  const range = resolveRange(map, opts);
  const lut = colormapLut(opts.colormap);
  const out = new Uint8Array(4 * map.length);
  for (let p = 0; p < map.length; p++) {
    const v = map[p]!;
    if ((opts.mask && !opts.mask[p]) || !Number.isFinite(v)) continue;
    const i = 3 * Math.round((LUT_LEVELS - 1) * rangePosition(v, range));
    out[4 * p] = lut[i]!;
    out[4 * p + 1] = lut[i + 1]!;
    out[4 * p + 2] = lut[i + 2]!;
    out[4 * p + 3] = 255;
  }
  return out;
}

function clamp01(v: number): number {
  // NaN → 0, so a bad value shows as the first colour instead of throwing mid-render.
  if (!(v > 0)) return 0;
  return v >= 1 ? 1 : v;
}
