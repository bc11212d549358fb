import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeInferRequest, encodeInferResponse } from '../../../src/serve/protocol/index.js';
import type { Datatype } from '../../../src/model/tensor-description.js';
import type { Tensor } from '../../../src/serve/types.js';
import { single } from './protocol-helpers.js';

/** The JSON part of an encoded response, parsed. */
function responseJson(
  body: string | Buffer,
  headers: Readonly<Record<string, string>>,
): { json: Record<string, unknown>; binary: Buffer } {
  if (typeof body === 'string') {
    assert.equal(headers['content-type'], 'application/json');
    return { json: JSON.parse(body) as Record<string, unknown>, binary: Buffer.alloc(0) };
  }
  const size = Number(headers['inference-header-content-length']);
  return {
    json: JSON.parse(body.subarray(0, size).toString('utf8')) as Record<string, unknown>,
    binary: body.subarray(size),
  };
}

/** Decodes a one-input JSON request and encodes its tensor back as the response's output data. */
function roundTrip(datatype: Datatype, data: unknown[]): unknown {
  const decoded = decodeInferRequest(
    { inputs: [{ name: 'v', shape: [1, data.length], datatype, data }] },
    {},
    single(datatype, data.length),
    { maxBatchSize: 0 },
  );
  const { body, headers } = encodeInferResponse({
    modelName: 'echo',
    modelVersion: '1',
    outputs: decoded.work.inputs,
    binary: {},
  });
  const outputs = responseJson(body, headers).json['outputs'] as { data: unknown }[];
  return outputs[0]!.data;
}

describe('encodeInferResponse', () => {
  test('should write the JSON response with flat data', () => {
    const outputs: Tensor[] = [
      {
        name: 'probabilities',
        datatype: 'FP32',
        shape: [2, 2],
        data: new Float32Array([0.25, 0.75, 1, 0]),
      },
      { name: 'label', datatype: 'INT64', shape: [2], data: new BigInt64Array([1n, 0n]) },
    ];
    const { body, headers } = encodeInferResponse({
      modelName: 'churn',
      modelVersion: '3',
      id: 'req "1"',
      outputs,
      binary: {},
    });
    assert.equal(typeof body, 'string');
    assert.deepEqual(headers, { 'content-type': 'application/json' });
    assert.deepEqual(JSON.parse(body as string), {
      model_name: 'churn',
      model_version: '3',
      id: 'req "1"',
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [2, 2], data: [0.25, 0.75, 1, 0] },
        { name: 'label', datatype: 'INT64', shape: [2], data: [1, 0] },
      ],
    });
  });

  test('should leave out id when the request had none', () => {
    const { body } = encodeInferResponse({
      modelName: 'm',
      modelVersion: '1',
      outputs: [],
      binary: {},
    });
    assert.equal(body, '{"model_name":"m","model_version":"1","outputs":[]}');
  });

  test('should round-trip every numeric datatype from request to response', () => {
    // [datatype, request data, response data]: 64-bit integers come back as numbers when safe, as digit strings beyond 2^53.
    const cases: [Datatype, unknown[], unknown[]][] = [
      ['BOOL', [true, false, true], [true, false, true]],
      ['UINT8', [0, 255, 7], [0, 255, 7]],
      ['UINT16', [0, 65535, 7], [0, 65535, 7]],
      ['UINT32', [0, 4294967295, 7], [0, 4294967295, 7]],
      [
        'UINT64',
        [0, '18446744073709551615', 9007199254740991, '12'],
        [0, '18446744073709551615', 9007199254740991, 12],
      ],
      ['INT8', [-128, 127, 0], [-128, 127, 0]],
      ['INT16', [-32768, 32767, -1], [-32768, 32767, -1]],
      ['INT32', [-2147483648, 2147483647, -1], [-2147483648, 2147483647, -1]],
      [
        'INT64',
        ['-9223372036854775808', '9223372036854775807', '9007199254740993', -9007199254740991, 42],
        ['-9223372036854775808', '9223372036854775807', '9007199254740993', -9007199254740991, 42],
      ],
      ['FP16', [1, -2, 65504, 0.5, 2 ** -24], [1, -2, 65504, 0.5, 2 ** -24]],
      [
        'FP32',
        [0.5, -1.25, 3.4028234663852886e38, 2 ** -149],
        [0.5, -1.25, 3.4028234663852886e38, 2 ** -149],
      ],
      [
        'FP64',
        [0.1, -1e300, Number.MIN_VALUE, 123456789.123],
        [0.1, -1e300, Number.MIN_VALUE, 123456789.123],
      ],
      [
        'BYTES',
        ['héllo', '', '日本 🎉', 'quote " and \\ backslash'],
        ['héllo', '', '日本 🎉', 'quote " and \\ backslash'],
      ],
    ];
    for (const [datatype, data, expected] of cases) {
      assert.deepEqual(roundTrip(datatype, data), expected, datatype);
    }
  });

  test('should write non-finite floats as strings', () => {
    const outputs: Tensor[] = [
      { name: 'f', datatype: 'FP32', shape: [3], data: new Float32Array([NaN, Infinity, -1.5]) },
      { name: 'h', datatype: 'FP16', shape: [2], data: new Uint16Array([0x7c00, 0xfc00]) },
    ];
    const { body } = encodeInferResponse({
      modelName: 'm',
      modelVersion: '1',
      outputs,
      binary: {},
    });
    const parsed = JSON.parse(body as string) as { outputs: { data: unknown[] }[] };
    assert.deepEqual(parsed.outputs[0]!.data, ['NaN', 'Infinity', -1.5]);
    assert.deepEqual(parsed.outputs[1]!.data, ['Infinity', '-Infinity']);
  });

  test('should write binary outputs after the JSON header with the exact byte layout', () => {
    const outputs: Tensor[] = [
      {
        name: 'probabilities',
        datatype: 'FP32',
        shape: [1, 2],
        data: new Float32Array([0.25, 0.75]),
      },
      { name: 'label', datatype: 'INT64', shape: [1], data: new BigInt64Array([-2n]) },
      { name: 'text', datatype: 'BYTES', shape: [2], data: ['hé', ''] },
    ];
    const { body, headers } = encodeInferResponse({
      modelName: 'churn',
      modelVersion: '1',
      id: 'a',
      outputs,
      binary: { probabilities: true, text: true, label: false },
    });
    assert.ok(Buffer.isBuffer(body));
    assert.equal(headers['content-type'], 'application/octet-stream');
    const header =
      '{"model_name":"churn","model_version":"1","id":"a","outputs":[' +
      '{"name":"probabilities","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},' +
      '{"name":"label","datatype":"INT64","shape":[1],"data":[-2]},' +
      '{"name":"text","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":11}}]}';
    assert.equal(headers['inference-header-content-length'], String(Buffer.byteLength(header)));
    const expected = Buffer.concat([
      Buffer.from(header),
      Buffer.from([0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x40, 0x3f]), // 0.25, 0.75 as little-endian FP32
      Buffer.from([3, 0, 0, 0, 0x68, 0xc3, 0xa9]), // "hé": length 3, then UTF-8
      Buffer.from([0, 0, 0, 0]), // "": length 0
    ]);
    assert.deepEqual(body, expected);
  });

  test('should return outputs as binary when the request asked with binary_data_output', () => {
    const decoded = decodeInferRequest(
      {
        parameters: { binary_data_output: true },
        inputs: [{ name: 'v', shape: [1, 2], datatype: 'UINT16', data: [1, 258] }],
      },
      {},
      single('UINT16', 2),
      { maxBatchSize: 0 },
    );
    const binary = Object.fromEntries(decoded.outputs.map((o) => [o.name, o.binary]));
    const outputs: Tensor[] = [{ ...decoded.work.inputs[0]!, name: 'v_out' }];
    const { body, headers } = encodeInferResponse({
      modelName: 'echo',
      modelVersion: '1',
      outputs,
      binary,
    });
    const { json, binary: bytes } = responseJson(body, headers);
    assert.deepEqual(json['outputs'], [
      { name: 'v_out', datatype: 'UINT16', shape: [1, 2], parameters: { binary_data_size: 4 } },
    ]);
    assert.deepEqual(bytes, Buffer.from([1, 0, 2, 1]));
  });

  test('should round-trip a binary request into a binary response byte for byte', () => {
    const raw = Buffer.from(new Float64Array([Math.PI, -0, 1e-300]).buffer);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'v', shape: [1, 3], datatype: 'FP64', parameters: { binary_data_size: 24 } },
        ],
      }),
    );
    const decoded = decodeInferRequest(
      Buffer.concat([header, raw]),
      { 'inference-header-content-length': String(header.length) },
      single('FP64', 3),
      {
        maxBatchSize: 0,
      },
    );
    const { body, headers } = encodeInferResponse({
      modelName: 'echo',
      modelVersion: '1',
      outputs: decoded.work.inputs,
      binary: { v: true },
    });
    assert.deepEqual(responseJson(body, headers).binary, raw);
  });

  test('should read only own properties of the binary map', () => {
    const outputs: Tensor[] = [
      { name: 'constructor', datatype: 'UINT8', shape: [1], data: new Uint8Array([5]) },
    ];
    const { body } = encodeInferResponse({
      modelName: 'm',
      modelVersion: '1',
      outputs,
      binary: {},
    });
    assert.equal(typeof body, 'string');
  });
});
