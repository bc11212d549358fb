import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchTooLargeError, InferenceRequestError } from '../../../src/errors.js';
import { decodeInferRequest } from '../../../src/serve/protocol/index.js';
import type { ModelSignature } from '../../../src/serve/types.js';
import type { Datatype } from '../../../src/model/tensor-description.js';
import {
  binaryBody,
  assertThrowsExactly,
  assertThrowsWith,
  classifier,
  fixed,
  mixed,
  single,
} from './protocol-helpers.js';

const E = 'E_INFERENCE_REQUEST';
const row = (n = 64): number[] => Array.from({ length: n }, (_, i) => i / 10);

function decode(body: unknown, signature: ModelSignature = classifier, maxBatchSize = 64) {
  return decodeInferRequest(body, {}, signature, { maxBatchSize });
}

function rejects(body: unknown, message: string, signature: ModelSignature = classifier): void {
  assertThrowsExactly(() => decode(body, signature), InferenceRequestError, E, message);
}

describe('decodeInferRequest validation', () => {
  test('should reject a body that is not an object', () => {
    rejects([1, 2], 'body: expected an object, got an array');
    rejects(null, 'body: expected an object, got null');
    rejects('"text"', 'body: expected an object, got "text"');
    assertThrowsWith(
      () => decode(Buffer.from('{"inputs": [')),
      InferenceRequestError,
      E,
      'body: invalid JSON',
    );
  });

  test('should reject inputs that are not an array', () => {
    rejects({}, 'inputs: expected an array, got nothing');
    rejects({ inputs: { x: [1] } }, 'inputs: expected an array, got an object');
    rejects({ inputs: [7] }, 'inputs[0]: expected an object, got 7');
  });

  test('should reject a non-string id and non-object parameters', () => {
    const inputs = [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: row() }];
    rejects({ id: 5, inputs }, 'id: expected a string, got 5');
    rejects({ parameters: [1], inputs }, 'parameters: expected an object, got an array');
    rejects(
      { parameters: { binary_data_output: 'yes' }, inputs },
      'parameters.binary_data_output: expected true or false, got "yes"',
    );
  });

  test('should name the shape expected and given', () => {
    rejects(
      { inputs: [{ name: 'x', shape: [1, 63], datatype: 'FP32', data: row(63) }] },
      'inputs[0].shape: expected [-1, 64], got [1, 63]',
    );
    rejects(
      { inputs: [{ name: 'x', shape: [64], datatype: 'FP32', data: row() }] },
      'inputs[0].shape: expected [-1, 64], got [64]',
    );
    rejects(
      { inputs: [{ name: 'x', shape: [1, -64], datatype: 'FP32', data: row() }] },
      'inputs[0].shape: expected an array of non-negative integers, got [1, -64]',
    );
    rejects(
      { inputs: [{ name: 'x', shape: '1x64', datatype: 'FP32', data: row() }] },
      'inputs[0].shape: expected an array of non-negative integers, got "1x64"',
    );
  });

  test('should name an unknown input and list the model inputs', () => {
    rejects(
      {
        inputs: [
          { name: 'x', shape: [1, 64], datatype: 'FP32', data: row() },
          { name: 'y', shape: [1], datatype: 'FP32', data: [1] },
        ],
      },
      'inputs[1].name: unknown input "y"; the model\'s inputs are "x"',
    );
    rejects(
      { inputs: [{ shape: [1, 64], datatype: 'FP32', data: row() }] },
      'inputs[0].name: expected a string, got nothing',
    );
  });

  test('should name a missing input', () => {
    rejects(
      { inputs: [{ name: 'x_num', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] },
      'inputs: missing input "x_cat"; the model\'s inputs are "x_num", "x_cat"',
      mixed,
    );
  });

  test('should reject a duplicate input name', () => {
    const x = { name: 'x', shape: [1, 64], datatype: 'FP32', data: row() };
    rejects({ inputs: [x, x] }, 'inputs[1].name: duplicate input "x", also given as inputs[0]');
  });

  test('should name the element that is not a number, by flat and by nested path', () => {
    const data: unknown[] = row(128);
    data[17] = 'abc';
    rejects(
      { inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data }] },
      'inputs[0].data[17]: expected a number for FP32, got "abc"',
    );
    const nested = [row(), row()];
    nested[1]![3] = null as unknown as number;
    rejects(
      { inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data: nested }] },
      "inputs[0].data[1][3]: expected a number for FP32, got null (null is a missing value only for models that impute missing values, such as mlscale's own exports with their preprocessing inside; this model does not: send a number, or impute it before sending)",
    );
  });

  test('should compare the data length with the shape', () => {
    rejects(
      { inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data: row(127) }] },
      'inputs[0]: shape [2, 64] holds 128 values, data has 127',
    );
    rejects(
      { inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data: [row(), row(63)] }] },
      'inputs[0].data[1]: expected an array of length 64 (dimension 1 of shape [2, 64]), got length 63',
    );
    rejects(
      { inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data: [row(), row(), row()] }] },
      'inputs[0].data: expected an array of length 2 (dimension 0 of shape [2, 64]), got length 3',
    );
    rejects(
      { inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32' }] },
      'inputs[0].data: expected an array, got nothing',
    );
  });

  test('should name the datatype expected and given', () => {
    rejects(
      { inputs: [{ name: 'x', shape: [1, 64], datatype: 'INT32', data: row() }] },
      'inputs[0].datatype: expected FP32, got INT32',
    );
    rejects(
      { inputs: [{ name: 'x', shape: [1, 64], datatype: 'float', data: row() }] },
      'inputs[0].datatype: expected FP32, got "float"',
    );
    rejects(
      { inputs: [{ name: 'x', shape: [1, 64], data: row() }] },
      'inputs[0].datatype: expected FP32, got nothing',
    );
  });

  test('should name an unknown or duplicate output and list the model outputs', () => {
    const inputs = [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: row() }];
    rejects(
      { inputs, outputs: [{ name: 'foo' }] },
      'outputs[0].name: unknown output "foo"; the model\'s outputs are "probabilities", "label"',
    );
    rejects(
      { inputs, outputs: [{ name: 'label' }, { name: 'label' }] },
      'outputs[1].name: duplicate output "label", also given as outputs[0]',
    );
    rejects({ inputs, outputs: 'label' }, 'outputs: expected an array, got "label"');
    rejects(
      { inputs, outputs: [{ name: 'label', parameters: { binary_data: 1 } }] },
      'outputs[0].parameters.binary_data: expected true or false, got 1',
    );
  });

  test('should reject an empty batch', () => {
    rejects(
      { inputs: [{ name: 'x', shape: [0, 64], datatype: 'FP32', data: [] }] },
      'inputs[0].shape[0] is 0: a request needs at least one row',
    );
  });

  test('should require every input to have the same number of rows', () => {
    rejects(
      {
        inputs: [
          { name: 'x_num', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] },
          { name: 'x_cat', shape: [1, 2], datatype: 'INT64', data: [1, 2] },
        ],
      },
      'inputs[1].shape[0]: expected 2 rows, as in inputs[0], got 1',
      mixed,
    );
  });

  test('should refuse more rows than max_batch_size with BatchTooLargeError', () => {
    const body = { inputs: [{ name: 'x', shape: [65, 64], datatype: 'FP32', data: row(65 * 64) }] };
    assertThrowsExactly(
      () => decode(body, classifier, 64),
      BatchTooLargeError,
      'E_BATCH_TOO_LARGE',
      "inputs[0].shape[0]: 65 rows exceed the model's max_batch_size of 64",
    );
    assert.equal(decode(body, classifier, 0).work.rows, 65, 'maxBatchSize 0 means no limit');
    assert.equal(decode(body, classifier, 65).work.rows, 65);
  });

  test('should match a non-batchable model shape exactly, -1 matching any size', () => {
    const decoded = decode(
      { inputs: [{ name: 'image', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] },
      fixed,
    );
    assert.equal(decoded.work.rows, 1);
    assert.deepEqual(decoded.work.inputs[0]!.shape, [2, 3]);
    rejects(
      { inputs: [{ name: 'image', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] },
      'inputs[0].shape: expected [2, -1], got [1, 3]',
      fixed,
    );
  });

  test('should check every element against its datatype with the path', () => {
    const cases: [ModelSignature, unknown[], string][] = [
      [
        single('INT8', 2),
        [1, 300],
        'inputs[0].data[1]: expected an integer from -128 to 127 for INT8, got 300',
      ],
      [
        single('INT32', 2),
        [1.5, 2],
        'inputs[0].data[0]: expected an integer from -2147483648 to 2147483647 for INT32, got 1.5',
      ],
      [
        single('UINT8', 2),
        [0, -1],
        'inputs[0].data[1]: expected an integer from 0 to 255 for UINT8, got -1',
      ],
      [
        single('UINT16', 2),
        [0, '1'],
        'inputs[0].data[1]: expected an integer from 0 to 65535 for UINT16, got "1"',
      ],
      [single('BOOL', 2), [true, 1], 'inputs[0].data[1]: expected true or false for BOOL, got 1'],
      [single('BYTES', 2), ['a', 5], 'inputs[0].data[1]: expected a string for BYTES, got 5'],
      [single('FP64', 2), [1, true], 'inputs[0].data[1]: expected a number for FP64, got true'],
      [
        single('FP32', 2),
        [1, 1e39],
        'inputs[0].data[1]: expected a finite number in range for FP32, got 1e+39',
      ],
      [single('FP32', 2), [1, 'NaN'], 'inputs[0].data[1]: expected a number for FP32, got "NaN"'],
      [
        single('FP16', 2),
        [1, 70000],
        'inputs[0].data[1]: expected a finite number within ±65504 for FP16, got 70000',
      ],
    ];
    for (const [signature, data, message] of cases) {
      const datatype = signature.inputs[0]!.datatype;
      rejects({ inputs: [{ name: 'v', shape: [1, 2], datatype, data }] }, message, signature);
    }
  });

  test('should take 64-bit integers as safe numbers or digit strings, in range', () => {
    const int64 =
      'an integer from -9223372036854775808 to 9223372036854775807 (a number, or a string of digits beyond 2^53) for INT64';
    const uint64 =
      'an integer from 0 to 18446744073709551615 (a number, or a string of digits beyond 2^53) for UINT64';
    const body = (datatype: string, data: unknown[]) => ({
      inputs: [{ name: 'v', shape: [1, 2], datatype, data }],
    });
    rejects(
      body('INT64', [1, 2 ** 60]),
      `inputs[0].data[1]: expected ${int64}, got ${2 ** 60}`,
      single('INT64', 2),
    );
    rejects(
      body('INT64', [1, '12a']),
      `inputs[0].data[1]: expected ${int64}, got "12a"`,
      single('INT64', 2),
    );
    rejects(
      body('INT64', ['9223372036854775808', 0]),
      `inputs[0].data[0]: expected ${int64}, got "9223372036854775808"`,
      single('INT64', 2),
    );
    rejects(
      body('UINT64', [1, '-1']),
      `inputs[0].data[1]: expected ${uint64}, got "-1"`,
      single('UINT64', 2),
    );
    rejects(
      body('UINT64', [-1, 1]),
      `inputs[0].data[0]: expected ${uint64}, got -1`,
      single('UINT64', 2),
    );
    const ok = decode(body('UINT64', ['18446744073709551615', 7]), single('UINT64', 2));
    assert.deepEqual(ok.work.inputs[0]!.data, new BigUint64Array([2n ** 64n - 1n, 7n]));
  });

  test('should reject both data and binary_data_size, and a bad binary_data_size', () => {
    rejects(
      {
        inputs: [
          {
            name: 'x',
            shape: [1, 64],
            datatype: 'FP32',
            data: row(),
            parameters: { binary_data_size: 256 },
          },
        ],
      },
      'inputs[0]: give either data or parameters.binary_data_size, not both',
    );
    rejects(
      {
        inputs: [
          { name: 'x', shape: [1, 64], datatype: 'FP32', parameters: { binary_data_size: '256' } },
        ],
      },
      'inputs[0].parameters.binary_data_size: expected a non-negative integer, got "256"',
    );
    rejects(
      {
        inputs: [
          { name: 'x', shape: [1, 64], datatype: 'FP32', parameters: { binary_data_size: 256 } },
        ],
      },
      'inputs[0].parameters.binary_data_size: the request has no binary data (no Inference-Header-Content-Length header with a binary body)',
    );
  });

  test('should refuse ±Infinity and NaN in binary FP16/FP32/FP64 data as JSON refuses them', () => {
    const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer);
    const cases: [Datatype, Uint8Array, string][] = [
      [
        'FP32',
        bytes(new Float32Array([1, Infinity])),
        '[1]: expected a finite number in range for FP32, got Infinity',
      ],
      [
        'FP64',
        bytes(new Float64Array([-Infinity, 1])),
        '[0]: expected a finite number in range for FP64, got -Infinity',
      ],
      [
        'FP32',
        bytes(new Float32Array([NaN, 1])),
        '[0]: expected a finite number in range for FP32, got NaN',
      ],
      [
        'FP16',
        bytes(new Uint16Array([0x3c00, 0x7c00])),
        '[1]: expected a finite number within ±65504 for FP16, got Infinity',
      ],
      [
        'FP16',
        bytes(new Uint16Array([0x7e00, 0])),
        '[0]: expected a finite number within ±65504 for FP16, got NaN',
      ],
    ];
    for (const [datatype, data, expected] of cases) {
      const { body, headers } = binaryBody(
        {
          inputs: [
            { name: 'v', shape: [1, 2], datatype, parameters: { binary_data_size: data.length } },
          ],
        },
        data,
      );
      assertThrowsExactly(
        () => decodeInferRequest(body, headers, single(datatype, 2), { maxBatchSize: 64 }),
        InferenceRequestError,
        E,
        `inputs[0].binary_data[0]${expected}`,
      );
    }
  });

  test('should refuse JSON nested deeper than 64 levels before parsing it, brackets in strings aside', () => {
    const deep = (n: number): Buffer =>
      Buffer.from(`{"inputs": [{"name": "x", "data": ${'['.repeat(n)}${']'.repeat(n)}}]}`);
    assertThrowsExactly(
      () => decode(deep(200)),
      InferenceRequestError,
      E,
      'body: JSON nested deeper than 64 levels (at byte 95, depth 65); no request of the protocol nests that deep',
    );
    // 61 levels of data inside the 3 of the body and inputs: parsed, and refused for what it is.
    assertThrowsWith(() => decode(deep(61)), InferenceRequestError, E, 'inputs[0]');
    const quoted = Buffer.from(`{"id": "${'[{'.repeat(100)}\\"[", "inputs": 5}`);
    assertThrowsExactly(
      () => decode(quoted),
      InferenceRequestError,
      E,
      'inputs: expected an array, got 5',
    );
  });

  test('should check options.maxBatchSize', () => {
    assert.throws(() => decodeInferRequest({ inputs: [] }, {}, classifier, { maxBatchSize: -1 }), {
      name: 'TypeError',
      message: 'options.maxBatchSize must be a non-negative integer (0 for no limit), got -1',
    });
  });
});
