export { convertTfjsFile, convertTfjsGraph, CONVERTER_VERSION, ONNX_OPSET, type ConvertOptions, type ConvertedModel } from './convert/convert.js';
export { SUPPORTED_OPS } from './convert/ops/index.js';
export { loadTfjsGraphModel, halfToFloat, type TfGraphModel } from './convert/tfjs-model.js';
export { decodeModel, encodeModel, type OnnxModel } from './onnx/model.js';
export * from './spec.js';
export { ZOO, ZOO_NAMES, ZOO_PACKAGE, zooEntry, type ZooEntry } from './zoo.js';
export { cacheDir, ensureZooModel, zooPackageDir, type ZooModelFile } from './cache.js';
export { readSignature, readSpecFile, resolveModel, type ResolvedModel } from './load.js';
export { toModelInput, inputShape, GRAY_WEIGHTS } from './preprocess.js';
