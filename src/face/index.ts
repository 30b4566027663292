export * from './types.js';
export { FaceAligner, FaceChoiceError, NoFaceError, parseFaceChoice, MIN_PRESENCE, SMALL_FACE_PX, meshOutside, meshYaw, PARTIAL_FACE, TURNED_DEGREES, type AlignedFace, type AlignOptions, type FaceChoice } from './align.js';
export { FaceDetector, type DetectOptions } from './detect.js';
export { FaceMesher, LANDMARK, MESH_POINTS, type MeshOptions } from './mesh.js';
export { canonicalFaceImage, canonicalFrame, loadCanonicalFaceModel, CANONICAL_IMAGE_SIZE } from './canonical.js';
export { correspondence, densePoints, mapPoints, meshXYFromXYZ, triangleRaster, type DensePoints } from './correspondence.js';
export { warpToCanonical, warpToCanonicalMasked, warpToPhoto, sampleBilinear } from './warp.js';
export { CanonicalAverage, edgeEnergy } from './average.js';
export { loadExternalAlignment, correspondenceFromArrays, CELEBA100_LAYOUT, ExternalAlignmentError, type ExternalAlignment, type ExternalLayout } from './external.js';
