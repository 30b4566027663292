/**
 * Confidence functions φ (method.md): which number of the model's output is the confidence, per
 * head kind and score type, as a ScoreSpec that every engine evaluates; and the CPU evaluation,
 * which is the reference.
 */
import { CsmError, SpecError } from '../errors.js';
import type { HeadSpec } from '../models/spec.js';
import type { ScoreKind, ScoreSpec } from './types.js';

/** Probabilities of a head's classes from its raw output row (for prediction and reports). */
export function classProbabilities(head: HeadSpec, row: Float32Array): number[] {
  switch (head.confidence) {
    case 'softmax': return Array.from(row);
    case 'logit': {
      const m = Math.max(...row);
      const e = Array.from(row, (v) => Math.exp(v - m));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    }
    case 'sigmoid': return [1 - row[0]!, row[0]!];
    default: throw new SpecError(`head "${head.name}" (${head.confidence}) has no classes`);
  }
}

/** The class to explain: given by name or index, or the predicted one (argmax). */
export function resolveClass(head: HeadSpec, row: Float32Array, requested?: string): number {
  const probs = classProbabilities(head, row);
  if (requested === undefined) return probs.indexOf(Math.max(...probs));
  const byName = head.labels?.indexOf(requested) ?? -1;
  const index = byName >= 0 ? byName : /^\d+$/.test(requested) ? Number(requested) : -1;
  if (index < 0 || index >= probs.length) {
    throw new SpecError(`--class "${requested}" is not a class of head "${head.name}" (${head.labels ? head.labels.join(', ') : `0..${probs.length - 1}`})`);
  }
  return index;
}

/** φ for a classification or regression head. */
export function headScore(head: HeadSpec, classIndex: number, score: ScoreKind): ScoreSpec {
  switch (head.confidence) {
    case 'softmax':
      if (score === 'prob') return { output: head.output, kind: 'index', index: classIndex };
      return head.logits ? { output: head.logits, kind: 'index', index: classIndex } : { output: head.output, kind: 'log', index: classIndex };
    case 'logit':
      return score === 'logit' ? { output: head.output, kind: 'index', index: classIndex } : { output: head.output, kind: 'softmax', index: classIndex };
    case 'sigmoid':
      if (score === 'logit') return { output: head.output, kind: 'sigmoid-logit', index: 0, sign: classIndex === 1 ? 1 : -1 };
      return classIndex === 1 ? { output: head.output, kind: 'index', index: 0 } : { output: head.output, kind: 'one-minus', index: 0 };
    case 'value':
      return { output: head.output, kind: 'index', index: 0 };
    default:
      throw new SpecError(`head "${head.name}" gives ${head.confidence} outputs; explain it with a gallery (zero-shot) or pairs (verification)`);
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < a.length; k++) { dot += a[k]! * b[k]!; na += a[k]! * a[k]!; nb += b[k]! * b[k]!; }
  return dot / (Math.sqrt(na * nb) || 1);
}

/** φ of every row of a batch of the score's output (`width` values per row). */
export function evaluateScores(spec: ScoreSpec, output: Float32Array, rows: number): Float64Array {
  const width = output.length / rows;
  const phi = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = output.subarray(r * width, (r + 1) * width);
    phi[r] = scoreRow(spec, row);
  }
  return phi;
}

export function scoreRow(spec: ScoreSpec, row: Float32Array): number {
  const v = row[spec.index]!;
  switch (spec.kind) {
    case 'index': return v;
    case 'one-minus': return 1 - v;
    case 'log': return Math.log(v);
    case 'softmax': {
      let m = -Infinity;
      for (const x of row) m = Math.max(m, x);
      let z = 0;
      for (const x of row) z += Math.exp(x - m);
      return Math.exp(v - m) / z;
    }
    case 'sigmoid-logit': {
      const p = Math.min(Math.max(v, 1e-7), 1 - 1e-7);
      return (spec.sign ?? 1) * Math.log(p / (1 - p));
    }
    case 'cosine-max': {
      if (!spec.references?.length) throw new CsmError('cosine score without reference embeddings');
      let best = -Infinity;
      for (const ref of spec.references) best = Math.max(best, cosine(row, ref));
      // With `pair`, Eq. 8 against a fixed second embedding (the evaluation's E against the
      // pair's untouched second image): φ = c · (cos − τ).
      return spec.pair ? spec.pair.c * (best - spec.pair.tau) : best;
    }
  }
}

/** Verification (Eq. 8, sign fixed): φ = c · (cos(e1, e2) − τ) per row pair. */
export function evaluatePairScores(spec: ScoreSpec, a: Float32Array, b: Float32Array, rows: number): Float64Array {
  if (!spec.pair) throw new CsmError('pair score without c and τ');
  const width = a.length / rows;
  const phi = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    phi[r] = spec.pair.c * (cosine(a.subarray(r * width, (r + 1) * width), b.subarray(r * width, (r + 1) * width)) - spec.pair.tau);
  }
  return phi;
}

export { cosine };
