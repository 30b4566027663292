// Output files and folders: atomic writes with a free-space check, and output folders checked and locked before a run.
export {
  checkFreeSpace, describeIoError, formatBytes, OutputSpaceError, OutputWriteError, writeFileAtomic, writeFilesAtomic,
  type AtomicIo, type AtomicWriteOptions, type FreeSpace, type OutputFile,
} from './atomic.js';
export { checkOutDir, LOCK_FILE, lockOutDir, openOutDir, OutDirError, pidAlive, type LockInfo, type OpenOutDirOptions, type OutDirLock } from './out-dir.js';
