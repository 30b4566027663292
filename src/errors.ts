/**
 * csm's error types. Every error that reaches a user names the stage, the file or node at fault,
 * and the cause, so that a batch run can log it and go on.
 */
export class CsmError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A model file that cannot be converted or loaded (unknown op, bad weights, bad shape). */
export class ModelError extends CsmError {}

/** A TF.js graph op the converter has no mapping for. Names both the op and the node. */
export class UnsupportedOpError extends ModelError {
  constructor(readonly op: string, readonly node: string, detail = '') {
    super(`unsupported TF.js op "${op}" at node "${node}"${detail ? `: ${detail}` : ''}`);
  }
}

/** A model spec that does not fit its model (wrong input size, missing output, bad field). */
export class SpecError extends CsmError {}

/**
 * A condition that no later image can recover from (the GPU device or an inference session lost):
 * a batch run must stop here, after checkpointing what it has, instead of skipping the image.
 */
export class FatalError extends CsmError {}
