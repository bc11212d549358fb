/**
 * `mlscale deploy`: what the generated configurations hold, and bad input (exit 2, naming the flag,
 * nothing written).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  haproxyConfig,
  kDefaultBalancerOptions,
  kDefaultKubernetesOptions,
  kubernetesManifests,
  nginxConfig,
} from '../../src/deploy/configs.js';
import { runCli, tempDir } from '../helpers.js';
import { freePort } from '../serve/serve-process.js';

const replicas = [
  { host: '10.0.0.1', port: 8000 },
  { host: 'fd00::2', port: 8001 },
];

describe('mlscale deploy', () => {
  test('nginx: least_conn, passive checks, retries of inference on error and timeout, timeouts, keepalive', () => {
    const conf = nginxConfig({ ...kDefaultBalancerOptions, replicas });
    assert.match(conf, /least_conn;/);
    assert.match(conf, /server 10\.0\.0\.1:8000 max_fails=1 fail_timeout=5s;/);
    assert.match(conf, /server \[fd00::2\]:8001 max_fails=1 fail_timeout=5s;/);
    assert.match(conf, /proxy_next_upstream error timeout http_502 http_503 non_idempotent;/);
    assert.match(conf, /proxy_next_upstream error timeout;/);
    assert.match(conf, /proxy_connect_timeout 1s;/);
    assert.match(conf, /proxy_read_timeout 60s;/);
    assert.match(conf, /keepalive 32;/);
    assert.match(conf, /proxy_set_header Connection "";/);
    assert.match(conf, /listen 8080;/);
  });

  test('haproxy: leastconn, active checks on /v2/health/ready, retries, timeouts', () => {
    const conf = haproxyConfig({ ...kDefaultBalancerOptions, replicas });
    assert.match(conf, /balance leastconn/);
    assert.match(conf, /option httpchk GET \/v2\/health\/ready/);
    assert.match(conf, /retry-on conn-failure/);
    assert.match(conf, /option redispatch/);
    assert.match(conf, /timeout connect 1000ms/);
    assert.match(conf, /server replica1 10\.0\.0\.1:8000 check/);
    assert.match(conf, /server replica2 \[fd00::2\]:8001 check/);
  });

  test('both: the repository API is blocked (403) unless exposed on purpose', () => {
    for (const make of [nginxConfig, haproxyConfig]) {
      const blocked = make({ ...kDefaultBalancerOptions, replicas });
      assert.match(blocked, /is not exposed through this load balancer/);
      assert.match(blocked, /403/);
      const exposed = make({ ...kDefaultBalancerOptions, replicas, exposeRepositoryApi: true });
      assert.doesNotMatch(exposed, /is not exposed through this load balancer/);
      assert.match(exposed, /replicas must require --admin-token/);
    }
  });

  test('haproxy -c accepts the configuration (when haproxy is installed)', async (t) => {
    const which = spawnSync(
      'sh',
      ['-c', 'command -v haproxy || { test -x /usr/sbin/haproxy && echo /usr/sbin/haproxy; }'],
      { encoding: 'utf8' },
    ).stdout.trim();
    if (which === '') return t.skip('haproxy is not installed');
    const tmp = await tempDir('mlscale-haproxy-');
    try {
      const file = join(tmp.dir, 'haproxy.cfg');
      for (const exposeRepositoryApi of [false, true]) {
        await writeFile(
          file,
          haproxyConfig({
            ...kDefaultBalancerOptions,
            replicas: [{ host: '127.0.0.1', port: 8000 }],
            exposeRepositoryApi,
          }),
        );
        const r = spawnSync(which, ['-c', '-f', file], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.doesNotMatch(r.stdout + r.stderr, /WARNING/);
      }
    } finally {
      await tmp.cleanup();
    }
  });

  test('k8s: probes on the health endpoints, preStop = unready delay, termination grace covers the drain, Service, PDB, HPA', () => {
    const yaml = kubernetesManifests({
      ...kDefaultKubernetesOptions,
      modelRepository: '/models',
      unreadyDelayMs: 5000,
      gracePeriodMs: 10_000,
    });
    // The repository's claim comes first (test/deploy/manifests.test.ts checks it).
    const docs = yaml.split(/^---$/m).slice(1);
    assert.equal(docs.length, 4);
    assert.match(docs[0]!, /kind: Deployment/);
    assert.match(docs[0]!, /readinessProbe:\n\s+httpGet:\n\s+path: \/v2\/health\/ready/);
    assert.match(docs[0]!, /livenessProbe:\n\s+httpGet:\n\s+path: \/v2\/health\/live/);
    assert.match(docs[0]!, /command: \["sleep", "5"\]/);
    assert.match(docs[0]!, /terminationGracePeriodSeconds: 20/);
    assert.match(docs[0]!, /- --grace-period-ms\n\s+- "10000"/);
    assert.match(docs[0]!, /- "\/models"/);
    // Two requested cores: one instance of two threads, whatever the node's core count.
    assert.match(docs[0]!, /- --instances\n\s+- "1"\n\s+- --intra-op-threads\n\s+- "2"/);
    assert.match(docs[1]!, /kind: Service/);
    assert.match(docs[2]!, /kind: PodDisruptionBudget/);
    assert.match(docs[3]!, /kind: HorizontalPodAutoscaler/);
    assert.match(docs[3]!, /minReplicas: 2\n\s+maxReplicas: 8/);
  });

  test('the command writes the configuration to stdout', async () => {
    const r = await runCli(
      ['deploy', 'k8s', '--model-repository', '/models', '--name', 'digits', '--max-replicas', '4'],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /name: "digits"/);
    assert.match(r.stdout, /maxReplicas: 4/);
    const n = await runCli(
      ['deploy', 'nginx', '--replicas', 'a.example:8000,b.example:8000', '--no-check'],
      { timeoutMs: 30_000 },
    );
    assert.equal(n.code, 0, n.stderr);
    assert.match(n.stdout, /server a\.example:8000 /);
    assert.match(
      n.stderr,
      /the model repository API \(\/v2\/repository\/\.\.\.: load, unload\) is blocked at the balancer \(403\)/,
    );
  });

  const bad: { name: string; args: () => Promise<string[]> | string[]; message: RegExp }[] = [
    {
      name: 'an unknown target',
      args: () => ['swarm'],
      message: /the target must be one of nginx, haproxy, k8s, kserve, got "swarm"/,
    },
    { name: 'no --replicas', args: () => ['nginx'], message: /needs --replicas HOST:PORT/ },
    {
      name: 'an address without a port',
      args: () => ['nginx', '--replicas', 'host1', '--no-check'],
      message: /--replicas must be HOST:PORT .* got "host1"/,
    },
    {
      name: 'port 0',
      args: () => ['haproxy', '--replicas', 'host1:0', '--no-check'],
      message: /--replicas: the port must be from 1 to 65535, got 0/,
    },
    {
      name: 'a repeated address',
      args: () => ['nginx', '--replicas', 'h:1,h:1', '--no-check'],
      message: /--replicas lists h:1 twice/,
    },
    {
      name: 'an unreachable replica',
      args: async () => ['nginx', '--replicas', `127.0.0.1:${await freePort()}`],
      message:
        /--replicas: 127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\); start the replicas first, or pass --no-check/,
    },
    {
      name: 'k8s without --model-repository',
      args: () => ['k8s'],
      message: /needs --model-repository/,
    },
    {
      name: 'k8s min above max',
      args: () => ['k8s', '--model-repository', '/m', '--min-replicas', '5', '--max-replicas', '2'],
      message: /--min-replicas \(5\) must not be above --max-replicas \(2\)/,
    },
    {
      name: 'k8s --replicas 0',
      args: () => ['k8s', '--model-repository', '/m', '--replicas', '0'],
      message: /--replicas must be an integer from 1 to 1000, got 0/,
    },
    {
      name: 'k8s --replicas -2',
      args: () => ['k8s', '--model-repository', '/m', '--replicas=-2'],
      message: /--replicas must be an integer from 1 to 1000, got -2/,
    },
    {
      name: 'k8s --replicas many',
      args: () => ['k8s', '--model-repository', '/m', '--replicas', 'many'],
      message: /--replicas must be an integer from 1 to 1000, got "many"/,
    },
    {
      name: 'a balancer flag on k8s',
      args: () => ['k8s', '--model-repository', '/m', '--tries', '2'],
      message: /--tries does not apply to 'mlscale deploy k8s'/,
    },
  ];
  for (const c of bad) {
    test(`${c.name}: exit 2 naming the flag, nothing written`, async () => {
      const r = await runCli(['deploy', ...(await c.args())], { timeoutMs: 30_000 });
      assert.equal(r.code, 2, `exit ${r.code}; stderr: ${r.stderr}`);
      assert.match(r.stderr, c.message);
      assert.match(r.stderr, /\[E_INVALID_OPTION\]/);
      assert.equal(r.stdout, '');
    });
  }
});
