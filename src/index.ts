/** csm's library API. The `csm` command uses only what is exported here. */
export * from './errors.js';
export * from './models/index.js';
export * from './image/index.js';
export * from './face/index.js';
export { meshOverlay } from './report/figures.js';
export { samplePhotos, type SamplePhoto } from './samples/photos.js';
