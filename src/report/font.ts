/**
 * A tiny 5×7 bitmap font for labelling figures (colour-bar ticks): digits, the characters of a
 * number in JavaScript notation (- + . e E) and the few letters of "min", "max", "NaN".
 * Figures are written without a canvas library, so text has to be drawn pixel by pixel.
 */
import { blendPixel, type Rgba } from '../image/index.js';
import { LETTERS } from './letters.js';

/** Rows of one glyph, top to bottom; '#' is ink. Glyphs may be narrower than 5 (e.g. '.'). */
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['#####', '...#.', '..#..', '...#.', '....#', '#...#', '.###.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
  '-': ['....', '....', '....', '####', '....', '....', '....'],
  '+': ['.....', '..#..', '..#..', '#####', '..#..', '..#..', '.....'],
  '.': ['..', '..', '..', '..', '..', '##', '##'],
  'e': ['.....', '.....', '.###.', '#...#', '#####', '#....', '.###.'],
  'E': ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  'a': ['.....', '.....', '.###.', '....#', '.####', '#...#', '.####'],
  'i': ['.#.', '...', '##.', '.#.', '.#.', '.#.', '###'],
  'm': ['.....', '.....', '##.#.', '#.#.#', '#.#.#', '#...#', '#...#'],
  'n': ['.....', '.....', '#.##.', '##..#', '#...#', '#...#', '#...#'],
  'x': ['.....', '.....', '#...#', '.#.#.', '..#..', '.#.#.', '#...#'],
  'N': ['#...#', '#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#'],
  ' ': ['...', '...', '...', '...', '...', '...', '...'],
};

/** Glyph height in font pixels (multiply by the scale for image pixels). */
export const GLYPH_HEIGHT = 7;

/** A character the font lacks is drawn as a hollow box ("tofu"), so the gap is visible, not silent. */
const MISSING: readonly string[] = ['#####', '#...#', '#...#', '#...#', '#...#', '#...#', '#####'];

function glyph(ch: string): readonly string[] {
  return GLYPHS[ch] ?? LETTERS[ch] ?? MISSING;
}

/** Width in image pixels of `text` drawn at `scale` (1 font pixel of spacing between glyphs). */
export function textWidth(text: string, scale = 1): number {
  let w = 0;
  for (const ch of text) w += glyph(ch)[0]!.length + 1;
  return Math.max(0, w - 1) * scale;
}

/**
 * Draws `text` with its top-left corner at (x, y) into an RGBA8 buffer; each font pixel becomes a
 * scale × scale block. Pixels outside the image are skipped.
 */
export function drawText(
  rgba: Uint8Array, width: number, height: number,
  x: number, y: number, text: string, color: Rgba, scale = 1,
): void {
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`text scale must be a positive integer, got ${scale}`);
  let cx = Math.round(x);
  const top = Math.round(y);
  for (const ch of text) {
    const rows = glyph(ch);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      for (let c = 0; c < row.length; c++) {
        if (row[c] !== '#') continue;
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) blendPixel(rgba, width, height, cx + c * scale + dx, top + r * scale + dy, color);
        }
      }
    }
    cx += (rows[0]!.length + 1) * scale;
  }
}
