/** csm's library API. The `csm` command uses only what is exported here. */
export * from './errors.js';
export * from './models/index.js';
export * from './image/index.js';
