/**
 * `mlscale serve --replicas 2 --grpc-port P`: the replicas share the gRPC port as they share the
 * HTTP one (node:cluster); the primary announces both; calls on separate connections are answered
 * and counted in the merged /metrics; health says SERVING; SIGTERM drains and exits cleanly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir } from '../../helpers.js';
import {
  findSamples,
  kFeatures,
  scrape,
  smallModelBytes,
  writeModel,
} from '../server/server-fixture.js';
import { freePort, serveProcess, stopServed, type Served } from '../serve-process.js';
import { grpcClients, ok } from './grpc-client.js';

describe('mlscale serve --replicas with --grpc-port', () => {
  let served: Served | undefined;
  let grpcPort: number;
  let cleanup: (() => Promise<void>) | undefined;

  before(async () => {
    const tmp = await tempDir('mlscale-grpc-replicas-');
    cleanup = tmp.cleanup;
    await writeModel(tmp.dir, 'm', 1, smallModelBytes(5));
    grpcPort = await freePort();
    served = await serveProcess(
      [
        '--model-repository',
        tmp.dir,
        '--replicas',
        '2',
        '--port',
        '0',
        '--grpc-port',
        String(grpcPort),
        '--instances',
        '1',
        '--intra-op-threads',
        '1',
        '--no-dashboard',
        '--log-level',
        'info',
      ],
      { ready: (l) => typeof l['grpc'] === 'string' },
    );
  });

  after(async () => {
    await stopServed(served);
    await cleanup?.();
  });

  test('the primary announces the gRPC address; calls on several connections are answered and counted', async () => {
    const announced = await served!.waitForLog((l) => typeof l['grpc'] === 'string');
    assert.equal(announced['grpc'], `127.0.0.1:${grpcPort}`);
    const successes = async (): Promise<number> =>
      findSamples(await scrape(served!.url), 'mlscale_inference_requests_total', {
        outcome: 'success',
      }).reduce((s, x) => s + x.value, 0);
    const before = await successes();
    const calls = 8;
    for (let i = 0; i < calls; i++) {
      // A channel of its own each: a new connection, which the primary hands to the replicas in turn.
      const clients = grpcClients(`127.0.0.1:${grpcPort}`, { 'grpc.use_local_subchannel_pool': 1 });
      try {
        const response = await ok(clients.inference, 'ModelInfer', {
          model_name: 'm',
          inputs: [
            {
              name: 'x',
              datatype: 'FP32',
              shape: [1, kFeatures],
              contents: { fp32_contents: new Array(kFeatures).fill(i / 10) },
            },
          ],
        });
        assert.equal(response.outputs.length, 2);
        assert.deepEqual(await ok(clients.health, 'Check', { service: '' }), {
          status: 'SERVING',
        });
      } finally {
        clients.close();
      }
    }
    assert.equal((await successes()) - before, calls);
  });

  test('SIGTERM drains the replicas, gRPC included, and the primary exits 0', async () => {
    served!.child.kill('SIGTERM');
    const { code } = await served!.exited;
    assert.equal(code, 0, served!.stderr());
  });
});
