/**
 * The autoscaler knows its host: replicas stop at the cores (or the measured scaling peak), and
 * past that the decision says "host saturated" instead of oversubscribing — on synthetic traces
 * shaped like issue 18's (heavy model, 64 connections, --max-replicas 3 on 2 cores).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  autoscale,
  hostReplicaLimit,
  initialAutoscalerState,
  resolveAutoscalerConfig,
  type AutoscalerConfig,
  type AutoscalerDecision,
  type Signals,
} from '../../../src/serve/autoscaler.js';
import { cgroupCpuQuota, hostCores } from '../../../src/util/host-cores.js';

const base = {
  minReplicas: 1,
  maxReplicas: 3,
  targetOngoingRequests: 8,
  upscaleDelayMs: 3_000,
  downscaleDelayMs: 20_000,
  smoothingWindowMs: 6_000,
  panicWindowMs: 2_000,
  panicThreshold: 2,
  minInstancesPerReplica: 1,
  maxInstancesPerReplica: 4,
  cpuIdleThreshold: 0.5,
  cores: 2,
  threadsPerInstance: 1,
};

function run(c: AutoscalerConfig, ongoing: (t: number) => number, seconds: number) {
  let state = initialAutoscalerState(c);
  const decisions: AutoscalerDecision[] = [];
  for (let t = 0; t < seconds; t++) {
    const s: Signals = {
      timeMs: t * 1000,
      ongoingRequests: ongoing(t),
      queueDepth: ongoing(t) > 0 ? 4 : 0,
      cpuIdle: 0.05,
    };
    const r = autoscale(c, state, s);
    state = r.state;
    decisions.push(r.decision);
  }
  return decisions;
}

describe('autoscaler and its host', () => {
  test('64 connections on 2 cores with --max-replicas 3: stops at 2 replicas and says the host is saturated', () => {
    const c = resolveAutoscalerConfig(base);
    assert.equal(hostReplicaLimit(c), 2);
    const decisions = run(c, (t) => (t < 5 ? 0 : 64), 40);
    assert.ok(decisions.every((d) => d.replicas * d.instancesPerReplica <= 2));
    assert.equal(Math.max(...decisions.map((d) => d.replicas)), 2);
    const saturated = decisions.filter((d) => d.action === 'host-saturated');
    assert.equal(saturated.length, 1, 'said once, when it begins');
    assert.match(
      saturated[0]!.reason,
      /^host saturated: the load asks for 8 replicas \(64 ongoing requests at 8 each\) but this host runs at most 2 \(2 cores ÷ \(1 thread\(s\) × 1 instance\(s\) per replica\)\); .* add machines$/,
    );
    assert.ok(decisions.at(-1)!.hostSaturated);
    assert.equal(decisions.at(-1)!.demandReplicas, 8);
    assert.equal(decisions.at(-1)!.hostReplicas, 2);
  });

  test('the host has room again once the load falls, and says so once', () => {
    const c = resolveAutoscalerConfig(base);
    const decisions = run(c, (t) => (t < 20 ? 64 : 4), 60);
    const flags = decisions.filter(
      (d) => d.action === 'host-saturated' || d.action === 'host-has-room',
    );
    assert.deepEqual(
      flags.map((d) => d.action),
      ['host-saturated', 'host-has-room'],
    );
    assert.equal(decisions.at(-1)!.hostSaturated, false);
  });

  test('a measured scaling peak below the cores is the bound', () => {
    const c = resolveAutoscalerConfig({ ...base, cores: 8, maxReplicas: 8, peakReplicas: 3 });
    assert.equal(hostReplicaLimit(c), 3);
    const decisions = run(c, () => 64, 40);
    assert.equal(Math.max(...decisions.map((d) => d.replicas)), 3);
    const first = decisions.find((d) => d.hostSaturated)!;
    assert.match(
      first.reason,
      /at most 3 \(the scaling peak a sweep measured on it, below 8 cores/,
    );
  });

  test('threads fixed per instance lower the bound: 4 cores, 2 threads each → 2 replicas', () => {
    const c = resolveAutoscalerConfig({ ...base, cores: 4, maxReplicas: 4, threadsPerInstance: 2 });
    assert.equal(hostReplicaLimit(c), 2);
    assert.equal(Math.max(...run(c, () => 64, 30).map((d) => d.replicas)), 2);
  });

  test("a --max-replicas below the host is the user's bound, not a saturated host", () => {
    const c = resolveAutoscalerConfig({ ...base, cores: 8, maxReplicas: 2 });
    const decisions = run(c, () => 64, 30);
    assert.equal(Math.max(...decisions.map((d) => d.replicas)), 2);
    assert.ok(decisions.every((d) => !d.hostSaturated));
  });

  test('--min-replicas above the host still forces its count (the user asked for it)', () => {
    const c = resolveAutoscalerConfig({ ...base, minReplicas: 3, maxReplicas: 3 });
    assert.equal(initialAutoscalerState(c).replicas, 3);
  });

  test('refuses a peak that is not a count', () => {
    assert.throws(
      () => resolveAutoscalerConfig({ ...base, peakReplicas: 0 }),
      /options\.peakReplicas must be an integer from 1 to 256, got 0/,
    );
  });
});

describe('host cores', () => {
  const tree = (files: Record<string, string>) => (path: string) => files[path];

  test('cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us of the process cgroup or a parent', () => {
    const read = tree({
      '/proc/self/cgroup': '4:memory:/x\n2:cpu,cpuacct:/hosts/h1\n0::/\n',
      '/sys/fs/cgroup/cpu,cpuacct/hosts/h1/cpu.cfs_quota_us': '60000\n',
      '/sys/fs/cgroup/cpu,cpuacct/hosts/h1/cpu.cfs_period_us': '100000\n',
      '/sys/fs/cgroup/cpu,cpuacct/hosts/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/hosts/cpu.cfs_period_us': '100000\n',
    });
    assert.deepEqual(cgroupCpuQuota(read), {
      cpus: 0.6,
      file: '/sys/fs/cgroup/cpu,cpuacct/hosts/h1/cpu.cfs_quota_us',
    });
    assert.deepEqual(hostCores(read, 2), {
      cores: 1,
      quota: 0.6,
      source: '/sys/fs/cgroup/cpu,cpuacct/hosts/h1/cpu.cfs_quota_us',
    });
  });

  test('cgroup v2: cpu.max, "max" meaning none; the smallest of the ancestry applies', () => {
    const read = tree({
      '/proc/self/cgroup': '0::/kubepods/pod1/c1\n',
      '/sys/fs/cgroup/kubepods/pod1/c1/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/kubepods/pod1/cpu.max': '300000 100000\n',
      '/sys/fs/cgroup/kubepods/cpu.max': '800000 100000\n',
    });
    assert.equal(hostCores(read, 64).cores, 3);
    assert.deepEqual(hostCores(tree({ '/proc/self/cgroup': '0::/\n' }), 2), {
      cores: 2,
      source: 'cpus',
    });
  });

  test('a quota above the CPUs does not raise them', () => {
    const read = tree({
      '/proc/self/cgroup': '1:cpu:/\n',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '800000',
      '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000',
    });
    assert.deepEqual(hostCores(read, 2), { cores: 2, source: 'cpus' });
  });
});
