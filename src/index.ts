/** csm's library API. The `csm` command uses only what is exported here. */
export * from './errors.js';
export * from './io/index.js';
export * from './models/index.js';
export * from './image/index.js';
export * from './face/index.js';
export { SAMPLE_INSTALL, SAMPLE_PACKAGES, samplePhotos, type SamplePhoto } from './samples/photos.js';
export { sampleFaces, samplePairs } from './samples/faces.js';
export * from './saliency/index.js';
export { createExplainSetup, runInfo, type ExplainSetup, type ExplainSetupOptions } from './saliency/setup.js';
export { classificationJob, galleryJob, pairsJob, type CmsJob } from './saliency/jobs.js';
export { computeCms, writeCisOutputs, writeCmsOutputs, type CmsOutputInfo, type ComputeCmsOptions, type ComputedCms } from './saliency/outputs.js';
export { cpuOpener, engineNames, engineOpener, openEngine, registerEngine, NoEngineError } from './engine/registry.js';
export { batchCandidates, tuneBatch, type BatchTuning } from './engine/batch.js';
export type { CisRequest, Engine, EngineOptions, EngineSession, GatheredCis, ImageSource, ModelOpener, OcclusionRun } from './engine/types.js';
export { configureVulkanIcd, inspectVulkan, diagnoseVulkan, VulkanIcdError, type IcdSetup, type VulkanReport, type Finding as VulkanFinding } from './engine/webgpu/icd.js';
export { probeAdapters, autoChoice, distinctAdapters, isSoftwareAdapter, type ProbeAdapter, type ProbeRequest, type ProbeResult } from './engine/webgpu/probe.js';
export * from './report/index.js';
export * from './eval/index.js';
