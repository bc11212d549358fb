/**
 * The simulated hosts of `npm run bench:hosts`, once, bounded: two network namespaces of 0.6 CPU
 * on a bridge of their own. A process inside one sees its quota (the cores the autoscaler plans
 * with) and reaches a service on the bridge; a serve replica in one answers through nginx on
 * this machine; afterwards nothing of them is left. Skips, saying why, without root or `ip netns`
 * (and the serve case without nginx).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createHosts, hostsSupport } from '../../bench/hosts-kit.js';
import { startServeHosts } from '../../bench/hosts-serve.js';
import { packageRoot } from '../../src/util/package-root.js';

const why = hostsSupport();
if (why) console.log(`# skipped: ${why}`);

describe('simulated hosts', { skip: why }, () => {
  test('a process in a host sees its CPU quota and reaches the bridge; teardown leaves nothing', async () => {
    const hosts = createHosts(2, 0.6, `t${process.pid % 1000}`, '10.200.9');
    const server = createServer((s) => s.end('hello'));
    try {
      await new Promise<void>((r) => server.listen(0, hosts.gateway, r));
      const port = (server.address() as { port: number }).port;
      const hostCores = join(packageRoot(), 'dist', 'src', 'util', 'host-cores.js');
      const script = `import(${JSON.stringify(hostCores)}).then(async (m) => {
        const net = await import('node:net');
        const s = net.connect(${port}, ${JSON.stringify(hosts.gateway)});
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('end', () => console.log(JSON.stringify({ ...m.hostCores(), got })));
      })`;
      const [cmd, args] = hosts.wrap(0, [process.execPath, '-e', script]);
      // spawnSync would block the server answering it: run it asynchronously.
      const out = await new Promise<string>((resolve, reject) => {
        import('node:child_process').then(({ execFile }) =>
          execFile(cmd, args, { timeout: 20_000 }, (err, stdout) =>
            err ? reject(err) : resolve(stdout),
          ),
        );
      });
      const seen = JSON.parse(out.trim()) as { cores: number; quota: number; got: string };
      assert.equal(seen.cores, 1);
      assert.equal(seen.quota, 0.6);
      assert.equal(seen.got, 'hello');
      assert.equal(hosts.hosts[1]!.address, '10.200.9.12');
    } finally {
      server.close();
      hosts.teardown();
    }
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    assert.doesNotMatch(left, new RegExp(`mlsh-t${process.pid % 1000}-`));
    assert.equal(existsSync(hosts.hosts[0]!.cgroup), false);
  });

  const nginx = spawnSync('nginx', ['-v']).error === undefined;
  test(
    'a serve replica in a host of 0.5 CPU answers through nginx; closing leaves nothing',
    { skip: nginx ? false : 'nginx is not installed', timeout: 90_000 },
    async () => {
      const id = `s${process.pid % 1000}`;
      const running = await startServeHosts({
        count: 1,
        hostCpus: 0.5,
        periodUs: 10_000,
        rows: 2,
        id,
        subnet: '10.200.8',
      });
      const cgroup = running.hosts.hosts[0]!.cgroup;
      try {
        const { readFile } = await import('node:fs/promises');
        const res = await fetch(`${running.balancers[0]}${running.inferPath}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: await readFile(running.body, 'utf8'),
        });
        assert.equal(res.status, 200, await res.clone().text());
        const out = (await res.json()) as { outputs: { shape: number[] }[] };
        assert.equal(out.outputs[0]!.shape[0], 2);
      } finally {
        await running.close();
      }
      const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
      assert.doesNotMatch(left, new RegExp(`mlsh-${id}-`));
      assert.equal(existsSync(cgroup), false);
    },
  );
});
