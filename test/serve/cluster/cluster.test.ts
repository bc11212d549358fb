/**
 * `mlscale serve --replicas N`: the real program, a primary and its replicas sharing one port.
 * One merged /metrics; a replica killed with SIGKILL under load is replaced within 2 s and only
 * requests it had in flight fail; a rolling restart on SIGHUP under load fails no request; a crash
 * loop makes the primary give up loudly; bad flags start nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../src/model/prng.js';
import { runCli, tempDir } from '../../helpers.js';
import {
  findSamples,
  get,
  infer,
  inferBody,
  randomInput,
  scrape,
  sleep,
  slowModelBytes,
  smallModelBytes,
  writeModel,
} from '../server/server-fixture.js';
import {
  closedLoopLoad,
  freePort,
  serveProcess,
  stopServed,
  type Served,
} from '../serve-process.js';

/** Worker pids the primary reported as listening, in order, with the log time. */
function listeningReplicas(served: Served): { pid: number; time: number }[] {
  return served.logs
    .filter((l) => l['msg'] === 'replica listening')
    .map((l) => ({ pid: l['workerPid'] as number, time: l['time'] as number }));
}

/** Pids of the replicas alive now, by the primary's log: listening and not exited or died since. */
function alivePids(served: Served): number[] {
  const gone = new Set(
    served.logs
      .filter(
        (l) => l['msg'] === 'replica exited' || l['msg'] === 'replica died; starting a new one',
      )
      .map((l) => l['workerPid'] as number),
  );
  return listeningReplicas(served)
    .map((r) => r.pid)
    .filter((p) => !gone.has(p));
}

function total(outcomes: Map<number | 'network', number>): number {
  return [...outcomes.values()].reduce((a, b) => a + b, 0);
}

describe('mlscale serve --replicas (node:cluster)', () => {
  let repo: string;
  let cleanup: (() => Promise<void>) | undefined;
  let served: Served | undefined;
  const common = [
    '--port',
    '0',
    '--instances',
    '1',
    '--intra-op-threads',
    '1',
    '--unready-delay-ms',
    '300',
    '--grace-period-ms',
    '5000',
    '--log-level',
    'info',
  ];

  before(async () => {
    const tmp = await tempDir('mlscale-cluster-');
    repo = tmp.dir;
    cleanup = tmp.cleanup;
    await writeModel(repo, 'm', 1, smallModelBytes(5));
    served = await serveProcess(['--model-repository', repo, '--replicas', '2', ...common]);
    // Both replicas listening before the tests start.
    await served.waitForLog(() => listeningReplicas(served!).length >= 2);
    // And the warm spare loaded, which starts once they listen.
    await served.waitForLog((l) => l['msg'] === 'spare replica loaded');
  });

  after(async () => {
    await stopServed(served);
    await cleanup?.();
  });

  test('one port, ready, and one /metrics merged over the replicas', async () => {
    const url = served!.url;
    assert.equal((await get(url, '/v2/health/ready')).status, 200);
    const before = await scrape(url);
    const successBefore = findSamples(before, 'mlscale_inference_requests_total', {
      outcome: 'success',
    }).reduce((s, x) => s + x.value, 0);
    // Fresh connections, so the primary hands them to both replicas in turn.
    const body = inferBody(randomInput(new Prng(3), 1));
    for (let i = 0; i < 20; i++) {
      const answer = await infer(url, 'm', body, { headers: { connection: 'close' } });
      assert.equal(answer.status, 200, answer.text);
    }
    const samples = await scrape(url);
    const success = findSamples(samples, 'mlscale_inference_requests_total', {
      outcome: 'success',
    }).reduce((s, x) => s + x.value, 0);
    assert.equal(success - successBefore, 20, "the merged counter holds every replica's requests");
    assert.equal(findSamples(samples, 'mlscale_cluster_replicas')[0]?.value, 2);
    // Two replicas' default process metrics merged into one series.
    assert.equal(
      findSamples(samples, 'mlscale_model_instances', { model: 'm' })[0]?.value,
      2,
      'instances summed over 2 replicas',
    );
  });

  test('SIGKILL of a replica under load: a warm spare replaces it within 2 s; only requests it had in flight fail', async (t) => {
    const url = served!.url;
    const concurrency = 8;
    const body = JSON.stringify(inferBody(randomInput(new Prng(4), 1)));
    const load = closedLoopLoad(`${url}/v2/models/m/infer`, body, concurrency);
    await sleep(700);
    const [victim] = alivePids(served!);
    assert.ok(victim, 'no replica pid in the logs');
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    const replaced = await served!.waitForLog(
      (l) => l['msg'] === 'replica listening' && (l['time'] as number) >= killedAt,
      10_000,
    );
    const replacedInMs = (replaced['time'] as number) - killedAt;
    await sleep(700);
    const outcomes = await load.stop();
    t.diagnostic(
      `replaced in ${replacedInMs} ms; outcomes ${JSON.stringify([...outcomes])}; ${load.errors.slice(0, 3).join(' | ')}`,
    );
    assert.ok(replacedInMs <= 2000, `the replica was replaced after ${replacedInMs} ms`);
    const failed = total(outcomes) - (outcomes.get(200) ?? 0);
    // Each load connection is held by one replica and has at most one request in flight.
    assert.ok(
      failed <= concurrency,
      `${failed} failed requests, more than could have been in flight on the killed replica`,
    );
    assert.ok(
      [...outcomes.keys()].every((k) => k === 200 || k === 'network'),
      `a failure other than a cut connection: ${JSON.stringify([...outcomes])}`,
    );
    assert.ok((outcomes.get(200) ?? 0) > 50);
    assert.ok(
      served!.logs.some(
        (l) =>
          l['msg'] === 'replica died; starting a new one' &&
          l['workerPid'] === victim &&
          l['signal'] === 'SIGKILL',
      ),
    );
    assert.equal(
      findSamples(await scrape(url), 'mlscale_cluster_replica_restarts_total')[0]?.value,
      1,
    );
    // A warm spare took its place; a new spare is started and loaded behind it.
    assert.ok(
      served!.logs.some(
        (l) => l['msg'] === 'spare replica activated' && (l['time'] as number) >= killedAt,
      ),
    );
    await served!.waitForLog(
      (l) => l['msg'] === 'spare replica loaded' && (l['time'] as number) >= killedAt,
      15_000,
    );
  });

  test('SIGHUP: a rolling restart under load fails no request and replaces every replica', async (t) => {
    const url = served!.url;
    await served!.waitForLog(() => alivePids(served!).length >= 2);
    const old = alivePids(served!);
    const body = JSON.stringify(inferBody(randomInput(new Prng(5), 1)));
    const load = closedLoopLoad(`${url}/v2/models/m/infer`, body, 8);
    await sleep(500);
    const hupAt = Date.now();
    served!.child.kill('SIGHUP');
    await served!.waitForLog(
      (l) => l['msg'] === 'rolling restart done' && (l['time'] as number) >= hupAt,
      30_000,
    );
    // Until the old replicas have drained and exited.
    await served!.waitForLog(
      () =>
        old.every((p) =>
          served!.logs.some((l) => l['msg'] === 'replica exited' && l['workerPid'] === p),
        ),
      15_000,
    );
    await sleep(300);
    const outcomes = await load.stop();
    t.diagnostic(`outcomes ${JSON.stringify([...outcomes])}`);
    assert.deepEqual(
      [...outcomes.keys()],
      [200],
      `failed requests: ${JSON.stringify([...outcomes])}: ${load.errors.join(' | ')}`,
    );
    const now = alivePids(served!);
    assert.equal(now.length, 2);
    assert.ok(
      now.every((p) => !old.includes(p)),
      `old replicas still alive: ${old} → ${now}`,
    );
  });

  test('a new model version in the repository: a rolling restart under load, then every replica serves it', async (t) => {
    const url = served!.url;
    const body = inferBody(randomInput(new Prng(7), 1));
    assert.equal((await infer(url, 'm', body)).json.model_version, '1');
    const load = closedLoopLoad(`${url}/v2/models/m/infer`, JSON.stringify(body), 4);
    const changedAt = Date.now();
    await writeModel(repo, 'm', 2, smallModelBytes(6));
    const started = await served!.waitForLog(
      (l) => l['msg'] === 'rolling restart' && (l['time'] as number) >= changedAt,
      10_000,
    );
    assert.equal(started['reason'], 'the model repository changed');
    await served!.waitForLog(
      (l) => l['msg'] === 'rolling restart done' && (l['time'] as number) >= changedAt,
      30_000,
    );
    await sleep(800); // the old replicas' unready delay and drain
    const outcomes = await load.stop();
    t.diagnostic(`outcomes ${JSON.stringify([...outcomes])}`);
    assert.deepEqual([...outcomes.keys()], [200], load.errors.join(' | '));
    for (let i = 0; i < 6; i++) {
      const answer = await infer(url, 'm', body, { headers: { connection: 'close' } });
      assert.equal(answer.json.model_version, '2', answer.text);
    }
  });

  test('SIGTERM drains every replica and the primary exits 0', async () => {
    served!.child.kill('SIGTERM');
    const exit = await Promise.race([
      served!.exited,
      sleep(20_000).then(() => 'still running after 20 s'),
    ]);
    assert.deepEqual(exit, { code: 0, signal: null }, served!.stderr());
    assert.ok(served!.logs.some((l) => l['msg'] === 'shut down cleanly'));
    await assert.rejects(fetch(`${served!.url}/v2/health/live`));
  });

  test('a crash loop: replicas that keep dying make the primary give up with a fatal log and exit 1', async () => {
    const looping = await serveProcess(['--model-repository', repo, '--replicas', '1', ...common]);
    try {
      const killed = new Set<number>();
      // Kill each replica as soon as the primary reports it started.
      for (let i = 0; i < 10 && looping.child.exitCode === null; i++) {
        const started = await Promise.race([
          looping.waitForLog(
            (l) =>
              /replica started$/.test(l['msg'] as string) && !killed.has(l['workerPid'] as number),
            15_000,
          ),
          looping.exited.then(() => undefined),
        ]);
        if (!started) break;
        const pid = started['workerPid'] as number;
        killed.add(pid);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      const exit = await Promise.race([
        looping.exited,
        sleep(30_000).then(() => 'still running after 30 s'),
      ]);
      assert.deepEqual(exit, { code: 1, signal: null });
      const fatal = looping.logs.find((l) => l['level'] === 60);
      assert.ok(fatal, 'no fatal log line');
      assert.match(fatal['msg'] as string, /crash loop; giving up/);
      assert.equal(fatal['deaths'], 5, 'gave up at the fifth death');
      // A sixth process may have started (and been killed) while the primary took in the fifth death.
      assert.ok(killed.size >= 5 && killed.size <= 6, String(killed.size));
    } finally {
      await stopServed(looping);
    }
  });

  test('--replicas auto: load above the target adds a replica, its end removes it again, no request fails', async (t) => {
    const tmp = await tempDir('mlscale-cluster-auto-');
    await writeModel(tmp.dir, 's', 1, slowModelBytes(384, 8));
    const auto = await serveProcess([
      '--model-repository',
      tmp.dir,
      '--replicas',
      'auto',
      '--min-replicas',
      '1',
      '--max-replicas',
      '2',
      '--target-ongoing-requests',
      '2',
      '--upscale-delay-ms',
      '500',
      '--downscale-delay-ms',
      '1000',
      '--smoothing-window-ms',
      '2000',
      '--max-batch-size',
      '0',
      ...common,
    ]);
    try {
      await auto.waitForLog((l) => l['msg'] === 'replica listening');
      await sleep(1500);
      assert.equal(listeningReplicas(auto).length, 1, 'scaled up without load');
      const body = JSON.stringify(inferBody(randomInput(new Prng(6), 1)));
      const load = closedLoopLoad(`${auto.url}/v2/models/s/infer`, body, 8);
      const up = await auto.waitForLog(
        (l) => /^autoscaler: (spike-)?scale-up: /.test(l['msg'] as string),
        15_000,
      );
      await auto.waitForLog(() => listeningReplicas(auto).length >= 2, 10_000);
      const outcomes = await load.stop();
      const down = await auto.waitForLog(
        (l) => /^autoscaler: scale-down: /.test(l['msg'] as string),
        20_000,
      );
      await auto.waitForLog((l) => l['msg'] === 'replica exited', 10_000);
      t.diagnostic(`${up['msg']} | ${down['msg']} | outcomes ${JSON.stringify([...outcomes])}`);
      assert.equal(up['replicas'], 2);
      const signal = up['signal'] as Record<string, number>;
      assert.ok(signal.smoothedOngoing > 2 || signal.panicOngoing > 2, JSON.stringify(signal));
      assert.equal(down['replicas'], 1);
      assert.deepEqual([...outcomes.keys()], [200], load.errors.join(' | '));
      assert.equal(findSamples(await scrape(auto.url), 'mlscale_cluster_replicas')[0]?.value, 1);
    } finally {
      await stopServed(auto);
      await tmp.cleanup();
    }
  });

  const bad: { name: string; args: () => Promise<string[]> | string[]; message: RegExp }[] = [
    {
      name: '--replicas 0',
      args: () => ['--replicas', '0'],
      message: /--replicas must be an integer from 1 to 256, or "auto", got 0/,
    },
    {
      name: '--replicas -3',
      args: () => ['--replicas=-3'],
      message: /--replicas must be an integer from 1 to 256, or "auto", got -3/,
    },
    {
      name: '--replicas many',
      args: () => ['--replicas', 'many'],
      message: /--replicas must be an integer from 1 to 256, or "auto", got "many"/,
    },
    {
      name: 'min above max',
      args: () => ['--replicas', 'auto', '--min-replicas', '4', '--max-replicas', '2'],
      message: /--min-replicas \(4\) must not be above --max-replicas \(2\)/,
    },
    {
      name: '--max-replicas without auto',
      args: () => ['--replicas', '2', '--max-replicas', '4'],
      message: /--max-replicas applies only with --replicas auto/,
    },
    {
      name: '--spare-replicas -1',
      args: () => ['--replicas', '2', '--spare-replicas=-1'],
      message: /--spare-replicas must be an integer from 0 to 16, got -1/,
    },
    {
      name: '--target-ongoing-requests 0',
      args: () => ['--replicas', 'auto', '--target-ongoing-requests', '0'],
      message: /--target-ongoing-requests must be a positive number, got 0/,
    },
    {
      name: '--cpu-idle-threshold 2',
      args: () => ['--replicas', 'auto', '--cpu-idle-threshold', '2'],
      message: /--cpu-idle-threshold must be a number from 0 to 1, got 2/,
    },
    {
      name: '--cpu-idle-threshold half',
      args: () => ['--replicas', 'auto', '--cpu-idle-threshold', 'half'],
      message: /--cpu-idle-threshold must be a number from 0 to 1, got "half"/,
    },
    {
      name: '--cpu-idle-threshold without auto',
      args: () => ['--replicas', '2', '--cpu-idle-threshold', '0.3'],
      message: /--cpu-idle-threshold applies only with --replicas auto/,
    },
  ];
  for (const c of bad) {
    test(`${c.name}: exit 2 naming the flag, nothing started`, async () => {
      const r = await runCli(['serve', '--model-repository', repo, ...(await c.args())], {
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 2, `exit ${r.code}; stderr: ${r.stderr}`);
      assert.match(r.stderr, c.message);
      assert.equal(r.stdout, '');
    });
  }

  test('a model repository that cannot be read: exit 1 before any replica starts', async () => {
    const r = await runCli(
      ['serve', '--model-repository', `${repo}-missing`, '--replicas', '2', '--port', '0'],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 1, `exit ${r.code}; stderr: ${r.stderr}`);
    assert.match(
      r.stderr,
      /--model-repository .*-missing: cannot be read: ENOENT.*\[E_MODEL_LOAD\]/,
    );
    assert.doesNotMatch(r.stdout, /replica started/);
  });

  test('replicas that fail at start (the repository is gone) exit, and the primary gives up on the crash loop', async () => {
    const tmp = await tempDir('mlscale-cluster-gone-');
    await writeModel(tmp.dir, 'm', 1, smallModelBytes(8));
    const served = await serveProcess([
      '--model-repository',
      tmp.dir,
      '--replicas',
      '1',
      '--spare-replicas',
      '0',
      ...common,
    ]);
    try {
      await tmp.cleanup();
      const [pid] = alivePids(served);
      process.kill(pid!, 'SIGKILL');
      // Every new replica now fails to read the repository and exits 1; after five deaths, the end.
      const exit = await Promise.race([
        served.exited,
        sleep(30_000).then(() => 'still running after 30 s'),
      ]);
      assert.deepEqual(exit, { code: 1, signal: null }, served.stderr());
      const died = served.logs.filter((l) => l['msg'] === 'replica died; starting a new one');
      assert.ok(
        died.slice(1).every((l) => l['code'] === 1),
        JSON.stringify(died),
      );
      assert.ok(
        died.slice(2).every((l) => (l['restartInMs'] as number) > 0),
        'no backoff after repeated deaths',
      );
      assert.match(
        served.logs.find((l) => l['level'] === 60)?.['msg'] as string,
        /crash loop; giving up/,
      );
    } finally {
      await stopServed(served);
    }
  });

  test('a port in use: exit 2 naming the port, no replica started', async () => {
    const port = await freePort();
    const { createServer } = await import('node:net');
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const r = await runCli(
        ['serve', '--model-repository', repo, '--replicas', '2', '--port', String(port)],
        { timeoutMs: 30_000 },
      );
      assert.equal(r.code, 2, `exit ${r.code}; stderr: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`--port ${port} is already in use on 127\\.0\\.0\\.1`));
      assert.doesNotMatch(r.stdout, /replica started/);
    } finally {
      holder.close();
    }
  });
});
