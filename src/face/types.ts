/**
 * Shared shapes of the face stage. Points are packed in flat typed arrays (x, y[, z] per point)
 * because meshes and dense correspondences are read in hot loops and handed to the GPU as is.
 */

import type { Box } from '../image/index.js';

export type { Box };

/** One face found by the detector, in the photo's pixels. */
export interface Detection {
  box: Box;
  score: number;
  /** 6 keypoints (x, y): right eye, left eye, nose tip, mouth centre, right ear, left ear (subject's sides). */
  keypoints: Float32Array;
}

/** A face's 468-point mesh in the photo's pixels: x, y (image axes) and z (depth, same scale as x). */
export interface FaceMesh {
  points: Float32Array;
  count: number;
  /** The mesh model's face-presence confidence (0..1). */
  presence: number;
  detection: Detection;
}

/** MediaPipe's canonical face model: 468 vertices with 3D position and texture UV, and triangles. */
export interface CanonicalFaceModel {
  /** x, y, z per vertex (centimetres, y up, z towards the viewer). */
  vertices: Float32Array;
  /** u, v per vertex in 0..1. */
  uv: Float32Array;
  /** Vertex indices, 3 per triangle. */
  triangles: Uint32Array;
  count: number;
}

/**
 * The canonical face in canonical image pixels: a frontal orthographic projection of the model
 * scaled into a size × size image (x right, y down).
 */
export interface CanonicalFrame {
  size: number;
  /** x, y per vertex in canonical image pixels. */
  xy: Float32Array;
  /** z per vertex (towards the viewer), in the same pixel scale. */
  z: Float32Array;
  triangles: Uint32Array;
  count: number;
}

/**
 * M_I and M_F of Algorithm 1: N corresponding points in the input image and on the canonical face
 * image F (both x, y in their own image's pixels).
 */
export interface Correspondence {
  image: Float32Array;
  canonical: Float32Array;
  count: number;
  /** Side of the canonical image F (H_F), in pixels. */
  canonicalSize: number;
}
