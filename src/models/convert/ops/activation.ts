/** Element-wise unary ops and the activations that TF fuses into convolutions and matmuls. */
import { ModelError, UnsupportedOpError } from '../../../errors.js';
import type { ConvertContext, Value } from '../context.js';
import { attr, type TfNode } from '../tfjs-model.js';
import type { OpTable } from './types.js';

/** TF unary op → ONNX op with the same semantics and no attributes. */
const DIRECT_UNARY: Record<string, string> = {
  Relu: 'Relu', Sigmoid: 'Sigmoid', Tanh: 'Tanh', Abs: 'Abs', Neg: 'Neg', Exp: 'Exp', Log: 'Log',
  Sqrt: 'Sqrt', Reciprocal: 'Reciprocal', Inv: 'Reciprocal', Floor: 'Floor', Ceil: 'Ceil',
  Softplus: 'Softplus', Selu: 'Selu', Elu: 'Elu', Sign: 'Sign', Erf: 'Erf', Round: 'Round',
};

function unary(ctx: ConvertContext, opType: string, x: Value, base: string): Value {
  const [out] = ctx.emit(opType, [ctx.name(x, `${base}/x`)], [], base);
  return { ...x, onnx: out!, data: undefined };
}

/**
 * Applies an activation by TF name to `x`. `alpha` is the PReLU slope tensor (fused Prelu's
 * second extra argument); `leakyAlpha` the LeakyRelu slope attribute.
 */
export function applyActivation(ctx: ConvertContext, node: TfNode, kind: string, x: Value, alpha?: Value): Value {
  const base = `${node.name}/${kind}`;
  const direct = DIRECT_UNARY[kind];
  if (direct) return unary(ctx, direct, x, base);
  switch (kind) {
    case 'Relu6': {
      const lo = ctx.initializer(`${base}/min`, 'float32', [], [0]);
      const hi = ctx.initializer(`${base}/max`, 'float32', [], [6]);
      const [out] = ctx.emit('Clip', [ctx.name(x), lo, hi], [], base);
      return { ...x, onnx: out!, data: undefined };
    }
    case 'LeakyRelu': {
      const [out] = ctx.emit('LeakyRelu', [ctx.name(x)], [{ name: 'alpha', kind: 'float', value: attr.float(node, 'leakyrelu_alpha', attr.float(node, 'alpha', 0.2)) }], base);
      return { ...x, onnx: out!, data: undefined };
    }
    case 'Prelu': {
      if (!alpha) throw new ModelError(`node "${node.name}": Prelu needs a slope input`);
      const slope = x.layout === 'nchw' && alpha.data ? ctx.constForNchw(alpha, base) : alpha;
      if (x.layout === 'nchw' && !alpha.data) throw new UnsupportedOpError('Prelu', node.name, 'the slope must be a constant');
      const [out] = ctx.emit('PRelu', [ctx.name(x), ctx.name(slope, `${base}/slope`)], [], base);
      return { ...x, onnx: out!, data: undefined };
    }
    default:
      throw new UnsupportedOpError(kind, node.name, 'activation has no ONNX mapping');
  }
}

export const ACTIVATION_OPS: OpTable = {
  ...Object.fromEntries(Object.keys(DIRECT_UNARY).map((op) => [op, (node: TfNode, ctx: ConvertContext) => applyActivation(ctx, node, op, ctx.input(node, 0))])),
  Relu6: (node, ctx) => applyActivation(ctx, node, 'Relu6', ctx.input(node, 0)),
  LeakyRelu: (node, ctx) => applyActivation(ctx, node, 'LeakyRelu', ctx.input(node, 0)),
  Prelu: (node, ctx) => applyActivation(ctx, node, 'Prelu', ctx.input(node, 0), ctx.input(node, 1)),
  Rsqrt: (node, ctx) => {
    const x = ctx.input(node, 0);
    return unary(ctx, 'Reciprocal', unary(ctx, 'Sqrt', x, `${node.name}/sqrt`), node.name);
  },
  Square: (node, ctx) => {
    const x = ctx.input(node, 0);
    const n = ctx.name(x);
    const [out] = ctx.emit('Mul', [n, n], [], node.name);
    return { ...x, onnx: out!, data: undefined };
  },
  // Pass-through ops: the value itself, under the TF node's name.
  Identity: (node, ctx) => ctx.input(node, 0),
  StopGradient: (node, ctx) => ctx.input(node, 0),
  Snapshot: (node, ctx) => ctx.input(node, 0),
  IdentityN: (node, ctx) => node.inputs.map((_, k) => ctx.input(node, k)),
};

