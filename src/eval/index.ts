export { averageDrop, equalSumHeatmaps, increaseInConfidence, METRICS, minMax, negativeExplanation, winPercent, type MetricInfo } from './metrics.js';
export { camFromWeights, resizePlane, type MethodInput, type SaliencyMethod } from './baselines/base.js';
export { ScoreCam } from './baselines/score-cam.js';
export { ImageOcclusion } from './baselines/occlusion.js';
export { ReprojectedCms } from './baselines/cms.js';
export { exposeTensors, findCamLayer, withOutputs } from './expose.js';
export { evaluate, evaluationMarkdown, type Evaluation, type EvaluateOptions, type ImageEvaluation, type MethodScores } from './evaluate.js';
export { spearman, ssim } from './similarity.js';
export { parameterisedLayers, randomisedModel, sanityCheck, type SanityStep } from './sanity.js';
