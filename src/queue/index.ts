/**
 * The job queue (BullMQ on Redis) for elastic workers: submit a run's chunks, explain them on any
 * number of machines, follow the progress, collect the exact merge. Kept out of the library's main
 * index so that commands which do not use it never load BullMQ.
 */
export { connectRedis, parseRedisUrl, PASSWORD_ENV, redactedUrl, redisError, RedisUrlError, scrub, type RedisTarget } from './connection.js';
export { CHUNK_FLAGS, checkRunName, chunkId, doneKey, PayloadError, PAYLOAD_FORMAT, PAYLOAD_VERSION, QUEUE_PREFIX, queueName, RUNS_KEY, startedKey, validateChunkPayload, type ChunkFlag, type ChunkPayload, type RunRecord } from './payload.js';
export { packResult, unpackResult, RESULT_FORMAT, type ChunkResult, type ChunkSummary } from './result.js';
export { chunkImages, chunkPayloads, removeRun, retryFailed, submitRun, type SubmitOptions, type Submitted } from './submit.js';
export { DEFAULT_STALL, runQueueWorker, type QueueWorkerOptions, type StallOptions } from './worker.js';
export { runRecord, runStatus, type ChunkProblem, type RunStatus } from './status.js';
export { collectRun, type Collected } from './collect.js';
export { comparableFingerprint } from '../saliency/resume.js';
