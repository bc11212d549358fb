/**
 * Triton's model configuration, both ways: a Triton-style repository (config.pbtxt) sets the
 * model's settings, and `GET /v2/models/{m}[/versions/{v}]/config` answers the `ModelConfig` JSON
 * that Triton's model configuration extension specifies
 * (https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_model_configuration.md,
 * fields of model_config.proto).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { ModelLoadError } from '../../../src/errors.js';
import { parseTritonConfig } from '../../../src/serve/triton/config-pbtxt.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import { get, smallModelBytes, startServer, writeModel } from '../server/server-fixture.js';

const kTritonConfig = `
name: "churn"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FP32 dims: [ 8 ] } ]
output [
  { name: "probabilities" data_type: TYPE_FP32 dims: [ 3 ] },
  { name: "label" data_type: TYPE_INT64 dims: [ ] }
]
instance_group [ { count: 2 kind: KIND_CPU } ]
dynamic_batching { max_queue_delay_microseconds: 500 preferred_batch_size: [ 4, 8 ] }
version_policy: { all { } }
optimization { graph { level: 1 } }
`;

describe('parseTritonConfig', () => {
  test('maps the common fields to settings and names every field it ignores, with its line', () => {
    const config = parseTritonConfig(kTritonConfig, 'config.pbtxt', 'churn');
    assert.deepEqual(config.settings, { maxBatchSize: 8, instances: 2, maxQueueDelayMs: 0.5 });
    assert.deepEqual(config.preferredBatchSizes, [4, 8]);
    assert.deepEqual(config.inputs, [{ name: 'x', datatype: 'FP32', dims: [8] }]);
    assert.deepEqual(config.outputs, [
      { name: 'probabilities', datatype: 'FP32', dims: [3] },
      { name: 'label', datatype: 'INT64', dims: [] },
    ]);
    assert.deepEqual(config.ignored, [
      'dynamic_batching.preferred_batch_size (reported by GET .../config; batches fill up to max_batch_size) (line 11)',
      'version_policy (line 12)',
      'optimization (line 13)',
    ]);
  });

  test('adds up the CPU groups, ignores GPU ones, and holds no request back without dynamic_batching', () => {
    const config = parseTritonConfig(
      `instance_group [ { count: 2 kind: KIND_CPU }, { kind: KIND_AUTO }, { count: 4 kind: KIND_GPU gpus: [0] } ]`,
      'config.pbtxt',
      'm',
    );
    assert.deepEqual(config.settings, { instances: 3, maxQueueDelayMs: 0 });
    assert.deepEqual(config.ignored, [
      'instance_group[2].gpus (line 1)',
      'instance_group[2] (KIND_GPU: mlscale runs on the CPU) (line 1)',
    ]);
  });

  test('refuses what mlscale cannot serve, naming the file, line, field, expected and given', () => {
    const cases: [string, RegExp][] = [
      [
        'name: "other"',
        /^c\.pbtxt:1:7: name: expected "m" \(the model's folder name\), got "other"$/,
      ],
      ['platform: "tensorrt_plan"', /^c\.pbtxt:1:11: platform: expected "onnxruntime_onnx"/],
      ['backend: "python"', /^c\.pbtxt:1:10: backend: expected "onnxruntime"/],
      [
        'max_batch_size: -1',
        /^c\.pbtxt:1:17: max_batch_size: expected an integer from 0 to 1048576, got -1$/,
      ],
      [
        'instance_group { kind: KIND_TPU }',
        /instance_group\[0\]\.kind: expected one of KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL, got KIND_TPU$/,
      ],
      [
        'instance_group { count: 0 }',
        /instance_group\[0\]\.count: expected an integer from 1 to 256, got 0$/,
      ],
      ['input { data_type: TYPE_FP32 }', /^c\.pbtxt:1:7: input\[0\]: has no name$/],
      [
        'input { name: "x" data_type: FP32 }',
        /input\[0\]\.data_type: expected one of TYPE_BOOL, .*got FP32$/,
      ],
      ['max_batch_size: 1 max_batch_size: 2', /max_batch_size: expected one value, got 2$/],
      ['max_batch_size 4', /^c\.pbtxt:1:16: expected ":" before a scalar value/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parseTritonConfig(text, 'c.pbtxt', 'm'),
        (err: unknown) => err instanceof ModelLoadError && message.test((err as Error).message),
        text,
      );
    }
  });
});

describe('a Triton-style repository', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;
  const logged: { msg: string; ignored?: string[]; model?: string }[] = [];

  before(async () => {
    const made = await tempDir('mlscale-triton-');
    cleanup = made.cleanup;
    const repo = made.dir;
    const bytes = smallModelBytes();
    await writeModel(repo, 'churn', 1, bytes);
    await writeFile(join(repo, 'churn', 'config.pbtxt'), kTritonConfig);
    // config.json beside config.pbtxt wins where both speak.
    await writeModel(repo, 'both', 1, bytes);
    await writeFile(
      join(repo, 'both', 'config.pbtxt'),
      'max_batch_size: 4 instance_group { count: 2 }',
    );
    await writeFile(join(repo, 'both', 'config.json'), '{"instances": 1}');
    // Dims the model cannot take: the load fails, as Triton's does.
    await writeModel(repo, 'wrong', 1, bytes);
    await writeFile(
      join(repo, 'wrong', 'config.pbtxt'),
      'max_batch_size: 8 input { name: "x" data_type: TYPE_FP32 dims: [ 9 ] }',
    );
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void logged.push(JSON.parse(line) as never) },
    );
    ({ server, url } = await startServer(
      { modelRepository: repo, modelOverrides: { maxQueue: 77 } },
      { logger },
    ));
  });

  after(async () => {
    await server.close();
    await cleanup();
  });

  test('config.pbtxt sets batching and instances; config.json and flags win over it', () => {
    const churn = server.repository.get('churn').settings;
    assert.equal(churn.maxBatchSize, 8);
    assert.equal(churn.instances, 2);
    assert.equal(churn.maxQueueDelayMs, 0.5);
    assert.equal(churn.maxQueue, 77, 'the flag');
    const both = server.repository.get('both').settings;
    assert.equal(both.maxBatchSize, 4, 'from config.pbtxt');
    assert.equal(both.instances, 1, 'config.json wins');
  });

  test('a warning names every field the config.pbtxt ignores', () => {
    const warning = logged.find((l) => l.model === 'churn');
    assert.ok(warning, 'a warning for churn');
    assert.deepEqual(warning.ignored, [
      'dynamic_batching.preferred_batch_size (reported by GET .../config; batches fill up to max_batch_size) (line 11)',
      'version_policy (line 12)',
      'optimization (line 13)',
    ]);
    assert.match(
      warning.msg,
      /config\.pbtxt: mlscale ignores these fields: .*version_policy \(line 12\)/,
    );
    assert.equal(logged.filter((l) => l.model === 'both').length, 0, 'nothing ignored, no warning');
  });

  test('dims the model cannot take make the model unavailable, with the reason', async () => {
    const index = server.repository.index().find((e) => e.name === 'wrong');
    assert.equal(index?.state, 'UNAVAILABLE');
    assert.match(
      index!.reason,
      /config\.pbtxt: input "x": dims \[9\] \(without the batch dimension, as max_batch_size > 0\), but the model's shape is \[-1, 8\]/,
    );
  });

  test('GET /v2/models/{m}/config answers the ModelConfig JSON, as Triton does', async () => {
    for (const path of ['/v2/models/churn/config', '/v2/models/churn/versions/1/config']) {
      const answer = await get(url, path);
      assert.equal(answer.status, 200, path);
      const config = answer.json;
      assert.equal(config.name, 'churn');
      assert.equal(config.platform, 'onnxruntime_onnx');
      assert.equal(config.backend, 'onnxruntime');
      assert.equal(config.max_batch_size, 8);
      // With max_batch_size > 0, dims leave out the batch dimension.
      assert.deepEqual(
        config.input.map((t: any) => [t.name, t.data_type, t.dims]),
        [['x', 'TYPE_FP32', [8]]],
      );
      assert.deepEqual(
        config.output.map((t: any) => [t.name, t.data_type, t.dims]),
        [
          ['probabilities', 'TYPE_FP32', [3]],
          ['label', 'TYPE_INT64', []],
        ],
      );
      assert.deepEqual(
        config.instance_group.map((g: any) => [g.kind, g.count]),
        [['KIND_CPU', 2]],
      );
      assert.equal(config.dynamic_batching.max_queue_delay_microseconds, 500);
      assert.deepEqual(config.dynamic_batching.preferred_batch_size, [4, 8]);
    }
  });

  test('a model without config.pbtxt gets its settings described, with the full shape when batching is off', async () => {
    const config = (await get(url, '/v2/models/both/config')).json;
    assert.equal(config.max_batch_size, 4);
    assert.deepEqual(config.instance_group[0].count, 1);
  });

  test('/config of an unknown model or version is an error with the protocol body', async () => {
    const unknown = await get(url, '/v2/models/nope/config');
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.error, /unknown model "nope"/);
    const version = await get(url, '/v2/models/churn/versions/9/config');
    assert.equal(version.status, 404);
    assert.match(version.json.error, /has no version "9"/);
  });
});
