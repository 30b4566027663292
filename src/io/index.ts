// Output files: atomic writes with a free-space check.
export {
  checkFreeSpace, describeIoError, formatBytes, OutputSpaceError, OutputWriteError, writeFileAtomic, writeFilesAtomic,
  type AtomicIo, type AtomicWriteOptions, type FreeSpace, type OutputFile,
} from './atomic.js';
