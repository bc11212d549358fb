/**
 * Bad requests against a real server: each gets a 4xx with `{"error": "..."}` that says what was
 * wrong, and none of them hurts the server or the good requests running beside them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/model/prng.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import { bytesOf, directRun } from '../instances/model-fixture.js';
import {
  type Answer,
  assertError,
  float32Bytes,
  get,
  infer,
  inferBody,
  kFeatures,
  metricValue,
  outputOf,
  post,
  randomInput,
  scrape,
  smallModelBytes,
  startServer,
  writeModel,
} from './server-fixture.js';

const bodyLimit = 4096;
const maxBatchSize = 4;

/** A good one-row input, as JSON numbers. */
const row = Array.from({ length: kFeatures }, (_, i) => i / 10);
const input = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'x',
  datatype: 'FP32',
  shape: [1, kFeatures],
  data: row,
  ...fields,
});

/** Bad requests: the status and a pattern the error message must match. */
const cases: {
  name: string;
  send: (url: string) => Promise<Answer>;
  status: number;
  message: RegExp;
}[] = [
  {
    name: 'malformed JSON',
    send: (url) =>
      post(url, '/v2/models/m/infer', '{"inputs": [', { 'content-type': 'application/json' }),
    status: 400,
    message: /^body: invalid JSON/,
  },
  {
    name: 'an empty body',
    send: (url) => post(url, '/v2/models/m/infer'),
    status: 400,
    message: /^body: invalid JSON/,
  },
  {
    name: 'a body that is not an object',
    send: (url) => infer(url, 'm', [1, 2]),
    status: 400,
    message: /^body: expected an object, got an array/,
  },
  {
    name: 'an unknown model',
    send: (url) => infer(url, 'nope', { inputs: [input()] }),
    status: 404,
    message: /unknown model "nope"; models: "m"/,
  },
  {
    name: 'an unknown model (metadata)',
    send: (url) => get(url, '/v2/models/nope'),
    status: 404,
    message: /unknown model "nope"/,
  },
  {
    name: 'an unknown version',
    send: (url) => infer(url, 'm', { inputs: [input()] }, { version: '7' }),
    status: 404,
    message: /model "m" has no version "7"; loaded versions: 1/,
  },
  {
    name: 'an unknown version (metadata)',
    send: (url) => get(url, '/v2/models/m/versions/7'),
    status: 404,
    message: /no version "7"/,
  },
  {
    name: 'an unknown version (ready)',
    send: (url) => get(url, '/v2/models/m/versions/7/ready'),
    status: 404,
    message: /no version "7"/,
  },
  {
    name: 'no inputs',
    send: (url) => infer(url, 'm', { id: 'a' }),
    status: 400,
    message: /^inputs: expected an array, got nothing/,
  },
  {
    name: 'a missing input',
    send: (url) => infer(url, 'm', { inputs: [] }),
    status: 400,
    message: /^inputs: missing input "x"/,
  },
  {
    name: 'an extra input',
    send: (url) => infer(url, 'm', { inputs: [input(), input({ name: 'z' })] }),
    status: 400,
    message: /^inputs\[1\]\.name: unknown input "z"; the model's inputs are "x"/,
  },
  {
    name: 'a duplicate input',
    send: (url) => infer(url, 'm', { inputs: [input(), input()] }),
    status: 400,
    message: /^inputs\[1\]\.name: duplicate input "x"/,
  },
  {
    name: 'a wrong datatype',
    send: (url) => infer(url, 'm', { inputs: [input({ datatype: 'FP64' })] }),
    status: 400,
    message: /^inputs\[0\]\.datatype: expected FP32, got FP64/,
  },
  {
    name: 'a wrong shape',
    send: (url) => infer(url, 'm', { inputs: [input({ shape: [1, 7], data: row.slice(1) })] }),
    status: 400,
    message: /^inputs\[0\]\.shape: expected \[-1, 8\], got \[1, 7\]/,
  },
  {
    name: 'data shorter than the shape',
    send: (url) => infer(url, 'm', { inputs: [input({ data: row.slice(1) })] }),
    status: 400,
    message: /^inputs\[0\]: shape \[1, 8\] holds 8 values, data has 7/,
  },
  {
    name: 'nested data of the wrong length',
    send: (url) =>
      infer(url, 'm', { inputs: [input({ shape: [2, kFeatures], data: [row, row.slice(1)] })] }),
    status: 400,
    message: /^inputs\[0\]\.data\[1\]: expected an array of length 8/,
  },
  {
    name: 'a non-numeric value',
    send: (url) =>
      infer(url, 'm', { inputs: [input({ data: [...row.slice(0, 3), 'abc', ...row.slice(4)] })] }),
    status: 400,
    message: /^inputs\[0\]\.data\[3\]: expected a number for FP32, got "abc"/,
  },
  {
    name: 'a value out of FP32 range',
    send: (url) => infer(url, 'm', { inputs: [input({ data: [1e39, ...row.slice(1)] })] }),
    status: 400,
    message: /^inputs\[0\]\.data\[0\]: expected a finite number in range/,
  },
  {
    name: 'an empty batch',
    send: (url) => infer(url, 'm', { inputs: [input({ shape: [0, kFeatures], data: [] })] }),
    status: 400,
    message: /^inputs\[0\]\.shape\[0\] is 0: a request needs at least one row/,
  },
  {
    name: 'a batch larger than max_batch_size',
    send: (url) =>
      infer(url, 'm', {
        inputs: [
          input({
            shape: [maxBatchSize + 1, kFeatures],
            data: Array.from({ length: maxBatchSize + 1 }, () => row).flat(),
          }),
        ],
      }),
    status: 400,
    message: /^inputs\[0\]\.shape\[0\]: 5 rows exceed the model's max_batch_size of 4/,
  },
  {
    name: 'an unknown requested output',
    send: (url) => infer(url, 'm', { inputs: [input()], outputs: [{ name: 'logits' }] }),
    status: 400,
    message:
      /^outputs\[0\]\.name: unknown output "logits"; the model's outputs are "probabilities", "label"/,
  },
  {
    name: 'a non-string id',
    send: (url) => infer(url, 'm', { id: 5, inputs: [input()] }),
    status: 400,
    message: /^id: expected a string, got 5/,
  },
  {
    name: 'a __proto__ key',
    send: (url) =>
      post(url, '/v2/models/m/infer', '{"__proto__": {"x": 1}, "inputs": []}', {
        'content-type': 'application/json',
      }),
    status: 400,
    message: /^body: invalid JSON/,
  },
  {
    name: 'binary data without Inference-Header-Content-Length',
    send: (url) =>
      infer(url, 'm', {
        inputs: [
          {
            name: 'x',
            datatype: 'FP32',
            shape: [1, kFeatures],
            parameters: { binary_data_size: 32 },
          },
        ],
      }),
    status: 400,
    message: /^inputs\[0\]\.parameters\.binary_data_size: the request has no binary data/,
  },
  ...(
    [
      ['+Infinity', Infinity, 'Infinity'],
      ['-Infinity', -Infinity, '-Infinity'],
      ['NaN', NaN, 'NaN'],
    ] as const
  ).map(([what, value, shown]) => ({
    name: `${what} in FP32 binary data, refused as JSON refuses an out-of-range number`,
    send: (url: string) => {
      const header = Buffer.from(
        JSON.stringify({
          inputs: [
            {
              name: 'x',
              datatype: 'FP32',
              shape: [1, kFeatures],
              parameters: { binary_data_size: 4 * kFeatures },
            },
          ],
        }),
      );
      return post(
        url,
        '/v2/models/m/infer',
        Buffer.concat([header, float32Bytes([...row.slice(0, 2), value, ...row.slice(3)])]),
        { 'inference-header-content-length': String(header.length) },
      );
    },
    status: 400,
    message: new RegExp(
      `^inputs\\[0\\]\\.binary_data\\[0\\]\\[2\\]: expected a finite number in range for FP32, got ${shown}$`,
    ),
  })),
  {
    name: 'a bad Inference-Header-Content-Length',
    send: (url) =>
      post(url, '/v2/models/m/infer', JSON.stringify({ inputs: [input()] }), {
        'inference-header-content-length': '99999',
      }),
    status: 400,
    message: /^Inference-Header-Content-Length: expected the JSON header's size in bytes/,
  },
  {
    name: 'a body over --body-limit',
    send: (url) => infer(url, 'm', { inputs: [input()], padding: 'x'.repeat(bodyLimit) }),
    status: 413,
    message: /larger than the server's limit of 4096 bytes \(--body-limit\)/,
  },
  {
    name: 'an unknown route',
    send: (url) => get(url, '/v3/anything?q=1'),
    status: 404,
    message: /^no route GET \/v3\/anything; the API is under \/v2/,
  },
  {
    name: 'a wrong method',
    send: (url) => get(url, '/v2/models/m/infer'),
    status: 404,
    message: /^no route GET \/v2\/models\/m\/infer/,
  },
  {
    name: 'a bad repository index body',
    send: (url) => post(url, '/v2/repository/index', { ready: 'yes' }),
    status: 400,
    message: /^ready: expected true or false, got "yes"/,
  },
  {
    name: 'a repository body that is not an object',
    send: (url) =>
      post(url, '/v2/repository/models/m/load', '[1]', { 'content-type': 'application/json' }),
    status: 400,
    message: /^body: expected a JSON object, got an array/,
  },
];

describe('mlscale serve: bad requests', () => {
  const bytes = smallModelBytes(5);
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-errors-');
    cleanup = tmp.cleanup;
    await writeModel(tmp.dir, 'm', 1, bytes);
    ({ server, url } = await startServer({
      modelRepository: tmp.dir,
      bodyLimit,
      modelOverrides: { instances: 1, maxBatchSize, maxQueueDelayMs: 5 },
    }));
  });

  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  for (const c of cases) {
    test(`${c.name}: ${c.status} with {"error"} saying what was wrong`, async () => {
      assertError(await c.send(url), c.status, c.message);
    });
  }

  test('client errors are counted with outcome="client_error"', async () => {
    const samples = await scrape(url);
    const count = metricValue(samples, 'mlscale_inference_requests_total', {
      model: 'm',
      version: '1',
      outcome: 'client_error',
    });
    assert.ok(count !== undefined && count >= 10, `client_error count ${count}`);
    assert.equal(
      metricValue(samples, 'mlscale_inference_requests_total', {
        model: 'm',
        version: '1',
        outcome: 'error',
      }),
      undefined,
      'no server errors',
    );
  });

  test('after every bad request the server still answers, and bad requests mixed with good ones do not poison their batches', async () => {
    assert.equal((await get(url, '/v2/health/ready')).status, 200);
    const rng = new Prng(99);
    const xs = Array.from({ length: 24 }, (_, i) => randomInput(rng, 1 + (i % 3)));
    const expected = await directRun(bytes, xs);
    const bad = [
      () => infer(url, 'm', { inputs: [input({ datatype: 'INT64' })] }),
      () => infer(url, 'm', { inputs: [input({ data: [...row.slice(1), null] })] }),
      () =>
        post(url, '/v2/models/m/infer', '{"inputs": [{"name": "x"', {
          'content-type': 'application/json',
        }),
      () => infer(url, 'm', { inputs: [input({ shape: [maxBatchSize + 1, kFeatures] })] }),
    ];
    // Interleaved, all at once: good requests merge into batches while bad ones fail beside them.
    const good = xs.map((x, i) => infer(url, 'm', inferBody(x, { id: `good-${i}` })));
    const failing = bad.flatMap((send) => [send(), send()]);
    const [goodAnswers, badAnswers] = await Promise.all([Promise.all(good), Promise.all(failing)]);
    for (const answer of badAnswers) {
      assert.equal(answer.status, 400, answer.text);
      assert.equal(typeof answer.json.error, 'string');
    }
    goodAnswers.forEach((answer, i) => {
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json.id, `good-${i}`);
      assert.ok(
        float32Bytes(outputOf(answer.json, 'probabilities').data).equals(
          bytesOf(expected[i]!.probabilities),
        ),
        `request ${i}: probabilities`,
      );
      assert.deepEqual(
        outputOf(answer.json, 'label').data,
        Array.from(expected[i]!.label, Number),
        `request ${i}: labels`,
      );
    });
    const stats = (await get(url, '/v2/models/m/stats')).json.model_stats[0];
    assert.equal(stats.batcher.failedBatches, 0);
    assert.equal(stats.instances.failures, 0);
    assert.equal((await get(url, '/v2/health/ready')).status, 200);
  });
});
