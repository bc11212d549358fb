import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InferenceRequestError } from '../../../src/errors.js';
import { decodeInferRequest } from '../../../src/serve/protocol/index.js';
import type { ModelSignature } from '../../../src/serve/types.js';
import {
  assertThrowsExactly,
  assertThrowsWith,
  binaryBody,
  bytesElements,
  classifier,
  mixed,
  single,
} from './protocol-helpers.js';

const E = 'E_INFERENCE_REQUEST';

function decode(
  body: unknown,
  signature: ModelSignature = classifier,
  headers: Record<string, string> = {},
) {
  return decodeInferRequest(body, headers, signature, { maxBatchSize: 64 });
}

describe('decodeInferRequest', () => {
  test('should decode a JSON request into typed arrays in model input order', () => {
    const decoded = decode(
      {
        id: 'req-1',
        inputs: [
          { name: 'x_cat', shape: [2, 2], datatype: 'INT64', data: [1, 2, 3, '9007199254740993'] },
          { name: 'x_num', shape: [2, 3], datatype: 'FP32', data: [0.5, 1, 2, 3, 4, 5] },
        ],
      },
      mixed,
    );
    assert.equal(decoded.id, 'req-1');
    assert.equal(decoded.work.rows, 2);
    assert.deepEqual(decoded.work.outputs, ['score']);
    assert.deepEqual(decoded.outputs, [{ name: 'score', binary: false }]);
    const [num, cat] = decoded.work.inputs;
    assert.deepEqual(num, {
      name: 'x_num',
      datatype: 'FP32',
      shape: [2, 3],
      data: new Float32Array([0.5, 1, 2, 3, 4, 5]),
    });
    assert.deepEqual(cat, {
      name: 'x_cat',
      datatype: 'INT64',
      shape: [2, 2],
      data: new BigInt64Array([1n, 2n, 3n, 9007199254740993n]),
    });
  });

  test('should give identical tensors for flat and nested data', () => {
    const rows = [
      Array.from({ length: 64 }, (_, i) => i),
      Array.from({ length: 64 }, (_, i) => -i / 4),
    ];
    const flat = decode({
      inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data: rows.flat() }],
    });
    const nested = decode({
      inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data: rows }],
    });
    assert.deepEqual(nested.work, flat.work);

    const cube = [
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
      [
        ['e', 'f'],
        ['g', 'h'],
      ],
    ];
    const signature: ModelSignature = {
      inputs: [{ name: 'v', datatype: 'BYTES', shape: [-1, 2, 2] }],
      outputs: [],
      batchable: true,
    };
    const a = decode(
      { inputs: [{ name: 'v', shape: [2, 2, 2], datatype: 'BYTES', data: cube }] },
      signature,
    );
    const b = decode(
      { inputs: [{ name: 'v', shape: [2, 2, 2], datatype: 'BYTES', data: cube.flat(2) }] },
      signature,
    );
    assert.deepEqual(a.work.inputs, b.work.inputs);
    assert.deepEqual(a.work.inputs[0]!.data, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  test('should parse JSON from a Buffer or a string the same as from an object', () => {
    const body = {
      id: '7',
      inputs: [
        {
          name: 'x',
          shape: [1, 64],
          datatype: 'FP32',
          data: Array.from({ length: 64 }, (_, i) => i),
        },
      ],
    };
    const fromObject = decode(body);
    assert.deepEqual(decode(JSON.stringify(body)), fromObject);
    assert.deepEqual(decode(Buffer.from(JSON.stringify(body))), fromObject);
  });

  test('should keep BOOL as 0/1 bytes and BYTES as UTF-8 strings', () => {
    const bool = decode(
      { inputs: [{ name: 'v', shape: [1, 3], datatype: 'BOOL', data: [true, false, true] }] },
      single('BOOL', 3),
    );
    assert.deepEqual(bool.work.inputs[0]!.data, new Uint8Array([1, 0, 1]));
    const text = decode(
      Buffer.from(
        JSON.stringify({
          inputs: [{ name: 'v', shape: [1, 2], datatype: 'BYTES', data: ['héllo', '日本 🎉'] }],
        }),
      ),
      single('BYTES', 2),
    );
    assert.deepEqual(text.work.inputs[0]!.data, ['héllo', '日本 🎉']);
  });

  test('should turn FP16 JSON numbers into half-precision bits', () => {
    const decoded = decode(
      { inputs: [{ name: 'v', shape: [1, 4], datatype: 'FP16', data: [1, -2, 65504, 0.1] }] },
      single('FP16', 4),
    );
    assert.deepEqual(
      decoded.work.inputs[0]!.data,
      new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x2e66]),
    );
  });

  test('should return every output when none are named, binary per binary_data_output', () => {
    const inputs = [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: new Array(64).fill(0) }];
    assert.deepEqual(decode({ inputs }).outputs, [
      { name: 'probabilities', binary: false },
      { name: 'label', binary: false },
    ]);
    const all = decode({ inputs, parameters: { binary_data_output: true } });
    assert.deepEqual(all.outputs, [
      { name: 'probabilities', binary: true },
      { name: 'label', binary: true },
    ]);
    assert.equal(all.parameters?.['binary_data_output'], true);
    assert.deepEqual(decode({ inputs, outputs: [] }).work.outputs, ['probabilities', 'label']);
  });

  test('should let an output binary_data override the request binary_data_output', () => {
    const inputs = [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: new Array(64).fill(0) }];
    const decoded = decode({
      inputs,
      parameters: { binary_data_output: true },
      outputs: [{ name: 'label', parameters: { binary_data: false } }, { name: 'probabilities' }],
    });
    assert.deepEqual(decoded.outputs, [
      { name: 'label', binary: false },
      { name: 'probabilities', binary: true },
    ]);
    assert.deepEqual(decoded.work.outputs, ['label', 'probabilities']);
    const one = decode({
      inputs,
      outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
    });
    assert.deepEqual(one.outputs, [{ name: 'probabilities', binary: true }]);
  });
});

describe('decodeInferRequest with binary tensor data', () => {
  const twoInputs: ModelSignature = {
    inputs: [
      { name: 'input0', datatype: 'UINT32', shape: [-1, 2] },
      { name: 'input1', datatype: 'BOOL', shape: [-1, 3] },
    ],
    outputs: [{ name: 'output0', datatype: 'FP32', shape: [-1, 2] }],
    batchable: true,
  };

  test('should read inputs from the bytes after the JSON header, in input order', () => {
    // The binary extension's own example: 16 bytes of UINT32 [2, 2], then 3 bytes of BOOL.
    const u32 = Buffer.alloc(16);
    [1, 2, 3, 0xffff_ffff].forEach((v, i) => u32.writeUInt32LE(v, i * 4));
    const { body, headers } = binaryBody(
      {
        model_name: 'mymodel',
        inputs: [
          {
            name: 'input0',
            shape: [2, 2],
            datatype: 'UINT32',
            parameters: { binary_data_size: 16 },
          },
          { name: 'input1', shape: [2, 3], datatype: 'BOOL', parameters: { binary_data_size: 6 } },
        ],
        outputs: [{ name: 'output0', parameters: { binary_data: true } }],
      },
      u32,
      Buffer.from([1, 0, 1, 0, 0, 1]),
    );
    const decoded = decode(body, twoInputs, headers);
    assert.deepEqual(decoded.work.inputs[0]!.data, new Uint32Array([1, 2, 3, 0xffff_ffff]));
    assert.deepEqual(decoded.work.inputs[1]!.data, new Uint8Array([1, 0, 1, 0, 0, 1]));
    assert.deepEqual(decoded.outputs, [{ name: 'output0', binary: true }]);
    // Fresh arrays: the tensor does not keep the request body alive.
    assert.notEqual(decoded.work.inputs[0]!.data.buffer, body.buffer);
  });

  test('should mix binary and JSON inputs and take the binary in JSON order', () => {
    const cat = Buffer.alloc(16);
    cat.writeBigInt64LE(-(2n ** 63n), 0);
    cat.writeBigInt64LE(2n ** 62n + 1n, 8);
    const { body, headers } = binaryBody(
      {
        inputs: [
          { name: 'x_cat', shape: [1, 2], datatype: 'INT64', parameters: { binary_data_size: 16 } },
          { name: 'x_num', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
        ],
      },
      cat,
    );
    const decoded = decode(body, mixed, headers);
    assert.deepEqual(decoded.work.inputs[0]!.data, new Float32Array([1, 2, 3]));
    assert.deepEqual(
      decoded.work.inputs[1]!.data,
      new BigInt64Array([-(2n ** 63n), 2n ** 62n + 1n]),
    );
  });

  test('should read BYTES elements as 4-byte little-endian lengths and UTF-8 bytes', () => {
    const elements = bytesElements('héllo', '', '日本');
    assert.equal(elements.length, 4 + 6 + 4 + 0 + 4 + 6);
    const { body, headers } = binaryBody(
      {
        inputs: [
          {
            name: 'v',
            shape: [1, 3],
            datatype: 'BYTES',
            parameters: { binary_data_size: elements.length },
          },
        ],
      },
      elements,
    );
    const decoded = decode(body, single('BYTES', 3), headers);
    assert.deepEqual(decoded.work.inputs[0]!.data, ['héllo', '', '日本']);
  });

  test('should read FP16 as raw half-precision bits', () => {
    const halves = Buffer.alloc(4);
    halves.writeUInt16LE(0x3c00, 0);
    halves.writeUInt16LE(0xfbff, 2);
    const { body, headers } = binaryBody(
      {
        inputs: [
          { name: 'v', shape: [1, 2], datatype: 'FP16', parameters: { binary_data_size: 4 } },
        ],
      },
      halves,
    );
    assert.deepEqual(
      decode(body, single('FP16', 2), headers).work.inputs[0]!.data,
      new Uint16Array([0x3c00, 0xfbff]),
    );
  });

  test('should validate binary sizes exactly', () => {
    const input = (size: number) => ({
      inputs: [
        {
          name: 'input0',
          shape: [2, 2],
          datatype: 'UINT32',
          parameters: { binary_data_size: size },
        },
        {
          name: 'input1',
          shape: [2, 3],
          datatype: 'BOOL',
          data: [true, true, true, true, true, true],
        },
      ],
    });
    const run = (size: number, bytes: number) => {
      const { body, headers } = binaryBody(input(size), Buffer.alloc(bytes));
      return () => decode(body, twoInputs, headers);
    };
    assertThrowsExactly(
      run(12, 12),
      InferenceRequestError,
      E,
      'inputs[0].parameters.binary_data_size: shape [2, 2] of UINT32 needs 16 bytes, got 12',
    );
    assertThrowsExactly(
      run(16, 12),
      InferenceRequestError,
      E,
      'inputs[0].parameters.binary_data_size: 16 bytes, but only 12 bytes of binary data remain',
    );
    assertThrowsExactly(
      run(16, 20),
      InferenceRequestError,
      E,
      "body: 20 bytes of binary data follow the JSON header, but the inputs' binary_data_size add up to 16",
    );
  });

  test('should reject a bad Inference-Header-Content-Length', () => {
    const { body } = binaryBody({ inputs: [] }, Buffer.alloc(4));
    for (const value of ['abc', String(body.length + 1), '-1']) {
      assertThrowsWith(
        () => decode(body, twoInputs, { 'inference-header-content-length': value }),
        InferenceRequestError,
        E,
        `Inference-Header-Content-Length: expected the JSON header's size in bytes, from 0 to the body's ${body.length}, got "${value}"`,
      );
    }
    // Header names are case-insensitive.
    const ok = binaryBody(
      {
        inputs: [
          { name: 'v', shape: [1, 1], datatype: 'UINT8', parameters: { binary_data_size: 1 } },
        ],
      },
      Buffer.from([9]),
    );
    const decoded = decode(ok.body, single('UINT8', 1), {
      'Inference-Header-Content-Length': ok.headers['inference-header-content-length']!,
    });
    assert.deepEqual(decoded.work.inputs[0]!.data, new Uint8Array([9]));
  });

  test('should reject bad BOOL bytes and malformed BYTES elements', () => {
    const bool = binaryBody(
      {
        inputs: [
          { name: 'v', shape: [1, 2], datatype: 'BOOL', parameters: { binary_data_size: 2 } },
        ],
      },
      Buffer.from([1, 2]),
    );
    assertThrowsExactly(
      () => decode(bool.body, single('BOOL', 2), bool.headers),
      InferenceRequestError,
      E,
      'inputs[0]: binary BOOL element 1 is 2; expected 0 (false) or 1 (true)',
    );

    const bytes = (payload: Buffer, count = 2) => {
      const { body, headers } = binaryBody(
        {
          inputs: [
            {
              name: 'v',
              shape: [1, count],
              datatype: 'BYTES',
              parameters: { binary_data_size: payload.length },
            },
          ],
        },
        payload,
      );
      return () => decode(body, single('BYTES', count), headers);
    };
    const overrun = Buffer.concat([
      bytesElements('ab'),
      Buffer.from([100, 0, 0, 0, 1, 2, 3, 4, 5]),
    ]);
    assertThrowsExactly(
      bytes(overrun),
      InferenceRequestError,
      E,
      "inputs[0]: binary BYTES element 1 has length 100, but only 5 of the tensor's 15 bytes remain",
    );
    assertThrowsExactly(
      bytes(Buffer.concat([bytesElements('ab', 'c'), Buffer.from([0])])),
      InferenceRequestError,
      E,
      'inputs[0].parameters.binary_data_size: the 2 BYTES elements take 11 bytes, got 12',
    );
    assertThrowsExactly(
      bytes(Buffer.from([1, 0, 0, 0, 0xff, 0, 0, 0, 0])),
      InferenceRequestError,
      E,
      'inputs[0]: binary BYTES element 0 is not valid UTF-8',
    );
    assertThrowsExactly(
      bytes(Buffer.from([0, 0, 0, 0, 0])),
      InferenceRequestError,
      E,
      'inputs[0].parameters.binary_data_size: 2 BYTES elements need at least 8 bytes, got 5',
    );
    assertThrowsExactly(
      bytes(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0])),
      InferenceRequestError,
      E,
      'inputs[0].parameters.binary_data_size: the 2 BYTES elements take 8 bytes, got 9',
    );
  });
});

describe('decodeInferRequest against prototype pollution', () => {
  const valid = { name: 'x', shape: [1, 64], datatype: 'FP32', data: new Array(64).fill(0) };

  test('should reject __proto__ and constructor.prototype keys in request text', () => {
    const texts = [
      `{"__proto__": {"polluted": true}, "inputs": [${JSON.stringify(valid)}]}`,
      `{"inputs": [${JSON.stringify(valid)}], "parameters": {"__proto__": {"polluted": true}}}`,
      `{"constructor": {"prototype": {"polluted": true}}, "inputs": [${JSON.stringify(valid)}]}`,
    ];
    for (const text of texts) {
      assertThrowsWith(() => decode(text), InferenceRequestError, E, 'body: invalid JSON');
      assertThrowsWith(
        () => decode(Buffer.from(text)),
        InferenceRequestError,
        E,
        'body: invalid JSON',
      );
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  test('should ignore or reject such keys in an object parsed elsewhere, without polluting', () => {
    // JSON.parse makes "__proto__" an own property, as a careless framework parser would hand it over.
    const top = JSON.parse(
      `{"__proto__": {"polluted": true}, "inputs": [${JSON.stringify(valid)}]}`,
    ) as unknown;
    assert.equal(decode(top).work.rows, 1);
    const params = JSON.parse(
      `{"inputs": [${JSON.stringify(valid)}], "parameters": {"__proto__": {"polluted": true}}}`,
    ) as unknown;
    assertThrowsExactly(
      () => decode(params),
      InferenceRequestError,
      E,
      'parameters: the key "__proto__" is not allowed',
    );
    const ctor = JSON.parse(
      `{"inputs": [${JSON.stringify(valid)}], "parameters": {"constructor": {"prototype": {"polluted": true}}}}`,
    ) as unknown;
    assertThrowsExactly(
      () => decode(ctor),
      InferenceRequestError,
      E,
      'parameters: the key "constructor" is not allowed',
    );
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
  });

  test('should read own properties only and return parameters without a prototype', () => {
    const inherited = Object.create({ inputs: [valid] }) as object;
    assertThrowsExactly(
      () => decode(inherited),
      InferenceRequestError,
      E,
      'inputs: expected an array, got nothing',
    );
    const decoded = decode({ inputs: [valid], parameters: { priority: 2 } });
    assert.equal(Object.getPrototypeOf(decoded.parameters), null);
    assert.deepEqual({ ...decoded.parameters }, { priority: 2 });
  });

  test('should treat input and output names like "__proto__" as unknown names', () => {
    assertThrowsExactly(
      () => decode({ inputs: [{ ...valid, name: '__proto__' }] }),
      InferenceRequestError,
      E,
      'inputs[0].name: unknown input "__proto__"; the model\'s inputs are "x"',
    );
    assertThrowsExactly(
      () => decode({ inputs: [valid], outputs: [{ name: 'constructor' }] }),
      InferenceRequestError,
      E,
      'outputs[0].name: unknown output "constructor"; the model\'s outputs are "probabilities", "label"',
    );
  });
});
