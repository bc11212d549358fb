/**
 * ModelInferRequest → REST body: typed FP32/FP64/INT32/UINT32 contents whose count fits the shape
 * are written as binary tensor data (no JSON numbers), and decode to the same tensors as REST's
 * JSON `data`; contents that do not fit, and other datatypes, stay JSON so that the codec's
 * checks and messages are REST's.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toRestRequest } from '../../../src/serve/grpc/infer-request.js';
import type { InferTensorContents, ModelInferRequest } from '../../../src/serve/grpc/messages.js';
import { decodeInferRequest, type RequestHeaders } from '../../../src/serve/protocol/index.js';
import type { ModelSignature } from '../../../src/serve/types.js';

const signature: ModelSignature = {
  inputs: [
    { name: 'f', datatype: 'FP32', shape: [-1, 3] },
    { name: 'd', datatype: 'FP64', shape: [-1, 2] },
    { name: 'i', datatype: 'INT32', shape: [-1, 2] },
    { name: 'u', datatype: 'UINT32', shape: [-1, 1] },
    { name: 'l', datatype: 'INT64', shape: [-1, 1] },
  ],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
  batchable: true,
};

function request(
  inputs: { name: string; datatype: string; shape: number[]; contents: InferTensorContents }[],
): ModelInferRequest {
  return {
    model_name: 'm',
    model_version: '',
    id: '',
    parameters: {},
    inputs: inputs.map((i) => ({ ...i, shape: i.shape.map(String), parameters: {} })),
    outputs: [],
    raw_input_contents: [],
  };
}

const inputs = [
  {
    name: 'f',
    datatype: 'FP32',
    shape: [2, 3],
    contents: { fp32_contents: [0.5, -1, 2.25, 3, 4, 1e-3] },
  },
  {
    name: 'd',
    datatype: 'FP64',
    shape: [2, 2],
    contents: { fp64_contents: [Math.PI, -2, 1e300, 0] },
  },
  {
    name: 'i',
    datatype: 'INT32',
    shape: [2, 2],
    contents: { int_contents: [-5, 7, 2147483647, -2147483648] },
  },
  { name: 'u', datatype: 'UINT32', shape: [2, 1], contents: { uint_contents: [0, 4294967295] } },
  { name: 'l', datatype: 'INT64', shape: [2, 1], contents: { int64_contents: ['9', '-3'] } },
];

const decode = (body: unknown, headers: RequestHeaders = {}) =>
  decodeInferRequest(body, headers, signature, { maxBatchSize: 0 });

describe('gRPC typed contents as binary data', () => {
  test('FP32, FP64, INT32 and UINT32 go as binary data; INT64 as JSON; same tensors as REST', () => {
    const rest = toRestRequest(request(inputs));
    assert.equal(rest.raw, false, 'typed in, typed out');
    const headerLength = Number(rest.headers['inference-header-content-length']);
    const header = JSON.parse(rest.body.toString('utf8', 0, headerLength)) as {
      inputs: { name: string; data?: unknown; parameters?: { binary_data_size?: number } }[];
    };
    const sizes = Object.fromEntries(
      header.inputs.map((i) => [i.name, i.parameters?.binary_data_size]),
    );
    assert.deepEqual(sizes, { f: 24, d: 32, i: 16, u: 8, l: undefined });
    assert.deepEqual(header.inputs.find((i) => i.name === 'l')?.data, ['9', '-3']);
    assert.equal(rest.body.length, headerLength + 24 + 32 + 16 + 8);

    const viaGrpc = decode(rest.body, rest.headers);
    const viaJson = decode({
      inputs: inputs.map((i) => ({
        name: i.name,
        datatype: i.datatype,
        shape: i.shape,
        data: Object.values(i.contents)[0],
      })),
    });
    assert.deepEqual(viaGrpc.work, viaJson.work);
  });

  test('contents that do not fit the shape stay JSON: the codec names the mistake as for REST', () => {
    const short = request([{ ...inputs[0]!, contents: { fp32_contents: [1, 2, 3, 4, 5] } }]);
    const rest = toRestRequest(short);
    const header = JSON.parse(rest.body.toString('utf8')) as {
      inputs: { data?: unknown; parameters?: unknown }[];
    };
    assert.deepEqual(header.inputs[0]!.data, [1, 2, 3, 4, 5]);
    const restError = (() => {
      try {
        decode({ inputs: [{ name: 'f', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5] }] });
      } catch (err) {
        return (err as Error).message;
      }
      return undefined;
    })();
    assert.ok(restError);
    assert.throws(() => decode(rest.body, rest.headers), { message: restError });
  });
});
