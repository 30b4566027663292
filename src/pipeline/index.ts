export {
  createFrontEnd, DEFAULT_DEPTH, InlineFrontEnd, PrefetchStream, runsOnCpu,
  type FrontEnd, type FrontEndKind, type FrontEndOptions, type FrontEndStats, type PreparedItem, type PreparedStream, type PrepareItem, type StreamOptions,
} from './frontend.js';
export { defaultWorkers, FrontEndWorkerError, WorkerFrontEnd, type WorkerFrontEndOptions } from './workers.js';
export { OutputQueue } from './outputs.js';
export { BusyMeter, meterSession } from './meter.js';
export { fromWireError, packPrepared, toWireError, type WireError } from './wire.js';
