/**
 * A real nginx, with the configuration `mlscale deploy nginx` writes, in front of three real
 * `mlscale serve` replicas on loopback ports: traffic spreads over them, a slow replica gets less
 * of it (least outstanding requests), and killing a replica with SIGKILL under load loses no
 * request (nginx retries the inference on another replica).
 *
 * Skips, saying why, when nginx is not installed (outside CI; `.ci/run` installs it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Prng } from '../../src/model/prng.js';
import { runCli, tempDir } from '../helpers.js';
import {
  get,
  inferBody,
  randomInput,
  sleep,
  slowModelBytes,
  smallModelBytes,
  writeModel,
} from '../serve/server/server-fixture.js';
import { closedLoopLoad, freePort, serveProcess, type Served } from '../serve/serve-process.js';

function findNginx(): string | undefined {
  const r = spawnSync(
    'sh',
    ['-c', 'command -v nginx || { test -x /usr/sbin/nginx && echo /usr/sbin/nginx; }'],
    { encoding: 'utf8' },
  );
  const path = r.stdout.trim();
  return path === '' ? undefined : path;
}

const nginx = findNginx();
const skip =
  nginx === undefined && !process.env['CI']
    ? 'nginx is not installed (apt-get install -y nginx; .ci/run installs it)'
    : false;
if (skip) console.log(`# skipping the nginx tests: ${skip}`);

/** Success count of model `m` on one replica. */
async function served(url: string): Promise<number> {
  const stats = await get(url, '/v2/models/m/stats');
  assert.equal(stats.status, 200, stats.text);
  return stats.json.model_stats[0].inference_stats.success.count as number;
}

describe('nginx in front of mlscale serve replicas (mlscale deploy nginx)', { skip }, () => {
  let dir: string;
  let cleanup: (() => Promise<void>) | undefined;
  const replicas: Served[] = [];
  let proxy: ChildProcess | undefined;
  let proxyExit: Promise<unknown> | undefined;
  let proxyUrl: string;
  let nginxLog = '';

  before(async () => {
    assert.ok(nginx, 'nginx is not installed, and CI is set: .ci/run should have installed it');
    const tmp = await tempDir('mlscale-nginx-');
    dir = tmp.dir;
    cleanup = tmp.cleanup;
    // Two fast replicas and a slow one, all serving a model named "m" with the same input.
    await writeModel(join(dir, 'fast'), 'm', 1, smallModelBytes(3));
    await writeModel(join(dir, 'slow'), 'm', 1, slowModelBytes(384, 8));
    const common = [
      '--port',
      '0',
      '--instances',
      '1',
      '--intra-op-threads',
      '1',
      '--max-batch-size',
      '0',
      '--unready-delay-ms',
      '0',
      '--grace-period-ms',
      '1000',
    ];
    for (const repo of ['fast', 'fast', 'slow'])
      replicas.push(await serveProcess(['--model-repository', join(dir, repo), ...common]));

    const port = await freePort();
    const addresses = replicas.map((r) => r.url.replace(/^http:\/\//, '')).join(',');
    const generated = await runCli(
      [
        'deploy',
        'nginx',
        '--replicas',
        addresses,
        '--listen',
        `127.0.0.1:${port}`,
        '--worker-processes',
        '1',
      ],
      { timeoutMs: 30_000 },
    );
    assert.equal(generated.code, 0, generated.stderr);
    const conf = join(dir, 'nginx.conf');
    // Temp files in the test's folder: the Debian defaults under /var/lib/nginx need root.
    const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((t) => `    ${t}_temp_path ${join(dir, t)};`)
      .join('\n');
    await writeFile(conf, generated.stdout.replace(/^http \{$/m, `http {\n${temps}`));
    proxy = spawn(
      nginx!,
      [
        '-c',
        conf,
        '-p',
        dir,
        '-e',
        join(dir, 'error.log'),
        '-g',
        `daemon off; pid ${join(dir, 'nginx.pid')};`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proxy.stdout!.on('data', (d: Buffer) => (nginxLog += d));
    proxy.stderr!.on('data', (d: Buffer) => (nginxLog += d));
    proxyExit = new Promise((resolve) => proxy!.once('exit', resolve));
    proxyUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${proxyUrl}/v2/health/ready`)).status === 200) break;
      } catch {
        // not listening yet
      }
      assert.ok(i < 100 && proxy.exitCode === null, `nginx did not come up: ${nginxLog}`);
      await sleep(50);
    }
  });

  after(async () => {
    if (proxy && proxy.exitCode === null) {
      proxy.kill('SIGQUIT');
      const timer = setTimeout(() => proxy!.kill('SIGKILL'), 3000);
      await proxyExit;
      clearTimeout(timer);
    }
    for (const r of replicas)
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    await cleanup?.();
  });

  test('the generated configuration passes nginx -t', () => {
    const r = spawnSync(
      nginx!,
      [
        '-t',
        '-c',
        join(dir, 'nginx.conf'),
        '-p',
        dir,
        '-e',
        join(dir, 'error.log'),
        '-g',
        `pid ${join(dir, 'nginx-t.pid')};`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /test is successful/);
  });

  test('traffic spreads over the three replicas, and the slow one gets the least (least_conn)', async (t) => {
    const before = await Promise.all(replicas.map((r) => served(r.url)));
    const body = JSON.stringify(inferBody(randomInput(new Prng(11), 1)));
    const load = closedLoopLoad(`${proxyUrl}/v2/models/m/infer`, body, 6);
    await sleep(1500);
    const outcomes = await load.stop();
    const counts = (await Promise.all(replicas.map((r) => served(r.url)))).map(
      (n, i) => n - before[i]!,
    );
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    t.diagnostic(`per replica (fast, fast, slow): ${counts.join(', ')} of ${total}`);
    assert.deepEqual([...outcomes.keys()], [200], `not all 200: ${load.errors.join(' | ')}`);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      total,
      'every answer came from one of the replicas',
    );
    for (const [i, n] of counts.entries())
      assert.ok(n > 0, `replica ${i} got no request: ${counts.join(', ')}`);
    assert.ok(
      counts[2]! < Math.min(counts[0]!, counts[1]!),
      `the slow replica got no less than a fast one: ${counts.join(', ')}`,
    );
  });

  test('SIGKILL of a replica under load loses no request: nginx retries on another', async (t) => {
    const body = JSON.stringify(inferBody(randomInput(new Prng(12), 1)));
    const load = closedLoopLoad(`${proxyUrl}/v2/models/m/infer`, body, 8);
    await sleep(500);
    const victim = replicas[0]!;
    const servedBefore = await served(victim.url);
    victim.child.kill('SIGKILL');
    await victim.exited;
    await sleep(1000);
    const outcomes = await load.stop();
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    t.diagnostic(
      `outcomes after the kill: ${JSON.stringify([...outcomes])}; the killed replica had served ${servedBefore}`,
    );
    assert.ok(servedBefore > 0, 'the killed replica had no traffic');
    assert.deepEqual(
      [...outcomes.keys()],
      [200],
      `failed requests: ${JSON.stringify([...outcomes])}: ${load.errors.join(' | ')}`,
    );
    assert.ok(total > 50, `too little load to show anything: ${total}`);
    // The survivors still answer through nginx.
    assert.equal((await fetch(`${proxyUrl}/v2/health/ready`)).status, 200);
  });
});
