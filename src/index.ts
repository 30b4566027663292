/** csm's library API. The `csm` command uses only what is exported here. */
export * from './errors.js';
export * from './models/index.js';
export * from './image/index.js';
export * from './face/index.js';
export { samplePhotos, type SamplePhoto } from './samples/photos.js';
export * from './saliency/index.js';
export * from './pipeline/index.js';
export { engineNames, engineOpener, openEngine, registerEngine, NoEngineError } from './engine/registry.js';
export type { CisRequest, Engine, EngineOptions, EngineSession, GatheredCis, ImageSource, ModelOpener, OcclusionRun } from './engine/types.js';
export * from './report/index.js';
export * from './eval/index.js';
