// Image I/O and resampling used by the pipeline: decode PNG/JPEG to planar float RGB, resize/crop, write PNGs.
export { type RgbImage, type Box, ImageDecodeError, DecoderUnavailableError, printableName } from './types.js';
export { decodeImage, decodeImageAsync, readImage, DEFAULT_MAX_PIXELS, DEFAULT_MAX_FILE_BYTES, type ReadImageOptions } from './decode.js';
export { resizeBilinear, cropAndResize, toGray } from './resize.js';
export { encodePng, rgbToRgba8 } from './encode.js';
export { applyAffine, invertAffine, squareCropMap, warpAffine, type Affine } from './affine.js';
export { readNpy, readNpyFile, writeNpy, writeNpyFile, NpyError, type NpyArray, type NpyInput, type NpyDtype, type NpyData } from './npy.js';
export { blendPixel, drawDot, drawLine, drawRect, drawTriangleEdges, type Rgba } from './draw.js';
