/**
 * The load balancers `mlscale deploy` configures, in front of a replica with no admin token (the
 * loopback default): the repository API is answered 403 by nginx and HAProxy however its path is
 * spelt, the replica keeps its model, and the rest of the protocol passes. Exposing it is refused
 * for replicas that take it without a token.
 *
 * Real nginx and HAProxy on loopback ports; each part skips, saying why, when its program is not
 * installed (outside CI).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { haproxyConfig, kDefaultBalancerOptions, nginxConfig } from '../../src/deploy/configs.js';
import type { ModelServer } from '../../src/serve/server.js';
import { freePort } from '../../src/util/free-port.js';
import { runCli, tempDir } from '../helpers.js';
import {
  get,
  sleep,
  smallModelBytes,
  startServer,
  writeModel,
} from '../serve/server/server-fixture.js';
import { addressOf, assertJsonError, sendRaw } from './hostile-fixture.js';

function find(program: string): string | undefined {
  const r = spawnSync(
    'sh',
    [
      '-c',
      `command -v ${program} || { test -x /usr/sbin/${program} && echo /usr/sbin/${program}; }`,
    ],
    {
      encoding: 'utf8',
    },
  );
  return r.stdout.trim() || undefined;
}

/** Spellings of the repository API a client may try to slip past a path match. */
const kSpellings = [
  '/v2/repository/models/m/unload',
  '/v2/%72epository/models/m/unload',
  '//v2/repository/models/m/unload',
  '/v2//repository/models/m/unload',
  '/v2/./repository/models/m/unload',
  '/x/../v2/repository/models/m/unload',
  '/V2/Repository/models/m/unload',
  '/v2/repository/index',
];

describe('hostile input: the repository API through the generated load balancers', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: ModelServer;
  let url: string;
  const proxies: ChildProcess[] = [];

  before(async () => {
    const tmp = await tempDir('mlscale-hostile-balancer-');
    dir = tmp.dir;
    cleanup = tmp.cleanup;
    await writeModel(join(dir, 'repo'), 'm', 1, smallModelBytes(41));
    ({ server, url } = await startServer({
      modelRepository: join(dir, 'repo'),
      modelOverrides: { instances: 1 },
    }));
  });
  after(async () => {
    // SIGTERM: a SIGKILLed nginx master would leave its workers behind.
    await Promise.all(
      proxies.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise((resolve) => p.once('exit', resolve));
        p.kill('SIGTERM');
        const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await server?.close();
    await cleanup?.();
  });

  const replicas = (): { host: string; port: number }[] => [addressOf(url)];

  async function waitUp(proxyUrl: string, child: ChildProcess, log: () => string): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${proxyUrl}/v2/health/ready`)).status === 200) return;
      } catch {
        // not listening yet
      }
      assert.ok(i < 200 && child.exitCode === null, `the balancer did not come up: ${log()}`);
      await sleep(50);
    }
  }

  async function assertBlocked(proxyUrl: string): Promise<void> {
    for (const path of kSpellings) {
      // Host: localhost, as a client trying to pass for a local one would send.
      const answer = await sendRaw(
        proxyUrl,
        `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      );
      assert.notEqual(answer.status, 200, `${path}: ${answer.body}`);
      if (answer.status === 403)
        assertJsonError(answer, 403, /is not exposed through this load balancer/);
      const ready = await get(url, '/v2/models/m/ready');
      assert.equal(ready.status, 200, `${path} reached the replica: ${ready.text}`);
    }
    // The protocol itself passes.
    const meta = await get(proxyUrl, '/v2/models/m');
    assert.equal(meta.status, 200, meta.text);
  }

  const nginx = find('nginx');
  test(
    'nginx answers it 403 however it is spelt',
    { skip: nginx ? false : 'nginx is not installed' },
    async () => {
      const port = await freePort();
      const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((t) => `    ${t}_temp_path ${join(dir, t)};`)
        .join('\n');
      const conf = join(dir, 'nginx.conf');
      const text = nginxConfig({
        ...kDefaultBalancerOptions,
        replicas: replicas(),
        listenHost: '127.0.0.1',
        listenPort: port,
        workerProcesses: 1,
      });
      await writeFile(conf, text.replace(/^http \{$/m, `http {\n${temps}`));
      let log = '';
      const child = spawn(
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
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      proxies.push(child);
      child.stderr!.on('data', (d: Buffer) => (log += d));
      const proxyUrl = `http://127.0.0.1:${port}`;
      await waitUp(proxyUrl, child, () => log);
      await assertBlocked(proxyUrl);
    },
  );

  const haproxy = find('haproxy');
  test(
    'HAProxy answers it 403 however it is spelt',
    { skip: haproxy ? false : 'haproxy is not installed' },
    async () => {
      const port = await freePort();
      const conf = join(dir, 'haproxy.cfg');
      await writeFile(
        conf,
        haproxyConfig({
          ...kDefaultBalancerOptions,
          replicas: replicas(),
          listenHost: '127.0.0.1',
          listenPort: port,
        }),
      );
      let log = '';
      const child = spawn(haproxy!, ['-db', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      proxies.push(child);
      child.stderr!.on('data', (d: Buffer) => (log += d));
      const proxyUrl = `http://127.0.0.1:${port}`;
      await waitUp(proxyUrl, child, () => log);
      await assertBlocked(proxyUrl);
    },
  );

  test(
    '--expose-repository-api is refused for a replica that takes the API without a token',
    { timeout: 60_000 },
    async () => {
      const { host, port } = addressOf(url);
      const r = await runCli(
        ['deploy', 'nginx', '--replicas', `${host}:${port}`, '--expose-repository-api'],
        { timeoutMs: 30_000 },
      );
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        /--expose-repository-api: 127\.0\.0\.1:\d+ answers the repository API without a token/,
      );
      assert.equal(r.stdout, '');
    },
  );

  test(
    '--expose-repository-api is accepted for replicas that require --admin-token',
    { timeout: 60_000 },
    async () => {
      const tmp = await tempDir('mlscale-hostile-balancer-token-');
      await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(41));
      const guarded = await startServer({
        modelRepository: join(tmp.dir, 'repo'),
        adminToken: 'correct-horse-battery',
        modelOverrides: { instances: 1 },
      });
      try {
        const { host, port } = addressOf(guarded.url);
        const r = await runCli(
          ['deploy', 'haproxy', '--replicas', `${host}:${port}`, '--expose-repository-api'],
          { timeoutMs: 30_000 },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /is not exposed/);
        assert.match(
          r.stderr,
          /is forwarded to the replicas \(--expose-repository-api\), which all require --admin-token/,
        );
      } finally {
        await guarded.server.close();
        await tmp.cleanup();
      }
    },
  );
});
