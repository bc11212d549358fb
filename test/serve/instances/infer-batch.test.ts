/**
 * An instance's side of dynamic batching, in process: raw requests decoded, merged into runs,
 * split and encoded, with a fake model.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answerBatch,
  packAnswers,
  type Answer,
  type BatchContext,
} from '../../../src/serve/instances/infer-batch.js';
import {
  kAnswerBadRequest,
  kAnswerBinary,
  kAnswerJson,
  kAnswerRunFailed,
  kAnswerTooLarge,
  packedItem,
} from '../../../src/serve/instances/messages.js';
import type { ModelSignature, Tensor } from '../../../src/serve/types.js';

const signature: ModelSignature = {
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
  outputs: [
    { name: 'double', datatype: 'FP32', shape: [-1, 3] },
    { name: 'sum', datatype: 'FP32', shape: [-1] },
  ],
  batchable: true,
};

/** A fake model: `double` is x times two, `sum` each row's sum. Records every run's rows and outputs. */
function fakeModel(options: { fail?: string; scalar?: boolean } = {}): {
  context: BatchContext;
  runs: { rows: number; outputs: string[] }[];
} {
  const runs: { rows: number; outputs: string[] }[] = [];
  const context: BatchContext = {
    signature,
    modelName: 'm',
    modelVersion: '2',
    maxBatchSize: 4,
    run: async (inputs, outputs) => {
      const x = inputs[0]!;
      const rows = x.shape[0]!;
      runs.push({ rows, outputs: [...outputs] });
      if (options.fail) throw new Error(options.fail);
      const data = x.data as Float32Array;
      return outputs.map((name): Tensor => {
        if (options.scalar)
          return { name, datatype: 'FP32', shape: [], data: new Float32Array([1]) };
        if (name === 'double')
          return { name, datatype: 'FP32', shape: [rows, 3], data: data.map((v) => v * 2) };
        const sums = new Float32Array(rows);
        for (let r = 0; r < rows; r++) sums[r] = data[r * 3]! + data[r * 3 + 1]! + data[r * 3 + 2]!;
        return { name, datatype: 'FP32', shape: [rows], data: sums };
      });
    },
  };
  return { context, runs };
}

/** A request of `rows` rows whose every value is `value`. */
function request(
  value: number,
  rows = 1,
  extra: Record<string, unknown> = {},
): { body: Uint8Array } {
  const body = {
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [rows, 3], data: new Array(rows * 3).fill(value) },
    ],
    ...extra,
  };
  return { body: Buffer.from(JSON.stringify(body)) };
}

function json(answer: Answer): any {
  assert.equal(answer.kind, kAnswerJson, JSON.stringify(answer));
  return JSON.parse((answer as { body: string }).body);
}

describe('answerBatch', () => {
  test('should merge requests into runs of at most maxBatchSize rows, in order, and answer each as if alone', async () => {
    const { context, runs } = fakeModel();
    const { answers, runRows } = await answerBatch(
      [request(1), request(2, 2), request(3), request(4), request(5)],
      context,
    );
    assert.deepEqual(
      runs.map((r) => r.rows),
      [4, 2],
      'requests 1-3 fill four rows; 4 and 5 run next',
    );
    assert.equal(runRows, 6);
    const second = json(answers[1]!);
    assert.equal(second.model_name, 'm');
    assert.equal(second.model_version, '2');
    assert.deepEqual(second.outputs[0], {
      name: 'double',
      datatype: 'FP32',
      shape: [2, 3],
      data: [4, 4, 4, 4, 4, 4],
    });
    assert.deepEqual(second.outputs[1], {
      name: 'sum',
      datatype: 'FP32',
      shape: [2],
      data: [6, 6],
    });
    assert.deepEqual(json(answers[4]!).outputs[1].data, [15]);
  });

  test('should answer a bad request with its error before any run, and run the others without it', async () => {
    const { context, runs } = fakeModel();
    const { answers } = await answerBatch(
      [
        request(1),
        { body: Buffer.from('{"inputs": [') },
        request(2, 1, {
          inputs: [{ name: 'x', datatype: 'FP64', shape: [1, 3], data: [1, 2, 3] }],
        }),
        request(3, 5),
        request(4),
      ],
      context,
    );
    assert.deepEqual(
      runs.map((r) => r.rows),
      [2],
      'requests 1 and 5 in one run',
    );
    assert.equal(answers[1]!.kind, kAnswerBadRequest);
    assert.match((answers[1] as { message: string }).message, /^body: invalid JSON/);
    assert.equal(answers[2]!.kind, kAnswerBadRequest);
    assert.match(
      (answers[2] as { message: string }).message,
      /inputs\[0\]\.datatype: expected FP32, got FP64/,
    );
    assert.equal(answers[3]!.kind, kAnswerTooLarge);
    assert.match(
      (answers[3] as { message: string }).message,
      /5 rows exceed the model's max_batch_size of 4/,
    );
    assert.deepEqual(json(answers[4]!).outputs[1].data, [12]);
  });

  test('should not merge requests that ask for other outputs, and keep each its own id and order of outputs', async () => {
    const { context, runs } = fakeModel();
    const { answers } = await answerBatch(
      [
        request(1, 1, { id: 'a' }),
        request(2, 1, { id: 'b', outputs: [{ name: 'sum' }, { name: 'double' }] }),
        request(3),
      ],
      context,
    );
    assert.deepEqual(runs, [
      { rows: 2, outputs: ['double', 'sum'] },
      { rows: 1, outputs: ['sum', 'double'] },
    ]);
    assert.equal(json(answers[0]!).id, 'a');
    const b = json(answers[1]!);
    assert.equal(b.id, 'b');
    assert.deepEqual(
      b.outputs.map((o: { name: string }) => o.name),
      ['sum', 'double'],
    );
  });

  test('should run each request alone with maxBatchSize 0, however many rows it holds', async () => {
    const { context, runs } = fakeModel();
    const { answers } = await answerBatch([request(1, 6), request(2, 6)], {
      ...context,
      maxBatchSize: 0,
    });
    assert.deepEqual(
      runs.map((r) => r.rows),
      [6, 6],
    );
    assert.equal(
      answers.every((a) => a.kind === kAnswerJson),
      true,
    );
  });

  test('should answer the binary extension with the JSON header size', async () => {
    const { context } = fakeModel();
    const { answers } = await answerBatch(
      [request(1, 1, { parameters: { binary_data_output: true } })],
      context,
    );
    const answer = answers[0] as Extract<Answer, { body: unknown }>;
    assert.equal(answer.kind, kAnswerBinary);
    const body = answer.body as Buffer;
    const header = JSON.parse(body.subarray(0, answer.headerLength).toString());
    assert.deepEqual(header.outputs[0].parameters, { binary_data_size: 12 });
    assert.deepEqual(
      Array.from(
        new Float32Array(
          body.buffer.slice(
            body.byteOffset + answer.headerLength,
            body.byteOffset + answer.headerLength + 12,
          ),
        ),
      ),
      [2, 2, 2],
    );
  });

  test("should answer every request of a failed run with onnxruntime's message, and only those", async () => {
    const { context } = fakeModel({ fail: 'bad shape somewhere' });
    const { answers } = await answerBatch(
      [request(1), { body: Buffer.from('[]') }, request(2)],
      context,
    );
    assert.deepEqual(
      answers.map((a) => a.kind),
      [kAnswerRunFailed, kAnswerBadRequest, kAnswerRunFailed],
    );
    assert.match(
      (answers[0] as { message: string }).message,
      /onnxruntime failed to run the batch: bad shape somewhere/,
    );
  });

  test('should say to serve without batching a model whose outputs cannot be split by rows', async () => {
    const { context } = fakeModel({ scalar: true });
    const { answers } = await answerBatch([request(1), request(2)], context);
    for (const a of answers) {
      assert.equal(a.kind, kAnswerRunFailed);
      assert.match(
        (a as { message: string }).message,
        /cannot be split per request; serve it with maxBatchSize 0/,
      );
    }
  });
});

describe('packAnswers', () => {
  test('should pack bodies and messages back to back, with their kinds, rows and header sizes', () => {
    const packed = packAnswers([
      { kind: kAnswerJson, body: '{"é":1}', headerLength: 0, rows: 2 },
      { kind: kAnswerBadRequest, message: 'inputs: expected an array, got 3' },
      { kind: kAnswerBinary, body: Buffer.from('{}\x01\x02'), headerLength: 2, rows: 1 },
    ]);
    assert.deepEqual(Array.from(packed.kinds), [kAnswerJson, kAnswerBadRequest, kAnswerBinary]);
    assert.deepEqual(Array.from(packed.rows), [2, 0, 1]);
    assert.deepEqual(Array.from(packed.headerLengths), [0, 0, 2]);
    assert.equal(packedItem(packed.answers, 0).toString(), '{"é":1}');
    assert.equal(packedItem(packed.answers, 1).toString(), 'inputs: expected an array, got 3');
    assert.deepEqual([...packedItem(packed.answers, 2)], [0x7b, 0x7d, 1, 2]);
    assert.equal(
      packed.answers.bytes.byteLength,
      packed.answers.bytes.buffer.byteLength,
      'a buffer of its own, to transfer',
    );
  });
});
