/**
 * Canonical Model Saliency (CMS, method.md Eq. 6): the mean of the CIS maps of a data set on the
 * canonical grid, kept as a mergeable accumulator (design.md, "Mergeable accumulators").
 *
 * ## Exactness
 * Two accumulators merged must equal one run over the union bit for bit, and a run resumed from a
 * checkpoint must end with exactly the bytes of an uninterrupted run, whatever the order of the
 * images. Float addition is not associative, so every CIS value v is first quantised to a fixed
 * grid of step 2^-24:
 *
 *     q = round(v · 2^24) / 2^24          (Math.round; −0 is normalised to +0)
 *
 * Every q, and so every partial sum, is then an integer multiple of 2^-24. Float64 represents every
 * such number with |x| ≤ 2^53 · 2^-24 = 2^29 exactly, so float64 adds them exactly (no rounding,
 * hence in any order) while the partial sums stay below 2^29 = 536,870,912 (more than 5·10^8) in
 * magnitude.
 *
 * The limit is checked conservatively, so that it holds for EVERY order and EVERY split into shards,
 * not only the order actually used: the accumulator keeps `bound` = Σ over its images of
 * max_pixel |q|, which bounds |any partial sum over any subset of its images| at every pixel, and
 * `add`/`merge` throw a CsmError when `bound` would reach 2^29. In terms of the inputs:
 *
 *     max |v| × images < 2^29 ≈ 5.37·10^8
 *
 * e.g. 1.79·10^8 images of |v| ≤ 3, or 5.4·10^5 images of |v| ≤ 1,000. (A float32 value with
 * |v| ≥ 2^29 is refused on its own.)
 *
 * Quantisation changes a value by at most 2^-25 (≈ 3·10^-8), and only values with |v| < 1: a
 * float32 with |v| ≥ 1 has a step of at least 2^-23 and is already on the grid. The mean of the
 * quantised maps is therefore within 2^-25 of the mean of the raw maps (plus float64 rounding of
 * the final division), far below the float32 resolution the maps are stored in.
 *
 * ## Validation
 * `add` checks everything before it changes anything, so an image that is refused leaves the
 * accumulator as it was: non-finite CIS values (CsmError naming the image id and the pixel), a map
 * value ≠ 0 where the count is 0 (a CIS map is 0 where N = 0, method.md Algorithm 1), wrong
 * lengths, a duplicate id (adding an image twice would count it twice) and the magnitude limit
 * above. `merge` likewise checks sizes, shared ids and the limit before changing anything.
 */
import { CsmError } from '../errors.js';

/** Quantisation scale: values are rounded to integer multiples of 1 / SCALE = 2^-24. */
export const CMS_SCALE = 2 ** 24;

/**
 * Exclusive bound on `bound` (Σ over images of max |q|), and hence on |every partial sum|:
 * float64 adds multiples of 2^-24 exactly below 2^53 · 2^-24 = 2^29.
 */
export const CMS_MAX_MAGNITUDE = 2 ** 29;

/** Quantises one value to the 2^-24 grid (finite input assumed). */
export function quantiseCms(v: number): number {
  return Math.round(v * CMS_SCALE) / CMS_SCALE + 0;
}

/** One point of the convergence curve (paper Fig. 5). */
export interface CmsConvergencePoint {
  /** Number of images in the mean after this add. */
  images: number;
  /** ‖mean_k − mean_{k−1}‖₂ / ‖mean_k‖₂ (0 when ‖mean_k‖₂ = 0); 1 for the first image. */
  change: number;
}

/** What {@link CmsAccumulator.restore} takes (a checkpoint's contents). */
export interface CmsAccumulatorState {
  size: number;
  sum: Float64Array;
  coverage: Uint32Array;
  images: number;
  /** Σ over images of max_pixel |q| (see the module comment). */
  bound: number;
  ids: readonly string[];
  convergence: readonly CmsConvergencePoint[];
}

/** The part of a CIS map that the accumulator reads (a {@link CisMap} fits). */
export interface CmsInput {
  map: Float32Array;
  count: Uint32Array;
}

/**
 * Σ of quantised CIS maps on a size × size canonical grid, per-pixel coverage and an image count.
 * Row-major (index y · size + x), like CisMap.
 */
export class CmsAccumulator {
  readonly size: number;
  /** Σ of the quantised CIS maps (every entry an integer multiple of 2^-24). */
  readonly sum: Float64Array;
  /** Per pixel, how many added CIS maps had N > 0 there. */
  readonly coverage: Uint32Array;
  #images = 0;
  #bound = 0;
  readonly #ids: string[] = [];
  readonly #idSet = new Set<string>();
  readonly #convergence: CmsConvergencePoint[] = [];
  /** Scratch for the quantised map of the image being added. */
  #scratch: Float64Array | undefined;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new CsmError(`CMS accumulator: size must be a positive integer, got ${size}`);
    this.size = size;
    this.sum = new Float64Array(size * size);
    this.coverage = new Uint32Array(size * size);
  }

  /** Number of CIS maps in the sum. */
  get images(): number {
    return this.#images;
  }

  /** Σ over images of max_pixel |q|: the magnitude bound checked against {@link CMS_MAX_MAGNITUDE}. */
  get bound(): number {
    return this.#bound;
  }

  /** Ids of the added images, in the order they were added (merge appends the other's). */
  get ids(): readonly string[] {
    return this.#ids;
  }

  /**
   * The change of the mean map after each `add` (paper Fig. 5), one entry per add. Computed in
   * float64 from the sums, so a resumed run reproduces it exactly. `merge` appends nothing: the
   * other accumulator's curve describes a different sequence of means, and the jump caused by a
   * merge is not a step of one image. After a merge the curve therefore has fewer entries than
   * `images`, and later adds continue with the merged image count.
   */
  get convergence(): readonly CmsConvergencePoint[] {
    return this.#convergence;
  }

  /**
   * Adds one image's CIS map. `map` and `count` must hold size² values; `id` names the image
   * (unique within the accumulator). Throws a CsmError, and changes nothing, for a non-finite value,
   * a value ≠ 0 where count is 0, a duplicate id, or when the magnitude limit would be exceeded.
   */
  add(cis: CmsInput, id: string): void {
    const n = this.sum.length;
    if (typeof id !== 'string') throw new CsmError(`CMS accumulator: image id must be a string, got ${typeof id}`);
    const name = JSON.stringify(id);
    if (!(cis.map instanceof Float32Array) || cis.map.length !== n) {
      throw new CsmError(`CMS accumulator: CIS map of image ${name} must be a Float32Array of ${this.size}×${this.size} = ${n} values, got ${describe(cis.map)}`);
    }
    if (!(cis.count instanceof Uint32Array) || cis.count.length !== n) {
      throw new CsmError(`CMS accumulator: CIS count of image ${name} must be a Uint32Array of ${n} values, got ${describe(cis.count)}`);
    }
    if (this.#idSet.has(id)) throw new CsmError(`CMS accumulator: image ${name} was already added; adding it again would count it twice`);
    if (this.#images >= 0xffffffff) throw new CsmError(`CMS accumulator: cannot add image ${name}: the image count would overflow the uint32 coverage`);

    const q = (this.#scratch ??= new Float64Array(n));
    const { map, count } = cis;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const v = map[i]!;
      if (!Number.isFinite(v)) {
        throw new CsmError(`CMS accumulator: CIS map of image ${name} has a non-finite value (${v}) at pixel (${i % this.size}, ${Math.floor(i / this.size)})`);
      }
      if (count[i] === 0 && v !== 0) {
        throw new CsmError(`CMS accumulator: CIS map of image ${name} is ${v} at pixel (${i % this.size}, ${Math.floor(i / this.size)}) where its count is 0 (a CIS map is 0 where N = 0)`);
      }
      const qv = quantiseCms(v);
      q[i] = qv;
      const a = Math.abs(qv);
      if (a > max) max = a;
    }
    const bound = this.#bound + max; // exact: both are multiples of 2^-24 below 2^29
    if (bound >= CMS_MAX_MAGNITUDE) {
      throw new CsmError(
        `CMS accumulator: cannot add image ${name}: Σ max|CIS value| over images would reach ${bound} ≥ 2^29 = ${CMS_MAX_MAGNITUDE}, ` +
          'beyond which float64 sums of 2^-24-quantised values are no longer exact (max |v| × images must stay below 2^29)',
      );
    }

    // Apply, and measure the change of the mean (float64, pixel order: deterministic).
    const k = this.#images + 1;
    const sum = this.sum;
    const coverage = this.coverage;
    let diff2 = 0;
    let norm2 = 0;
    for (let i = 0; i < n; i++) {
      const before = sum[i]!;
      const after = before + q[i]!;
      sum[i] = after;
      if (count[i]! > 0) coverage[i]!++;
      const cur = after / k;
      const d = cur - (k > 1 ? before / (k - 1) : 0);
      diff2 += d * d;
      norm2 += cur * cur;
    }
    this.#images = k;
    this.#bound = bound;
    this.#ids.push(id);
    this.#idSet.add(id);
    this.#convergence.push({ images: k, change: norm2 > 0 ? Math.sqrt(diff2 / norm2) : 0 });
  }

  /**
   * Adds another accumulator's images into this one (this changes, `other` does not) and returns
   * this. The result is bit for bit the accumulator of one run over both sets of images. Throws a
   * CsmError, and changes nothing, when the sizes differ, an image id is in both (merging
   * overlapping shards would count those images twice), or the magnitude limit would be exceeded.
   * Appends nothing to the convergence curve (see {@link convergence}).
   */
  merge(other: CmsAccumulator): this {
    if (!(other instanceof CmsAccumulator)) throw new CsmError('CMS accumulator: merge needs another CmsAccumulator');
    if (other.size !== this.size) {
      throw new CsmError(`CMS accumulator: cannot merge a ${other.size}×${other.size} accumulator into a ${this.size}×${this.size} one`);
    }
    for (const id of other.#ids) {
      if (this.#idSet.has(id)) {
        throw new CsmError(`CMS accumulator: cannot merge: image ${JSON.stringify(id)} is in both accumulators (overlapping shards would count it twice)`);
      }
    }
    if (other === this && this.#images > 0) throw new CsmError('CMS accumulator: cannot merge an accumulator into itself');
    const bound = this.#bound + other.#bound;
    if (bound >= CMS_MAX_MAGNITUDE) {
      throw new CsmError(`CMS accumulator: cannot merge: Σ max|CIS value| over images would reach ${bound} ≥ 2^29 = ${CMS_MAX_MAGNITUDE}; float64 sums would no longer be exact`);
    }
    if (this.#images + other.#images > 0xffffffff) throw new CsmError('CMS accumulator: cannot merge: the image count would overflow the uint32 coverage');
    const n = this.sum.length;
    for (let i = 0; i < n; i++) {
      this.sum[i] = this.sum[i]! + other.sum[i]!;
      this.coverage[i] = this.coverage[i]! + other.coverage[i]!;
    }
    this.#images += other.#images;
    this.#bound = bound;
    for (const id of other.#ids) {
      this.#ids.push(id);
      this.#idSet.add(id);
    }
    return this;
  }

  /** CMS in float64: sum / images at every pixel (Eq. 6, the mean over the data set); 0 when images = 0. */
  mean64(): Float64Array {
    const out = new Float64Array(this.sum.length);
    const k = this.#images;
    if (k === 0) return out;
    for (let i = 0; i < out.length; i++) out[i] = this.sum[i]! / k;
    return out;
  }

  /** CMS, the paper's mean over the data set (Eq. 6): {@link mean64} rounded to float32. */
  mean(): Float32Array {
    return Float32Array.from(this.mean64());
  }

  /**
   * sum / coverage where coverage > 0, else 0, in float64: the mean over only the images whose CIS
   * reached each pixel (N > 0), instead of over all images.
   *
   * It differs from {@link mean} exactly at pixels where coverage < images. That happens when the
   * CIS maps of a data set cover different parts of the canonical face: profile or partly
   * occluded faces whose points fall outside the input image, faces cut by the image border, or a
   * sparse stride/density that leaves gaps. There `mean` pulls the value towards 0 in proportion to
   * the images that did not measure the pixel (an unmeasured pixel counts as "no saliency"), while
   * `meanCovered` reports the average saliency where it was measured — but rests on fewer images
   * there (read it together with `coverage`). With full coverage the two are equal.
   */
  meanCovered64(): Float64Array {
    const out = new Float64Array(this.sum.length);
    for (let i = 0; i < out.length; i++) {
      const c = this.coverage[i]!;
      out[i] = c > 0 ? this.sum[i]! / c : 0;
    }
    return out;
  }

  /** {@link meanCovered64} rounded to float32. */
  meanCovered(): Float32Array {
    return Float32Array.from(this.meanCovered64());
  }

  /** An independent copy. */
  clone(): CmsAccumulator {
    return CmsAccumulator.restore(this.state());
  }

  /** The accumulator's contents (copies), as {@link restore} takes them. */
  state(): CmsAccumulatorState {
    return {
      size: this.size,
      sum: this.sum.slice(),
      coverage: this.coverage.slice(),
      images: this.#images,
      bound: this.#bound,
      ids: [...this.#ids],
      convergence: this.#convergence.map((p) => ({ ...p })),
    };
  }

  /**
   * Rebuilds an accumulator from saved contents (the arrays are copied), checking that they are
   * consistent: lengths, images = ids.length, unique ids, sums on the 2^-24 grid and within the
   * bound, coverage ≤ images, a well-formed curve. Throws a CsmError naming what is wrong.
   */
  static restore(state: CmsAccumulatorState): CmsAccumulator {
    const fail = (why: string): never => {
      throw new CsmError(`CMS accumulator state: ${why}`);
    };
    const acc = new CmsAccumulator(state.size);
    const n = acc.sum.length;
    if (!(state.sum instanceof Float64Array) || state.sum.length !== n) fail(`sum must be a Float64Array of ${n} values, got ${describe(state.sum)}`);
    if (!(state.coverage instanceof Uint32Array) || state.coverage.length !== n) fail(`coverage must be a Uint32Array of ${n} values, got ${describe(state.coverage)}`);
    const { images, bound } = state;
    if (!Number.isSafeInteger(images) || images < 0 || images > 0xffffffff) fail(`images must be an integer in [0, 2^32), got ${images}`);
    if (!Array.isArray(state.ids) || state.ids.length !== images) fail(`ids must list one id per image (${images}), got ${Array.isArray(state.ids) ? state.ids.length : typeof state.ids}`);
    if (typeof bound !== 'number' || !Number.isFinite(bound) || bound < 0 || bound >= CMS_MAX_MAGNITUDE || !Number.isInteger(bound * CMS_SCALE)) {
      fail(`bound must be a multiple of 2^-24 in [0, 2^29), got ${bound}`);
    }
    for (const id of state.ids) {
      if (typeof id !== 'string') fail(`ids must be strings, got ${typeof id}`);
      if (acc.#idSet.has(id)) fail(`image ${JSON.stringify(id)} is listed twice`);
      acc.#idSet.add(id);
      acc.#ids.push(id);
    }
    for (let i = 0; i < n; i++) {
      const s = state.sum[i]!;
      if (!Number.isFinite(s) || Math.abs(s) > bound || !Number.isInteger(s * CMS_SCALE)) {
        fail(`sum at pixel (${i % acc.size}, ${Math.floor(i / acc.size)}) is ${s}: not a multiple of 2^-24 within the bound ${bound}`);
      }
      if (state.coverage[i]! > images) fail(`coverage at pixel (${i % acc.size}, ${Math.floor(i / acc.size)}) is ${state.coverage[i]}, more than the ${images} images`);
    }
    if (!Array.isArray(state.convergence) || state.convergence.length > images) fail('convergence must be a list with at most one point per image');
    let last = 0;
    for (const p of state.convergence) {
      if (typeof p !== 'object' || p === null || !Number.isSafeInteger(p.images) || p.images <= last || p.images > images || typeof p.change !== 'number' || !(p.change >= 0) || !Number.isFinite(p.change)) {
        fail(`bad convergence point ${JSON.stringify(p)}`);
      }
      last = p.images;
      acc.#convergence.push({ images: p.images, change: p.change });
    }
    acc.sum.set(state.sum);
    acc.coverage.set(state.coverage);
    acc.#images = images;
    acc.#bound = bound;
    return acc;
  }
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  const ctor = (x as object).constructor?.name ?? typeof x;
  const len = (x as { length?: unknown }).length;
  return typeof len === 'number' ? `${ctor} of ${len}` : ctor;
}
