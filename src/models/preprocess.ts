/**
 * Photo → model input tensor, on the CPU: colour conversion, normalisation and layout, exactly as a
 * ModelSpec states. Images must already be at the model's input size (crop and resize first with
 * image/resize). This is the reference for the GPU preprocess kernel.
 */
import { SpecError } from '../errors.js';
import type { RgbImage } from '../image/index.js';
import { channelsOf, normalisation, type InputSpec } from './spec.js';

/** Gray weights of ITU-R BT.601, as the expression / gender models were trained with. */
export const GRAY_WEIGHTS = [0.2989, 0.587, 0.114] as const;

/**
 * Packs a batch of images into one float32 tensor. `layout` defaults to the spec's; passing the
 * other one is useful to feed a framework that wants NHWC (TF.js) from the same pixels.
 */
export function toModelInput(images: RgbImage[], spec: InputSpec, layout: 'NCHW' | 'NHWC' = spec.layout): Float32Array {
  const { width: W, height: H } = spec;
  const C = channelsOf(spec);
  const { scale, offset } = normalisation(spec);
  const out = new Float32Array(images.length * C * H * W);
  const plane = W * H;
  images.forEach((img, b) => {
    if (img.width !== W || img.height !== H) throw new SpecError(`image ${b} is ${img.width}×${img.height}, the model input "${spec.name}" needs ${W}×${H}`);
    for (let p = 0; p < plane; p++) {
      const r = img.data[p]!;
      const g = img.data[plane + p]!;
      const bl = img.data[2 * plane + p]!;
      for (let c = 0; c < C; c++) {
        const pixel = C === 1 ? GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * bl : c === 0 ? r : c === 1 ? g : bl;
        const v = pixel * scale[c]! + offset[c]!;
        const idx = layout === 'NCHW' ? (b * C + c) * plane + p : (b * plane + p) * C + c;
        out[idx] = v;
      }
    }
  });
  return out;
}

/** The tensor shape for a batch, in the given layout. */
export function inputShape(spec: InputSpec, batch: number, layout: 'NCHW' | 'NHWC' = spec.layout): number[] {
  const C = channelsOf(spec);
  return layout === 'NCHW' ? [batch, C, spec.height, spec.width] : [batch, spec.height, spec.width, C];
}
