/** The ONNX encoder against its decoder and against onnxruntime itself. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import { decodeModel, encodeModel, halfToFloat, type OnnxModel } from '../../src/index.js';

/** y = relu(x · w + b) written by hand: a model whose output is known exactly. */
function tinyModel(): OnnxModel {
  const f32 = (v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
  return {
    opset: 13, producer: 'test', producerVersion: '0', metadata: { purpose: 'unit test' },
    graph: {
      name: 'tiny',
      inputs: [{ name: 'x', elemType: 1, shape: ['batch', 2] }],
      outputs: [{ name: 'y', elemType: 1, shape: ['batch', 1] }],
      initializers: [
        { name: 'w', dataType: 1, dims: [2, 1], raw: f32([2, -1]) },
        { name: 'b', dataType: 1, dims: [1], raw: f32([0.5]) },
      ],
      nodes: [
        { name: 'mm', opType: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'], attributes: [] },
        { name: 'add', opType: 'Add', inputs: ['xw', 'b'], outputs: ['z'], attributes: [] },
        { name: 'relu', opType: 'Relu', inputs: ['z'], outputs: ['y'], attributes: [] },
      ],
    },
  };
}

test('encode → decode keeps graph, initializers, shapes and metadata', () => {
  const model = tinyModel();
  const back = decodeModel(encodeModel(model));
  assert.is(back.opset, 13);
  assert.equal(back.metadata, { purpose: 'unit test' });
  assert.equal(back.graph.inputs, model.graph.inputs);
  assert.equal(back.graph.outputs, model.graph.outputs);
  assert.equal(back.graph.nodes.map((n) => [n.opType, n.inputs, n.outputs]), model.graph.nodes.map((n) => [n.opType, n.inputs, n.outputs]));
  assert.equal(Array.from(new Float32Array(Uint8Array.from(back.graph.initializers[0]!.raw).buffer)), [2, -1]);
});

test('onnxruntime runs the encoded bytes and computes the known answer', async () => {
  const session = await ort.InferenceSession.create(encodeModel(tinyModel()));
  const x = new ort.Tensor('float32', Float32Array.from([1, 1, 0, 3, 2, 0]), [3, 2]);
  const y = (await session.run({ x }))['y']!.data as Float32Array;
  // relu(2a − b + 0.5): (1,1) → 1.5, (0,3) → 0, (2,0) → 4.5
  assert.equal(Array.from(y), [1.5, 0, 4.5]);
});

test('half-precision weights decode exactly', () => {
  assert.is(halfToFloat(0x3c00), 1);
  assert.is(halfToFloat(0xc000), -2);
  assert.is(halfToFloat(0x3555), 0.333251953125);
  assert.is(halfToFloat(0x7bff), 65504);
  assert.is(halfToFloat(0x0001), 2 ** -24);
  assert.is(halfToFloat(0x7c00), Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.is(Object.is(halfToFloat(0x8000), -0), true);
});

test.run();
