import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseTextFormat,
  TextFormatSyntaxError,
  type TextMessage,
  type TextValue,
} from '../../../src/serve/triton/text-format.js';

/** A parsed message as plain data: scalars by value, messages as objects, every field a list. */
function plain(message: TextMessage): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [name, values] of message)
    out[name] = values.map((v: TextValue) => (v.kind === 'message' ? plain(v.fields) : v.value));
  return out;
}

test('parseTextFormat reads a Triton config as the protobuf text format writes it', () => {
  const text = `
# An ONNX model with two CPU instances
name: "churn"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "x"
    data_type: TYPE_FP32
    dims: [ 16 ]
  },
  { name: "x_cat", data_type: TYPE_STRING, dims: [ -1, 2 ] }
]
output { name: "y" data_type: TYPE_FP32 dims: 3 }
instance_group [ { count: 2 kind: KIND_CPU } ]
dynamic_batching {
  preferred_batch_size: [ 4, 8 ]
  max_queue_delay_microseconds: 100
}
`;
  assert.deepEqual(plain(parseTextFormat(text)), {
    name: ['churn'],
    platform: ['onnxruntime_onnx'],
    max_batch_size: [8],
    input: [
      { name: ['x'], data_type: ['TYPE_FP32'], dims: [16] },
      { name: ['x_cat'], data_type: ['TYPE_STRING'], dims: [-1, 2] },
    ],
    output: [{ name: ['y'], data_type: ['TYPE_FP32'], dims: [3] }],
    instance_group: [{ count: [2], kind: ['KIND_CPU'] }],
    dynamic_batching: [{ preferred_batch_size: [4, 8], max_queue_delay_microseconds: [100] }],
  });
});

test('parseTextFormat takes the rest of the grammar: <> messages, ; and , separators, escapes, adjacent strings, number forms', () => {
  const text = `a < b: 1; c: 'it\\'s' > ; s: "x\\ty" "z" "\\101\\x42" , h: 0x1F o: 010 f: 1.5e3 g: .5 n: -inf k: -2 e: 2f`;
  assert.deepEqual(plain(parseTextFormat(text)), {
    a: [{ b: [1], c: ["it's"] }],
    s: ['x\tyzAB'],
    h: [31],
    o: [8],
    f: [1500],
    g: [0.5],
    n: [-Infinity],
    k: [-2],
    e: [2],
  });
  // Repeated fields repeat; an empty list adds nothing.
  assert.deepEqual(plain(parseTextFormat('d: 1 d: 2 d: [3, 4] e: []')), { d: [1, 2, 3, 4], e: [] });
});

test('parseTextFormat gives each value its line and column', () => {
  const message = parseTextFormat('a: 1\n  b {\n c: 2 }');
  assert.deepEqual(
    { line: message.get('b')![0]!.line, column: message.get('b')![0]!.column },
    { line: 2, column: 5 },
  );
});

test('parseTextFormat refuses malformed text naming the line, the column and what was expected', () => {
  const cases: [string, RegExp][] = [
    ['a: ', /^1:4: expected a value, got the end of the file$/],
    ['a 1', /^1:3: expected ":" before a scalar value, or "\{" to open a message, got "1"$/],
    ['a {\n b: 1\n', /^3:1: expected "}" to close the message, got the end of the file$/],
    ['a: "open', /^1:4: string not closed on its line$/],
    ['a: [1 2]', /^1:7: expected "," or "\]" in the list, got "2"$/],
    ['a: 1.2.3', /^1:4: invalid number "1.2."$/],
    ['a: @', /^1:4: unexpected character "@"$/],
    ['[ext.field]: 1', /^1:1: extension and Any fields/],
    ['}', /^1:1: expected a field name, got "}"$/],
    ['a: "\\q"', /invalid escape "\\q"/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseTextFormat(text),
      (err: unknown) =>
        err instanceof TextFormatSyntaxError && message.test((err as Error).message),
      text,
    );
  }
});

test('parseTextFormat refuses nesting deep enough to overflow the stack, with a message', () => {
  assert.throws(() => parseTextFormat('a {'.repeat(10_000)), /at most 100 nested messages/);
});
