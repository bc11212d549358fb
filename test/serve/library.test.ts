/**
 * `mlscale/serve` as a library user sees it: imported by the package's own name (the `exports`
 * map), a server created from a model repository, started on port 0, asked for an inference and
 * stopped; its options validated with errors that name options; a plugin adding a route.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { InvalidOptionError } from '../../src/errors.js';
import { Prng } from '../../src/model/prng.js';
import { tempDir } from '../helpers.js';
import { inferBody, randomInput, smallModelBytes, writeModel } from './server/server-fixture.js';

/** The package's serving entry point, loaded as a dependent package would load it. */
type ServeApi = typeof import('../../src/serve/index.js');
type ServerPlugin = import('../../src/serve/index.js').ServerPlugin;
type ServerView = import('../../src/serve/index.js').ServerView;
const api = (await import('mlscale/serve' as string)) as ServeApi;

describe('mlscale/serve', () => {
  let repo: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-library-');
    repo = tmp.dir;
    cleanup = tmp.cleanup;
    await writeModel(repo, 'churn', 1, smallModelBytes(11));
  });
  after(async () => cleanup?.());

  test('should create a server, start it on port 0, answer an inference and stop', async () => {
    const server = await api.createModelServer({
      modelRepository: repo,
      host: '127.0.0.1',
      port: 0,
      modelOverrides: { instances: 1, maxBatchSize: 8 },
    });
    const url = await server.listen();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    try {
      const ready = await fetch(`${url}/v2/health/ready`);
      assert.equal(ready.status, 200);
      const answer = await fetch(`${url}/v2/models/churn/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(inferBody(randomInput(new Prng(5), 2))),
      });
      assert.equal(answer.status, 200);
      const json = (await answer.json()) as {
        model_name: string;
        outputs: { name: string; shape: number[] }[];
      };
      assert.equal(json.model_name, 'churn');
      assert.deepEqual(json.outputs.find((o) => o.name === 'label')?.shape, [2]);
      assert.equal(server.options.modelOverrides.maxBatchSize, 8);
      assert.ok(Object.isFrozen(server.options));
    } finally {
      await server.close();
    }
    await assert.rejects(
      fetch(`${url}/v2/health/live`),
      (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ECONNREFUSED',
    );
  });

  test('should validate options once, naming them as the caller wrote them', async () => {
    const bad: [Parameters<ServeApi['createModelServer']>[0], RegExp][] = [
      [
        { modelRepository: repo, port: 70000 },
        /options\.port must be an integer from 0 to 65535, got 70000/,
      ],
      [{}, /give exactly one of options\.model .* and options\.modelRepository/],
      [
        { modelRepository: repo, logLevel: 'loud' },
        /options\.logLevel must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/,
      ],
      [
        { modelRepository: repo, modelOverrides: { instances: 0 } },
        /options\.modelOverrides\.instances must be an integer from 1 to 256, got 0/,
      ],
      [
        { modelRepository: repo, modelOverrides: { batch: 4 } as never },
        /options\.modelOverrides\.batch must be left out: the per-model settings are maxBatchSize, /,
      ],
    ];
    for (const [options, message] of bad) {
      await assert.rejects(
        api.createModelServer(options),
        (err: unknown) => err instanceof InvalidOptionError && message.test(err.message),
        JSON.stringify(options),
      );
    }
  });

  test('should validate replica options in the library: counts, spares, and autoscaler settings only with auto', () => {
    assert.deepEqual(api.resolveReplicaOptions({}), undefined);
    assert.deepEqual(api.resolveReplicaOptions({ replicas: 3 }), { replicas: 3, spareReplicas: 1 });
    const auto = api.resolveReplicaOptions(
      { replicas: 'auto', autoscaler: { maxReplicas: 3 } },
      8,
    )!;
    assert.equal(auto.autoscaler?.minReplicas, 1);
    assert.equal(auto.autoscaler?.maxReplicas, 3);
    assert.equal(
      api.resolveReplicaOptions({ replicas: 'auto' }, 6)!.autoscaler?.maxReplicas,
      6,
      'up to one replica per core by default',
    );
    const bad: [Parameters<ServeApi['resolveReplicaOptions']>[0], RegExp][] = [
      [{ replicas: 0 }, /options\.replicas must be an integer from 1 to 256, or "auto", got 0/],
      [
        { replicas: 2, spareReplicas: 17 },
        /options\.spareReplicas must be an integer from 0 to 16, got 17/,
      ],
      [{ spareReplicas: 2 }, /options\.spareReplicas applies only with options\.replicas/],
      [
        { autoscaler: { maxReplicas: 4 } },
        /options\.autoscaler\.maxReplicas applies only with options\.replicas auto/,
      ],
      [
        { replicas: 2, autoscaler: { cpuIdleThreshold: 0.3 } },
        /options\.autoscaler\.cpuIdleThreshold applies only with options\.replicas auto, not a fixed options\.replicas 2/,
      ],
      [
        { replicas: 'auto', autoscaler: { minReplicas: 4, maxReplicas: 2 } },
        /options\.autoscaler\.minReplicas \(4\) must not be above options\.autoscaler\.maxReplicas \(2\)/,
      ],
    ];
    for (const [options, message] of bad)
      assert.throws(
        () => api.resolveReplicaOptions(options, 8),
        (err: unknown) => err instanceof InvalidOptionError && message.test(err.message),
        JSON.stringify(options),
      );
  });

  test('should register plugins after the protocol routes, tell them of the drain, and refuse a malformed one', async () => {
    const seen: string[] = [];
    const hello: ServerPlugin = {
      name: 'hello',
      register(app: FastifyInstance, view: ServerView) {
        seen.push(`register loopback=${view.loopback} askPrimary=${view.askPrimary !== undefined}`);
        app.get('/hello', async () => ({ models: view.repository.index().map((e) => e.name) }));
      },
      onDrain: () => void seen.push('drain'),
    };
    const server = await api.createModelServer(
      { modelRepository: repo, port: 0, modelOverrides: { instances: 1 } },
      { plugins: [hello] },
    );
    const url = await server.listen();
    try {
      assert.deepEqual(await (await fetch(`${url}/hello`)).json(), { models: ['churn'] });
    } finally {
      await server.close();
    }
    assert.deepEqual(seen, ['register loopback=true askPrimary=false', 'drain']);
    await assert.rejects(
      api.createModelServer(
        { modelRepository: repo, port: 0 },
        { plugins: [{ name: 'broken' } as never] },
      ),
      (err: unknown) =>
        err instanceof TypeError &&
        /setup\.plugins\[0\]\.register \(broken\) must be a function/.test((err as Error).message),
    );
  });
});
