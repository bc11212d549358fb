/**
 * Every endpoint of `mlscale serve` against a real server on 127.0.0.1: health, server and model
 * metadata, readiness, inference (JSON, nested data, output subsets, the binary extension, form
 * content type), statistics, the repository API and /metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/model/prng.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { version as mlscaleVersion } from '../../../src/version.js';
import { tempDir } from '../../helpers.js';
import { bytesOf, directRun } from '../instances/model-fixture.js';
import { binaryBody } from '../protocol/protocol-helpers.js';
import {
  findSamples,
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
  splitBinary,
  startServer,
  writeModel,
} from './server-fixture.js';

describe('mlscale serve endpoints', () => {
  const mBytes = smallModelBytes(7);
  const nBytes = smallModelBytes(8);
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-endpoints-');
    cleanup = tmp.cleanup;
    await writeModel(tmp.dir, 'm', 1, mBytes);
    await writeModel(tmp.dir, 'n', 3, nBytes);
    ({ server, url } = await startServer({
      modelRepository: tmp.dir,
      modelOverrides: { instances: 1, maxQueueDelayMs: 1 },
    }));
  });

  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  test('GET /v2/health/live and /v2/health/ready answer 200', async () => {
    const live = await get(url, '/v2/health/live');
    assert.equal(live.status, 200);
    assert.deepEqual(live.json, { live: true });
    const ready = await get(url, '/v2/health/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { ready: true });
    assert.ok(live.headers.get('x-request-id'), 'every answer carries its request id');
  });

  test('GET /v2 names the server and its extensions', async () => {
    const answer = await get(url, '/v2');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, {
      name: 'mlscale',
      version: mlscaleVersion,
      extensions: ['binary_tensor_data', 'statistics', 'model_configuration', 'model_repository'],
    });
  });

  test('model metadata, with and without /versions/{v}, gives -1 for dynamic dimensions', async () => {
    const expected = {
      name: 'm',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, kFeatures] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    };
    const plain = await get(url, '/v2/models/m');
    assert.equal(plain.status, 200, plain.text);
    assert.deepEqual(plain.json, expected);
    const versioned = await get(url, '/v2/models/m/versions/1');
    assert.equal(versioned.status, 200, versioned.text);
    assert.deepEqual(versioned.json, expected);
    const n = await get(url, '/v2/models/n/versions/3');
    assert.deepEqual(n.json.versions, ['3']);
  });

  test('model ready, with and without /versions/{v}', async () => {
    const plain = await get(url, '/v2/models/m/ready');
    assert.equal(plain.status, 200);
    assert.deepEqual(plain.json, { name: 'm', version: '1', ready: true });
    const versioned = await get(url, '/v2/models/n/versions/3/ready');
    assert.equal(versioned.status, 200);
    assert.deepEqual(versioned.json, { name: 'n', version: '3', ready: true });
  });

  test('infer echoes the id and gives bit-for-bit what onnxruntime gives, flat or nested data', async () => {
    const x = randomInput(new Prng(1), 3);
    const [expected] = await directRun(mBytes, [x]);
    const flat = await infer(url, 'm', inferBody(x, { id: 'request-42' }));
    assert.equal(flat.status, 200, flat.text);
    assert.match(flat.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(flat.json.model_name, 'm');
    assert.equal(flat.json.model_version, '1');
    assert.equal(flat.json.id, 'request-42');
    const probabilities = outputOf(flat.json, 'probabilities');
    assert.equal(probabilities.datatype, 'FP32');
    assert.deepEqual(probabilities.shape, [3, 3]);
    assert.ok(
      float32Bytes(probabilities.data).equals(bytesOf(expected!.probabilities)),
      'probabilities bit for bit',
    );
    const label = outputOf(flat.json, 'label');
    assert.deepEqual(label, {
      name: 'label',
      datatype: 'INT64',
      shape: [3],
      data: Array.from(expected!.label, Number),
    });

    const rows = Array.from({ length: 3 }, (_, r) =>
      Array.from(x.subarray(r * kFeatures, (r + 1) * kFeatures)),
    );
    const nested = await infer(url, 'm', {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [3, kFeatures], data: rows }],
    });
    assert.equal(nested.status, 200, nested.text);
    assert.equal(nested.json.id, undefined, 'no id when the request had none');
    assert.deepEqual(nested.json.outputs, flat.json.outputs);
  });

  test('infer returns only the requested outputs, in the requested order', async () => {
    const x = randomInput(new Prng(2), 2);
    const answer = await infer(url, 'm', inferBody(x, { outputs: [{ name: 'label' }] }));
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(
      answer.json.outputs.map((o: { name: string }) => o.name),
      ['label'],
    );
    const both = await infer(
      url,
      'm',
      inferBody(x, { outputs: [{ name: 'label' }, { name: 'probabilities' }] }),
    );
    assert.deepEqual(
      both.json.outputs.map((o: { name: string }) => o.name),
      ['label', 'probabilities'],
    );
  });

  test('infer with /versions/{v} answers from that version', async () => {
    const x = randomInput(new Prng(3), 1);
    const [expected] = await directRun(nBytes, [x]);
    const answer = await infer(url, 'n', inferBody(x), { version: '3' });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.model_version, '3');
    assert.ok(
      float32Bytes(outputOf(answer.json, 'probabilities').data).equals(
        bytesOf(expected!.probabilities),
      ),
    );
  });

  test('binary tensor data extension: binary input, binary outputs with Inference-Header-Content-Length', async () => {
    const x = randomInput(new Prng(4), 2);
    const [expected] = await directRun(mBytes, [x]);
    const xBytes = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    const { body, headers } = binaryBody(
      {
        id: 'bin',
        inputs: [
          {
            name: 'x',
            datatype: 'FP32',
            shape: [2, kFeatures],
            parameters: { binary_data_size: xBytes.length },
          },
        ],
        outputs: [{ name: 'probabilities', parameters: { binary_data: true } }, { name: 'label' }],
      },
      xBytes,
    );
    const response = await fetch(`${url}/v2/models/m/infer`, {
      method: 'POST',
      body,
      headers: { ...headers, 'content-type': 'application/octet-stream' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    const headerLength = Number(response.headers.get('inference-header-content-length'));
    assert.ok(headerLength > 0, 'Inference-Header-Content-Length is set');
    const { json, binary } = splitBinary(Buffer.from(await response.arrayBuffer()), headerLength);
    assert.equal(json.id, 'bin');
    const probabilities = outputOf(json, 'probabilities') as unknown as {
      parameters: { binary_data_size: number };
      shape: number[];
    };
    assert.deepEqual(probabilities.shape, [2, 3]);
    assert.equal(probabilities.parameters.binary_data_size, 2 * 3 * 4);
    assert.equal(binary.length, 2 * 3 * 4);
    assert.ok(binary.equals(bytesOf(expected!.probabilities)), 'binary probabilities bit for bit');
    assert.deepEqual(
      outputOf(json, 'label').data,
      Array.from(expected!.label, Number),
      'label stays JSON',
    );

    // binary_data_output asks for every output as binary data; a JSON request body works with it.
    const all = await fetch(`${url}/v2/models/m/infer`, {
      method: 'POST',
      body: JSON.stringify(inferBody(x, { parameters: { binary_data_output: true } })),
    });
    assert.equal(all.status, 200);
    const split = splitBinary(
      Buffer.from(await all.arrayBuffer()),
      Number(all.headers.get('inference-header-content-length')),
    );
    assert.equal(split.binary.length, 2 * 3 * 4 + 2 * 8);
    assert.ok(split.binary.subarray(0, 24).equals(bytesOf(expected!.probabilities)));
    assert.ok(split.binary.subarray(24).equals(bytesOf(expected!.label)));
  });

  test('a curl -d style request (application/x-www-form-urlencoded) is read as JSON', async () => {
    const x = randomInput(new Prng(5), 1);
    const form = await fetch(`${url}/v2/models/m/infer`, {
      method: 'POST',
      body: JSON.stringify(inferBody(x)),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 200);
    const json = (await form.json()) as { outputs: unknown };
    const reference = await infer(url, 'm', inferBody(x));
    assert.deepEqual(json.outputs, reference.json.outputs);
  });

  test('GET /v2/models/{name}/stats and /v2/models/stats count requests and batches', async () => {
    const before = (await get(url, '/v2/models/m/stats')).json.model_stats[0];
    const answer = await infer(url, 'm', inferBody(randomInput(new Prng(6), 2)));
    assert.equal(answer.status, 200);
    const stats = await get(url, '/v2/models/m/stats');
    assert.equal(stats.status, 200);
    assert.equal(stats.json.model_stats.length, 1);
    const m = stats.json.model_stats[0];
    assert.equal(m.name, 'm');
    assert.equal(m.version, '1');
    assert.equal(m.inference_count, before.inference_count + 2, 'rows counted');
    assert.equal(m.inference_stats.success.count, before.inference_stats.success.count + 1);
    assert.ok(m.execution_count > before.execution_count);
    assert.ok(m.last_inference > 0);
    assert.ok(m.inference_stats.compute_infer.ns > 0);
    assert.ok(m.batch_stats.length > 0);
    assert.equal(m.instances.instances, 1);

    const versioned = await get(url, '/v2/models/m/versions/1/stats');
    assert.equal(versioned.status, 200);
    const all = await get(url, '/v2/models/stats');
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.json.model_stats
        .map((s: { name: string; version: string }) => [s.name, s.version])
        .sort(),
      [
        ['m', '1'],
        ['n', '3'],
      ],
    );
  });

  test('GET /metrics exports counters, histograms and gauges in Prometheus text', async () => {
    const labels = { model: 'm', version: '1' };
    const before = await scrape(url);
    const successBefore =
      metricValue(before, 'mlscale_inference_requests_total', { ...labels, outcome: 'success' }) ??
      0;
    assert.equal((await infer(url, 'm', inferBody(randomInput(new Prng(7), 1)))).status, 200);
    const response = await fetch(`${url}/metrics`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const after = await scrape(url);
    assert.equal(
      metricValue(after, 'mlscale_inference_requests_total', { ...labels, outcome: 'success' }),
      successBefore + 1,
    );
    for (const histogram of [
      'mlscale_inference_request_duration_seconds',
      'mlscale_inference_queue_duration_seconds',
      'mlscale_inference_compute_duration_seconds',
    ]) {
      const buckets = findSamples(after, `${histogram}_bucket`, labels);
      assert.ok(buckets.length > 1, `${histogram}_bucket exists`);
      assert.equal(
        buckets.find((b) => b.labels['le'] === '+Inf')?.value,
        metricValue(after, `${histogram}_count`, labels),
      );
    }
    assert.ok(findSamples(after, 'mlscale_inference_batch_size_bucket', labels).length > 0);
    assert.equal(metricValue(after, 'mlscale_inference_queue_depth', labels), 0);
    assert.equal(metricValue(after, 'mlscale_inference_in_flight_requests', labels), 0);
    assert.equal(metricValue(after, 'mlscale_model_instances', labels), 1);
    assert.equal(metricValue(after, 'mlscale_model_ready', labels), 1);
    assert.equal(metricValue(after, 'mlscale_model_instances', { model: 'n', version: '3' }), 1);
    assert.ok(
      after.some((s) => s.name.startsWith('mlscale_process_cpu_')),
      'process metrics are exported',
    );
  });

  test('POST /v2/repository/index lists every model with its state', async () => {
    const index = await post(url, '/v2/repository/index');
    assert.equal(index.status, 200, index.text);
    assert.deepEqual(index.json, [
      { name: 'm', version: '1', state: 'READY', reason: '' },
      { name: 'n', version: '3', state: 'READY', reason: '' },
    ]);
    const readyOnly = await post(url, '/v2/repository/index', { ready: true });
    assert.equal(readyOnly.status, 200);
    assert.equal(readyOnly.json.length, 2);
  });

  test('POST /v2/repository/models/{name}/unload and load', async () => {
    const unload = await post(url, '/v2/repository/models/n/unload');
    assert.equal(unload.status, 200, unload.text);
    assert.deepEqual(unload.json, {});
    assert.equal((await get(url, '/v2/models/n')).status, 404);
    const index = await post(url, '/v2/repository/index');
    assert.deepEqual(
      index.json.find((e: { name: string }) => e.name === 'n'),
      { name: 'n', state: 'UNAVAILABLE', reason: 'unloaded' },
      'a model on disk but not loaded is listed as unloaded',
    );
    assert.equal(
      findSamples(await scrape(url), 'mlscale_model_instances', { model: 'n' }).length,
      0,
      'its gauges are dropped',
    );

    const load = await post(url, '/v2/repository/models/n/load', {});
    assert.equal(load.status, 200, load.text);
    assert.deepEqual(load.json, {});
    const answer = await infer(url, 'n', inferBody(randomInput(new Prng(8), 1)));
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.model_version, '3');
    assert.equal((await get(url, '/v2/health/ready')).status, 200);
  });

  test('reloading the served version keeps its metrics (the retired copy does not drop them)', async () => {
    const load = await post(url, '/v2/repository/models/m/load');
    assert.equal(load.status, 200, load.text);
    assert.equal((await infer(url, 'm', inferBody(randomInput(new Prng(9), 1)))).status, 200);
    const samples = await scrape(url);
    const labels = { model: 'm', version: '1' };
    assert.equal(metricValue(samples, 'mlscale_model_instances', labels), 1);
    assert.equal(metricValue(samples, 'mlscale_model_ready', labels), 1);
    assert.equal(metricValue(samples, 'mlscale_inference_in_flight_requests', labels), 0);
    assert.ok(
      findSamples(samples, 'mlscale_inference_request_duration_seconds_bucket', labels).length > 0,
    );
  });

  test('loading a model that is not in the repository is a 404 and leaves the server ready', async () => {
    const load = await post(url, '/v2/repository/models/absent/load');
    assert.equal(load.status, 404, load.text);
    assert.deepEqual(Object.keys(load.json), ['error']);
    assert.match(load.json.error, /"absent" is not in the repository/);
    const ready = await get(url, '/v2/health/ready');
    assert.equal(ready.status, 200, ready.text);
    assert.equal((await get(url, '/v2/models/absent/ready')).status, 404);
    assert.equal((await infer(url, 'absent', inferBody(randomInput(new Prng(10), 1)))).status, 404);
    const index = await post(url, '/v2/repository/index');
    assert.deepEqual(
      index.json.map((e: { name: string }) => e.name),
      ['m', 'n'],
    );
  });
});
