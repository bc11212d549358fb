/**
 * gRPC calls share the model's queue with REST requests: a burst beyond the queue is shed with
 * UNAVAILABLE and the REST message, and a shed or served call leaves the server answering both.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { status as Status } from '@grpc/grpc-js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import {
  infer,
  kFeatures,
  slowModelBytes,
  startServer,
  writeModel,
} from '../server/server-fixture.js';
import { call, grpcClients, ok, type GrpcClients } from './grpc-client.js';

describe('gRPC endpoint: the same queue and shedding as REST', () => {
  let server: ModelServer;
  let url: string;
  let clients: GrpcClients;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-grpc-overload-');
    cleanup = tmp.cleanup;
    await writeModel(tmp.dir, 'slow', 1, slowModelBytes(512, 40));
    ({ server, url } = await startServer({
      modelRepository: tmp.dir,
      grpcPort: 0,
      modelOverrides: { instances: 1, maxQueue: 2, maxBatchSize: 0, maxQueueDelayMs: 0 },
    }));
    clients = grpcClients(server.grpcAddress()!);
  });

  after(async () => {
    clients?.close();
    await server?.close();
    await cleanup?.();
  });

  test('a burst over gRPC and REST together: the excess is shed, over gRPC with UNAVAILABLE', async () => {
    const request = {
      model_name: 'slow',
      inputs: [
        {
          name: 'x',
          datatype: 'FP32',
          shape: [1, kFeatures],
          contents: { fp32_contents: new Array(kFeatures).fill(0.5) },
        },
      ],
    };
    const rest = {
      inputs: [
        {
          name: 'x',
          datatype: 'FP32',
          shape: [1, kFeatures],
          data: request.inputs[0]!.contents.fp32_contents,
        },
      ],
    };
    const grpcBurst = Array.from({ length: 8 }, () =>
      call(clients.inference, 'ModelInfer', request),
    );
    const restBurst = Array.from({ length: 4 }, () => infer(url, 'slow', rest));
    const [grpcAnswers, restAnswers] = await Promise.all([
      Promise.all(grpcBurst),
      Promise.all(restBurst),
    ]);
    const served =
      grpcAnswers.filter((a) => a.ok).length + restAnswers.filter((a) => a.status === 200).length;
    // One running and two queued at most, across both transports: most of twelve are shed.
    assert.ok(served >= 3, `${served} served`);
    assert.ok(served < 12, 'some were shed');
    for (const a of grpcAnswers) {
      if (a.ok) continue;
      assert.equal(a.code, Status.UNAVAILABLE, a.details);
      assert.match(a.details, /the model's queue is full \(2 requests waiting\); retry later/);
    }
    for (const a of restAnswers) assert.ok(a.status === 200 || a.status === 503, a.text);
    assert.equal((await ok(clients.inference, 'ModelInfer', request)).outputs.length, 1);
  });
});
