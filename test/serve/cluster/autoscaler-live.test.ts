/**
 * `mlscale serve --replicas auto`, the real program: the autoscaler's decisions reach the replicas
 * live. Vertical: CPU idle while the queue holds requests adds an instance per replica in place (the
 * instances gauge rises, then falls once the queues stay empty), with no failed request. Thread
 * split: after a scale-up the surviving replica shrinks its intra-op threads to the new share, and
 * after the scale-down it grows them back, in place, with no failed request; threads over the host
 * never pass the cores.
 *
 * The idle CPU is real, not faked: one instance of one intra-op thread (threads fixed by the flag)
 * can use at most one core of the replica's share of two or more, so with a queue that never
 * empties (eight closed-loop connections, no batching, a model whose run takes milliseconds) at
 * least about half the share idles. The threshold is set to 0.3 so the HTTP thread's own work does
 * not matter; a machine busy with other work only makes the replica idle more.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Prng } from '../../../src/model/prng.js';
import { tempDir } from '../../helpers.js';
import {
  findSamples,
  inferBody,
  randomInput,
  scrape,
  sleep,
  slowModelBytes,
  writeModel,
} from '../server/server-fixture.js';
import { closedLoopLoad, serveProcess, stopServed, type Served } from '../serve-process.js';

const cores = availableParallelism();

/** The merged gauge's value for model `s`. */
async function gauge(url: string, name: string): Promise<number | undefined> {
  return findSamples(await scrape(url), name, { model: 's' })[0]?.value;
}

/** Polls the merged gauge until it equals `value`; returns the last value seen. */
async function gaugeBecomes(
  url: string,
  name: string,
  value: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const until = Date.now() + timeoutMs;
  let seen = await gauge(url, name);
  while (seen !== value && Date.now() < until) {
    await sleep(200);
    seen = await gauge(url, name);
  }
  return seen;
}

const resized = (l: Record<string, unknown>): boolean =>
  typeof l['msg'] === 'string' && l['msg'].startsWith('model resized in place');

describe('mlscale serve --replicas auto: decisions applied live', () => {
  let repo: string;
  let cleanup: (() => Promise<void>) | undefined;
  let served: Served | undefined;
  const body = JSON.stringify(inferBody(randomInput(new Prng(8), 1)));
  const common = [
    '--port',
    '0',
    '--max-batch-size',
    '0',
    '--unready-delay-ms',
    '300',
    '--grace-period-ms',
    '5000',
    '--log-level',
    'info',
  ];

  before(async () => {
    const tmp = await tempDir('mlscale-autoscale-live-');
    repo = tmp.dir;
    cleanup = tmp.cleanup;
    await writeModel(repo, 's', 1, slowModelBytes(384, 8));
  });

  after(async () => {
    await stopServed(served);
    await cleanup?.();
  });

  test(
    'vertical: CPU idle while the queue holds requests adds an instance in place, and empty queues take it back; no request fails',
    {
      skip: cores < 2 ? `${cores} core: one instance of one thread already uses every core` : false,
    },
    async (t) => {
      served = await serveProcess([
        '--model-repository',
        repo,
        '--replicas',
        'auto',
        '--min-replicas',
        '1',
        '--max-replicas',
        '1',
        '--target-ongoing-requests',
        '1000',
        '--intra-op-threads',
        '1',
        '--cpu-idle-threshold',
        '0.3',
        '--upscale-delay-ms',
        '1000',
        '--downscale-delay-ms',
        '2000',
        '--smoothing-window-ms',
        '2000',
        '--spare-replicas',
        '0',
        ...common,
      ]);
      const url = served.url;
      assert.equal(await gauge(url, 'mlscale_model_instances'), 1);
      const load = closedLoopLoad(`${url}/v2/models/s/infer`, body, 8);
      let outcomes;
      try {
        const add = await served.waitForLog(
          (l) => typeof l['msg'] === 'string' && l['msg'].startsWith('autoscaler: add-instance: '),
          30_000,
        );
        const grown = await served.waitForLog((l) => resized(l) && l['instances'] === 2, 30_000);
        assert.equal(
          await gauge(url, 'mlscale_model_instances'),
          2,
          'the instances gauge follows the decision',
        );
        assert.equal(
          await gauge(url, 'mlscale_model_intra_op_threads'),
          2,
          '2 instances x 1 thread',
        );
        await sleep(1000); // the grown replica keeps serving
        outcomes = await load.stop();
        const signal = add['signal'] as Record<string, number>;
        t.diagnostic(
          `${add['msg']} | signal ${JSON.stringify(signal)} | ${grown['msg']} | outcomes ${JSON.stringify([...outcomes])}`,
        );
        assert.equal(add['instancesPerReplica'], 2);
        assert.equal(add['replicas'], 1);
        assert.ok(signal['cpuIdle']! >= 0.3 && signal['queueDepth']! > 0, JSON.stringify(signal));
        assert.match(add['msg'] as string, /CPU \d+% idle while queues held \d+ requests/);
      } finally {
        await load.stop();
      }
      assert.deepEqual([...outcomes.keys()], [200], load.errors.join(' | '));
      assert.ok((outcomes.get(200) ?? 0) > 20);
      // Queues empty for the downscale delay: back to one instance (one step at a time), in place.
      await served.waitForLog(
        (l) => typeof l['msg'] === 'string' && l['msg'].startsWith('autoscaler: remove-instance: '),
        30_000,
      );
      assert.equal(await gaugeBecomes(url, 'mlscale_model_instances', 1, 30_000), 1);
      // Never a new process: the one replica resized itself.
      assert.equal(served.logs.filter((l) => l['msg'] === 'replica started').length, 1);
      assert.ok(!served.logs.some((l) => l['msg'] === 'rolling restart'));
      await stopServed(served);
    },
  );

  test(
    "thread split: a scale-up shrinks the surviving replica's intra-op threads in place, the scale-down grows them back; no request fails",
    { skip: cores < 2 ? `${cores} core: the split cannot change` : false },
    async (t) => {
      served = await serveProcess([
        '--model-repository',
        repo,
        '--replicas',
        'auto',
        '--min-replicas',
        '1',
        '--max-replicas',
        '2',
        '--target-ongoing-requests',
        '2',
        '--instances',
        '1',
        '--upscale-delay-ms',
        '500',
        '--downscale-delay-ms',
        '1000',
        '--smoothing-window-ms',
        '2000',
        ...common,
      ]);
      const url = served.url;
      const first = served.logs.find((l) => l['msg'] === 'replica listening')!['workerPid'];
      // One replica: every core is its share.
      assert.equal(await gauge(url, 'mlscale_model_intra_op_threads'), cores);
      const load = closedLoopLoad(`${url}/v2/models/s/infer`, body, 8);
      let outcomes;
      const half = Math.floor(cores / 2);
      try {
        const up = await served.waitForLog(
          (l) => typeof l['msg'] === 'string' && /^autoscaler: (spike-)?scale-up: /.test(l['msg']),
          20_000,
        );
        assert.equal(up['replicas'], 2);
        assert.equal(up['intraOpThreads'], half, 'the decision names the new split');
        // The first replica, still serving, shrinks to the new share in place.
        const shrunk = await served.waitForLog(
          (l) => resized(l) && l['pid'] === first && l['intraOpThreads'] === half,
          30_000,
        );
        // Starting a replica takes seconds on a busy machine.
        await served.waitForLog(
          () => served!.logs.filter((l) => l['msg'] === 'replica listening').length >= 2,
          45_000,
        );
        assert.equal(
          await gaugeBecomes(url, 'mlscale_model_intra_op_threads', 2 * half, 20_000),
          2 * half,
          'threads over both replicas',
        );
        await sleep(500);
        outcomes = await load.stop();
        t.diagnostic(`${up['msg']} | ${shrunk['msg']} | outcomes ${JSON.stringify([...outcomes])}`);
      } finally {
        await load.stop();
      }
      assert.deepEqual([...outcomes.keys()], [200], load.errors.join(' | '));
      const down = await served.waitForLog(
        (l) => typeof l['msg'] === 'string' && l['msg'].startsWith('autoscaler: scale-down: '),
        30_000,
      );
      const downAt = down['time'] as number;
      await served.waitForLog(
        (l) => l['msg'] === 'replica exited' && (l['time'] as number) >= downAt,
        30_000,
      );
      // The survivor takes the whole host back, once the other has gone.
      const grown = await served.waitForLog(
        (l) => resized(l) && (l['time'] as number) >= downAt && l['intraOpThreads'] === cores,
        30_000,
      );
      const exited = served.logs.find(
        (l) => l['msg'] === 'replica exited' && (l['time'] as number) >= downAt,
      )!;
      assert.ok(
        (grown['time'] as number) >= (exited['time'] as number),
        'grew only after the removed replica exited',
      );
      assert.equal(await gaugeBecomes(url, 'mlscale_model_intra_op_threads', cores, 20_000), cores);
      assert.equal(await gauge(url, 'mlscale_model_instances'), 1);
      assert.ok(
        !served.logs.some((l) => l['msg'] === 'rolling restart'),
        'resized in place, not restarted',
      );
      await stopServed(served);
    },
  );
});
