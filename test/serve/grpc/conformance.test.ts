/**
 * The gRPC endpoint against the protocol (KServe v2 `inference.GRPCInferenceService` and
 * `grpc.health.v1.Health`), with a client generated from the .proto files: the same cases as the
 * REST tests (health, metadata, inference with typed and raw contents, bad requests), each checked
 * against the REST answer of the same server — same results, same error messages — and the gRPC
 * status code that means what the HTTP status means.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { status as Status } from '@grpc/grpc-js';
import { Prng } from '../../../src/model/prng.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import { bytesOf, directRun } from '../instances/model-fixture.js';
import {
  get,
  infer,
  inferBody,
  kFeatures,
  randomInput,
  smallModelBytes,
  startServer,
  writeModel,
  type Answer,
} from '../server/server-fixture.js';
import { call, grpcClients, ok, type GrpcClients } from './grpc-client.js';

const bodyLimit = 4096;
const maxBatchSize = 4;
const row = Array.from({ length: kFeatures }, (_, i) => i / 10);

/** A typed-contents input `x` and its REST twin. */
function grpcInput(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'x',
    datatype: 'FP32',
    shape: [1, kFeatures],
    contents: { fp32_contents: row },
    ...fields,
  };
}
function restInput(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'x', datatype: 'FP32', shape: [1, kFeatures], data: row, ...fields };
}

/** The REST error message of an answer. */
function restError(answer: Answer, status: number): string {
  assert.equal(answer.status, status, answer.text);
  return answer.json.error as string;
}

describe('gRPC endpoint: conformance with the REST protocol', () => {
  const mBytes = smallModelBytes(7);
  let server: ModelServer;
  let url: string;
  let clients: GrpcClients;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-grpc-conformance-');
    cleanup = tmp.cleanup;
    await writeModel(tmp.dir, 'm', 1, mBytes);
    ({ server, url } = await startServer({
      modelRepository: tmp.dir,
      grpcPort: 0,
      bodyLimit,
      modelOverrides: { instances: 1, maxQueueDelayMs: 1, maxBatchSize },
    }));
    const address = server.grpcAddress();
    assert.ok(address, 'the gRPC endpoint listens');
    assert.match(address, /^127\.0\.0\.1:\d+$/);
    clients = grpcClients(address);
  });

  after(async () => {
    clients?.close();
    await server?.close();
    await cleanup?.();
  });

  test('ServerLive, ServerReady and ModelReady answer true', async () => {
    assert.deepEqual(await ok(clients.inference, 'ServerLive', {}), { live: true });
    assert.deepEqual(await ok(clients.inference, 'ServerReady', {}), { ready: true });
    assert.deepEqual(await ok(clients.inference, 'ModelReady', { name: 'm' }), { ready: true });
    assert.deepEqual(await ok(clients.inference, 'ModelReady', { name: 'm', version: '1' }), {
      ready: true,
    });
  });

  test('grpc.health.v1 Check: SERVING for the server and the inference service, NOT_FOUND for others', async () => {
    assert.deepEqual(await ok(clients.health, 'Check', { service: '' }), { status: 'SERVING' });
    assert.deepEqual(
      await ok(clients.health, 'Check', { service: 'inference.GRPCInferenceService' }),
      { status: 'SERVING' },
    );
    const unknown = await call(clients.health, 'Check', { service: 'other.Service' });
    assert.equal(unknown.ok, false);
    if (!unknown.ok) assert.equal(unknown.code, Status.NOT_FOUND);
  });

  test('ServerMetadata names the server, its version and the extensions REST lists', async () => {
    const rest = await get(url, '/v2');
    const metadata = await ok(clients.inference, 'ServerMetadata', {});
    assert.deepEqual(metadata, {
      name: rest.json.name,
      version: rest.json.version,
      extensions: rest.json.extensions,
    });
  });

  test('ModelMetadata is REST metadata, with int64 shapes (-1 for the batch)', async () => {
    const rest = await get(url, '/v2/models/m');
    const tensors = (list: { name: string; datatype: string; shape: number[] }[]) =>
      list.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(String) }));
    for (const version of ['', '1']) {
      const metadata = await ok(clients.inference, 'ModelMetadata', { name: 'm', version });
      assert.deepEqual(metadata, {
        name: 'm',
        versions: rest.json.versions,
        platform: rest.json.platform,
        inputs: tensors(rest.json.inputs),
        outputs: tensors(rest.json.outputs),
      });
      assert.deepEqual(metadata.inputs[0].shape, ['-1', String(kFeatures)]);
    }
  });

  test('ModelInfer with typed contents: id echoed, outputs bit for bit what onnxruntime gives', async () => {
    const x = randomInput(new Prng(1), 3);
    const [expected] = await directRun(mBytes, [x]);
    const response = await ok(clients.inference, 'ModelInfer', {
      model_name: 'm',
      id: 'request-42',
      inputs: [
        {
          name: 'x',
          datatype: 'FP32',
          shape: [3, kFeatures],
          contents: { fp32_contents: Array.from(x) },
        },
      ],
    });
    assert.equal(response.model_name, 'm');
    assert.equal(response.model_version, '1');
    assert.equal(response.id, 'request-42');
    assert.deepEqual(response.raw_output_contents, [], 'typed in, typed out');
    const byName = new Map<string, any>(response.outputs.map((o: any) => [o.name, o]));
    const probabilities = byName.get('probabilities');
    assert.equal(probabilities.datatype, 'FP32');
    assert.deepEqual(probabilities.shape, ['3', '3']);
    assert.ok(
      Buffer.from(Float32Array.from(probabilities.contents.fp32_contents).buffer).equals(
        bytesOf(expected!.probabilities),
      ),
      'probabilities bit for bit',
    );
    const label = byName.get('label');
    assert.equal(label.datatype, 'INT64');
    assert.deepEqual(label.shape, ['3']);
    assert.deepEqual(label.contents.int64_contents, Array.from(expected!.label, String));

    // The same request over REST gives the same numbers.
    const rest = await infer(url, 'm', inferBody(x, { id: 'request-42' }));
    assert.equal(rest.status, 200, rest.text);
    const restProbabilities = rest.json.outputs.find((o: any) => o.name === 'probabilities');
    assert.deepEqual(
      Float32Array.from(probabilities.contents.fp32_contents),
      Float32Array.from(restProbabilities.data),
    );
  });

  test('ModelInfer with raw_input_contents answers raw_output_contents, byte for byte', async () => {
    const x = randomInput(new Prng(2), 2);
    const [expected] = await directRun(mBytes, [x]);
    const response = await ok(clients.inference, 'ModelInfer', {
      model_name: 'm',
      model_version: '1',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, kFeatures] }],
      raw_input_contents: [Buffer.from(x.buffer, x.byteOffset, x.byteLength)],
    });
    assert.equal(response.id, '');
    assert.deepEqual(
      response.outputs.map((o: any) => [o.name, o.datatype, o.shape, o.contents]),
      [
        ['probabilities', 'FP32', ['2', '3'], null],
        ['label', 'INT64', ['2'], null],
      ],
    );
    assert.equal(response.raw_output_contents.length, 2);
    assert.ok(response.raw_output_contents[0].equals(bytesOf(expected!.probabilities)));
    assert.ok(response.raw_output_contents[1].equals(bytesOf(expected!.label)));
  });

  test('ModelInfer returns only the requested outputs, in the requested order', async () => {
    const response = await ok(clients.inference, 'ModelInfer', {
      model_name: 'm',
      inputs: [grpcInput()],
      outputs: [{ name: 'label' }],
    });
    assert.deepEqual(
      response.outputs.map((o: any) => o.name),
      ['label'],
    );
  });

  /** Bad requests: the gRPC code, and the REST request whose error message gRPC must repeat. */
  const cases: {
    name: string;
    grpc: Record<string, unknown>;
    rest: () => Promise<Answer>;
    status: number;
    code: Status;
  }[] = [
    {
      name: 'an unknown model',
      grpc: { model_name: 'nope', inputs: [grpcInput()] },
      rest: () => infer(url, 'nope', { inputs: [restInput()] }),
      status: 404,
      code: Status.NOT_FOUND,
    },
    {
      name: 'an unknown version',
      grpc: { model_name: 'm', model_version: '7', inputs: [grpcInput()] },
      rest: () => infer(url, 'm', { inputs: [restInput()] }, { version: '7' }),
      status: 404,
      code: Status.NOT_FOUND,
    },
    {
      name: 'a wrong shape',
      grpc: {
        model_name: 'm',
        inputs: [grpcInput({ shape: [1, 7], contents: { fp32_contents: row.slice(1) } })],
      },
      rest: () => infer(url, 'm', { inputs: [restInput({ shape: [1, 7], data: row.slice(1) })] }),
      status: 400,
      code: Status.INVALID_ARGUMENT,
    },
    {
      name: 'a wrong datatype',
      grpc: {
        model_name: 'm',
        inputs: [grpcInput({ datatype: 'FP64', contents: { fp64_contents: row } })],
      },
      rest: () => infer(url, 'm', { inputs: [restInput({ datatype: 'FP64' })] }),
      status: 400,
      code: Status.INVALID_ARGUMENT,
    },
    {
      name: 'fewer values than the shape holds',
      grpc: { model_name: 'm', inputs: [grpcInput({ contents: { fp32_contents: row.slice(1) } })] },
      rest: () => infer(url, 'm', { inputs: [restInput({ data: row.slice(1) })] }),
      status: 400,
      code: Status.INVALID_ARGUMENT,
    },
    {
      name: 'a missing input',
      grpc: { model_name: 'm', inputs: [] },
      rest: () => infer(url, 'm', { inputs: [] }),
      status: 400,
      code: Status.INVALID_ARGUMENT,
    },
    {
      name: 'an unknown input',
      grpc: { model_name: 'm', inputs: [grpcInput(), grpcInput({ name: 'z' })] },
      rest: () => infer(url, 'm', { inputs: [restInput(), restInput({ name: 'z' })] }),
      status: 400,
      code: Status.INVALID_ARGUMENT,
    },
    {
      name: 'a batch larger than max_batch_size',
      grpc: {
        model_name: 'm',
        inputs: [
          grpcInput({
            shape: [maxBatchSize + 1, kFeatures],
            contents: { fp32_contents: Array.from({ length: maxBatchSize + 1 }, () => row).flat() },
          }),
        ],
      },
      rest: () =>
        infer(url, 'm', {
          inputs: [
            restInput({
              shape: [maxBatchSize + 1, kFeatures],
              data: Array.from({ length: maxBatchSize + 1 }, () => row).flat(),
            }),
          ],
        }),
      status: 400,
      code: Status.INVALID_ARGUMENT,
    },
    {
      name: 'an unknown requested output',
      grpc: { model_name: 'm', inputs: [grpcInput()], outputs: [{ name: 'logits' }] },
      rest: () => infer(url, 'm', { inputs: [restInput()], outputs: [{ name: 'logits' }] }),
      status: 400,
      code: Status.INVALID_ARGUMENT,
    },
    {
      name: 'raw contents of the wrong size',
      grpc: {
        model_name: 'm',
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, kFeatures] }],
        raw_input_contents: [Buffer.alloc(4 * kFeatures - 4)],
      },
      rest: () =>
        infer(
          url,
          'm',
          Buffer.concat([Buffer.from(rawHeader()), Buffer.alloc(4 * kFeatures - 4)]),
          {
            headers: {
              'inference-header-content-length': String(Buffer.byteLength(rawHeader())),
            },
          },
        ),
      status: 400,
      code: Status.INVALID_ARGUMENT,
    },
  ];

  /** The JSON header the gRPC side writes for one raw FP32 input of 28 bytes. */
  function rawHeader(): string {
    return JSON.stringify({
      inputs: [
        {
          name: 'x',
          datatype: 'FP32',
          shape: [1, kFeatures],
          parameters: { binary_data_size: 4 * kFeatures - 4 },
        },
      ],
      parameters: { binary_data_output: true },
    });
  }

  for (const c of cases) {
    test(`${c.name}: the REST message, with the matching gRPC code`, async () => {
      const message = restError(await c.rest(), c.status);
      const outcome = await call(clients.inference, 'ModelInfer', c.grpc);
      assert.equal(outcome.ok, false, `${c.name} was answered`);
      if (outcome.ok) return;
      assert.equal(outcome.code, c.code, outcome.details);
      assert.equal(outcome.details, message);
      assert.match(String(outcome.metadata.get('mlscale-error-code')[0]), /^E_/);
    });
  }

  test('ModelMetadata and ModelReady of an unknown model: NOT_FOUND with the REST message', async () => {
    const message = restError(await get(url, '/v2/models/nope'), 404);
    for (const method of ['ModelMetadata', 'ModelReady']) {
      const outcome = await call(clients.inference, method, { name: 'nope' });
      assert.equal(outcome.ok, false);
      if (outcome.ok) continue;
      assert.equal(outcome.code, Status.NOT_FOUND);
      assert.equal(outcome.details, message);
    }
  });

  test('gRPC-only mistakes: raw contents not one per input, elements in the wrong field', async () => {
    const rawCount = await call(clients.inference, 'ModelInfer', {
      model_name: 'm',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, kFeatures] }],
      raw_input_contents: [Buffer.alloc(32), Buffer.alloc(32)],
    });
    assert.ok(!rawCount.ok && rawCount.code === Status.INVALID_ARGUMENT);
    if (!rawCount.ok)
      assert.equal(rawCount.details, 'raw_input_contents: expected one entry per input (1), got 2');

    const wrongField = await call(clients.inference, 'ModelInfer', {
      model_name: 'm',
      inputs: [grpcInput({ contents: { fp64_contents: row } })],
    });
    assert.ok(!wrongField.ok && wrongField.code === Status.INVALID_ARGUMENT);
    if (!wrongField.ok)
      assert.equal(
        wrongField.details,
        'inputs[0].contents: FP32 elements go in fp32_contents, got fp64_contents',
      );

    const both = await call(clients.inference, 'ModelInfer', {
      model_name: 'm',
      inputs: [grpcInput()],
      raw_input_contents: [Buffer.alloc(32)],
    });
    assert.ok(!both.ok && both.code === Status.INVALID_ARGUMENT);
    if (!both.ok)
      assert.match(both.details, /^inputs\[0\]\.contents: give the tensor's elements either/);
  });

  test('a message over the body limit is RESOURCE_EXHAUSTED, and the server still answers', async () => {
    const big = await call(clients.inference, 'ModelInfer', {
      model_name: 'm',
      inputs: [grpcInput()],
      raw_input_contents: [Buffer.alloc(bodyLimit)],
    });
    assert.equal(big.ok, false);
    if (!big.ok) {
      assert.equal(big.code, Status.RESOURCE_EXHAUSTED);
      assert.match(big.details, /larger than max/);
    }
    assert.deepEqual(await ok(clients.inference, 'ServerLive', {}), { live: true });
  });

  test('after the bad requests, the server answers good ones on both transports', async () => {
    const response = await ok(clients.inference, 'ModelInfer', {
      model_name: 'm',
      inputs: [grpcInput()],
    });
    assert.equal(response.outputs.length, 2);
    const rest = await infer(url, 'm', { inputs: [restInput()] });
    assert.equal(rest.status, 200);
  });
});
