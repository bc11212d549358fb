/**
 * `mlscale deploy nginx|haproxy --grpc-replicas`: the generated configurations pass `nginx -t` and
 * `haproxy -c`, and a real nginx and a real HAProxy route gRPC calls (a client generated from the
 * protocol's .proto) to two real `mlscale serve --grpc-port` replicas, spreading calls over both.
 *
 * Skips, saying why, when nginx or HAProxy is not installed (outside CI; `.ci/run` installs them).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';
import { grpcClients, ok } from '../serve/grpc/grpc-client.js';
import { freePort, serveProcess, type Served } from '../serve/serve-process.js';
import {
  get,
  kFeatures,
  sleep,
  smallModelBytes,
  writeModel,
} from '../serve/server/server-fixture.js';
import { haproxyConfig, kDefaultBalancerOptions, nginxConfig } from '../../src/deploy/configs.js';

function which(name: string): string | undefined {
  const r = spawnSync(
    'sh',
    ['-c', `command -v ${name} || { test -x /usr/sbin/${name} && echo /usr/sbin/${name}; }`],
    { encoding: 'utf8' },
  );
  const path = r.stdout.trim();
  return path === '' ? undefined : path;
}
const nginx = which('nginx');
const haproxy = which('haproxy');
const skipReason = (name: string, path: string | undefined): string | false =>
  path === undefined && !process.env['CI']
    ? `${name} is not installed (apt-get install -y ${name}; .ci/run installs it)`
    : false;

const options = {
  ...kDefaultBalancerOptions,
  replicas: [
    { host: '127.0.0.1', port: 9001 },
    { host: '::1', port: 9002 },
  ],
  grpc: {
    replicas: [
      { host: '127.0.0.1', port: 9101 },
      { host: '::1', port: 9102 },
    ],
    listenPort: 8081,
  },
};

describe('gRPC routing in the generated configurations', () => {
  test('nginx: an http2 server with grpc_pass to an upstream of the gRPC addresses', () => {
    const conf = nginxConfig(options);
    assert.match(conf, /upstream mlscale_grpc \{\n\s+least_conn;/);
    assert.match(conf, /server 127\.0\.0\.1:9101 max_fails=1 fail_timeout=5s;/);
    assert.match(conf, /server \[::1\]:9102 max_fails=1/);
    assert.match(conf, /listen 8081 http2;/);
    assert.match(
      conf,
      /location = \/inference\.GRPCInferenceService\/ModelInfer \{\n\s+grpc_next_upstream error timeout non_idempotent;/,
    );
    assert.match(conf, /grpc_pass grpc:\/\/mlscale_grpc;/);
    assert.doesNotMatch(nginxConfig({ ...options, grpc: undefined } as never), /grpc/);
  });

  test('haproxy: a proto h2 frontend, h2 servers checked on their HTTP readiness', () => {
    const conf = haproxyConfig(options);
    assert.match(conf, /bind \*:8081 proto h2/);
    assert.match(
      conf,
      /server grpc1 127\.0\.0\.1:9101 proto h2 check addr 127\.0\.0\.1 port 9001 check-proto h1/,
    );
    assert.match(
      conf,
      /server grpc2 \[::1\]:9102 proto h2 check addr \[::1\] port 9002 check-proto h1/,
    );
  });

  test(
    'nginx -t and haproxy -c accept them',
    { skip: !nginx && !haproxy && 'neither nginx nor haproxy is installed' },
    async () => {
      const tmp = await tempDir('mlscale-grpc-routing-');
      try {
        if (nginx) {
          const file = join(tmp.dir, 'nginx.conf');
          await writeFile(file, nginxConfig(options));
          const r = spawnSync(
            nginx,
            [
              '-t',
              '-c',
              file,
              '-p',
              tmp.dir,
              '-e',
              join(tmp.dir, 'e.log'),
              '-g',
              `pid ${join(tmp.dir, 'n.pid')};`,
            ],
            { encoding: 'utf8' },
          );
          assert.equal(r.status, 0, r.stderr);
        }
        if (haproxy) {
          const file = join(tmp.dir, 'haproxy.cfg');
          await writeFile(file, haproxyConfig(options));
          const r = spawnSync(haproxy, ['-c', '-f', file], { encoding: 'utf8' });
          assert.equal(r.status, 0, r.stdout + r.stderr);
        }
      } finally {
        await tmp.cleanup();
      }
    },
  );

  test('the CLI refuses gRPC addresses that do not pair with --replicas, and --grpc-listen alone', async () => {
    const mismatch = await runCli([
      'deploy',
      'nginx',
      '--replicas',
      '127.0.0.1:9001,127.0.0.1:9002',
      '--grpc-replicas',
      '127.0.0.1:9101',
      '--no-check',
    ]);
    assert.equal(mismatch.code, 2, mismatch.stderr);
    assert.match(
      mismatch.stderr,
      /--grpc-replicas must list one address per --replicas entry, in the same order: expected 2, got 1/,
    );
    const alone = await runCli([
      'deploy',
      'haproxy',
      '--replicas',
      '127.0.0.1:9001',
      '--grpc-listen',
      '9000',
      '--no-check',
    ]);
    assert.equal(alone.code, 2, alone.stderr);
    assert.match(alone.stderr, /--grpc-listen needs --grpc-replicas/);
  });
});

/** Successful inferences of model `m` on one replica, over both transports. */
async function served(url: string): Promise<number> {
  const stats = await get(url, '/v2/models/m/stats');
  assert.equal(stats.status, 200, stats.text);
  return stats.json.model_stats[0].inference_stats.success.count as number;
}

for (const balancer of ['nginx', 'haproxy'] as const) {
  const binary = balancer === 'nginx' ? nginx : haproxy;
  const skip = skipReason(balancer, binary);
  if (skip) console.log(`# skipping the ${balancer} gRPC routing test: ${skip}`);

  describe(`${balancer} routes gRPC to mlscale serve --grpc-port replicas`, { skip }, () => {
    let dir: string;
    let cleanup: (() => Promise<void>) | undefined;
    const replicas: Served[] = [];
    let proxy: ChildProcess | undefined;
    let proxyExit: Promise<unknown> | undefined;
    let log = '';
    let grpcListen: number;

    before(async () => {
      assert.ok(
        binary,
        `${balancer} is not installed, and CI is set: .ci/run should have installed it`,
      );
      const tmp = await tempDir(`mlscale-${balancer}-grpc-`);
      dir = tmp.dir;
      cleanup = tmp.cleanup;
      await writeModel(dir, 'm', 1, smallModelBytes(3));
      const grpcPorts: number[] = [];
      for (let i = 0; i < 2; i++) {
        const grpcPort = await freePort();
        grpcPorts.push(grpcPort);
        replicas.push(
          await serveProcess([
            '--model-repository',
            dir,
            '--port',
            '0',
            '--grpc-port',
            String(grpcPort),
            '--instances',
            '1',
            '--intra-op-threads',
            '1',
            '--unready-delay-ms',
            '0',
            '--grace-period-ms',
            '1000',
            '--no-dashboard',
          ]),
        );
      }
      const httpListen = await freePort();
      grpcListen = await freePort();
      const generated = await runCli(
        [
          'deploy',
          balancer,
          '--replicas',
          replicas.map((r) => r.url.replace(/^http:\/\//, '')).join(','),
          '--grpc-replicas',
          grpcPorts.map((p) => `127.0.0.1:${p}`).join(','),
          '--listen',
          `127.0.0.1:${httpListen}`,
          '--grpc-listen',
          String(grpcListen),
          ...(balancer === 'nginx' ? ['--worker-processes', '1'] : []),
        ],
        { timeoutMs: 30_000 },
      );
      assert.equal(generated.code, 0, generated.stderr);
      if (balancer === 'nginx') {
        const conf = join(dir, 'nginx.conf');
        const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
          .map((t) => `    ${t}_temp_path ${join(dir, t)};`)
          .join('\n');
        // The gRPC listener on loopback only, as the HTTP one is (--listen gave its host).
        const text = generated.stdout
          .replace(/^http \{$/m, `http {\n${temps}`)
          .replace(`listen ${grpcListen} http2;`, `listen 127.0.0.1:${grpcListen} http2;`);
        assert.match(text, new RegExp(`listen 127\\.0\\.0\\.1:${grpcListen} http2;`));
        await writeFile(conf, text);
        proxy = spawn(
          binary!,
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
      } else {
        const conf = join(dir, 'haproxy.cfg');
        await writeFile(conf, generated.stdout);
        assert.match(generated.stdout, new RegExp(`bind 127\\.0\\.0\\.1:${grpcListen} proto h2`));
        proxy = spawn(binary!, ['-f', conf, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
      }
      proxy.stdout!.on('data', (d: Buffer) => (log += d));
      proxy.stderr!.on('data', (d: Buffer) => (log += d));
      proxyExit = new Promise((resolve) => proxy!.once('exit', resolve));
      // Up once health through the balancer says SERVING (HAProxy: once its checks pass too).
      for (let i = 0; ; i++) {
        const clients = grpcClients(`127.0.0.1:${grpcListen}`);
        try {
          const health = await ok(clients.health, 'Check', { service: '' });
          if (health.status === 'SERVING') break;
        } catch {
          // not up yet
        } finally {
          clients.close();
        }
        assert.ok(i < 100 && proxy.exitCode === null, `${balancer} did not come up: ${log}`);
        await sleep(100);
      }
    });

    after(async () => {
      if (proxy && proxy.exitCode === null) {
        proxy.kill(balancer === 'nginx' ? 'SIGQUIT' : 'SIGUSR1');
        const timer = setTimeout(() => proxy!.kill('SIGKILL'), 3000);
        await proxyExit;
        clearTimeout(timer);
      }
      for (const r of replicas)
        if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await Promise.all(replicas.map((r) => r.exited));
      await cleanup?.();
    });

    test('calls on one connection are answered and spread over both replicas', async () => {
      const before = await Promise.all(replicas.map((r) => served(r.url)));
      const clients = grpcClients(`127.0.0.1:${grpcListen}`);
      const calls = 12;
      try {
        for (let i = 0; i < calls; i++) {
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
        }
        const metadata = await ok(clients.inference, 'ModelMetadata', { name: 'm' });
        assert.equal(metadata.name, 'm');
      } finally {
        clients.close();
      }
      const counts = (await Promise.all(replicas.map((r) => served(r.url)))).map(
        (n, i) => n - before[i]!,
      );
      assert.equal(counts[0]! + counts[1]!, calls, `counts ${counts.join(', ')}`);
      // One client connection, yet both replicas served: the balancer spreads calls, not connections.
      for (const [i, n] of counts.entries())
        assert.ok(n > 0, `replica ${i} got no call: ${counts.join(', ')}`);
    });
  });
}
