/**
 * The dashboard's sampler: rates from counters, quantiles from histogram buckets, batch sizes, and
 * counters that drop (a replica gone) read as no activity rather than negative rates.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsSampler, quantile } from '../../src/dashboard/sampler.js';
import { DecisionLog } from '../../src/dashboard/decision-log.js';
import { ServerMetrics } from '../../src/serve/metrics.js';
import type { AutoscalerDecision } from '../../src/serve/autoscaler.js';

describe('quantile', () => {
  test('should interpolate within the bucket that holds the rank', () => {
    // 10 below 0.01, 10 more below 0.02: the median is the 10th, at the top of the first bucket.
    assert.equal(
      quantile(
        [
          [0.01, 10],
          [0.02, 20],
          [Infinity, 20],
        ],
        0.5,
      ),
      0.01,
    );
    assert.ok(
      Math.abs(
        quantile(
          [
            [0.01, 10],
            [0.02, 20],
            [Infinity, 20],
          ],
          0.75,
        )! - 0.015,
      ) < 1e-12,
    );
  });

  test('should answer null for an empty histogram and the highest bound for the +Inf bucket', () => {
    assert.equal(
      quantile(
        [
          [0.01, 0],
          [Infinity, 0],
        ],
        0.5,
      ),
      null,
    );
    assert.equal(
      quantile(
        [
          [0.01, 1],
          [Infinity, 10],
        ],
        0.99,
      ),
      0.01,
    );
  });
});

describe('MetricsSampler', () => {
  test('should turn the server metrics into per-second rates, latency quantiles and batch sizes', async () => {
    const metrics = new ServerMetrics({ defaultMetrics: false });
    const labels = { model: 'm', version: '1' };
    const sampler = new MetricsSampler({
      collect: () => metrics.registry.getMetricsAsJSON(),
      batchWindow: 10,
    });
    await sampler.sampleNow();
    assert.equal(sampler.snapshot().samples.length, 0, 'the first reading only sets the baseline');
    for (let i = 0; i < 30; i++) {
      metrics.requests.inc({ ...labels, outcome: 'success' });
      metrics.requestDuration.observe(labels, 0.004);
    }
    metrics.requests.inc({ ...labels, outcome: 'shed' }, 5);
    metrics.requests.inc({ ...labels, outcome: 'error' }, 2);
    metrics.batchSize.observe(labels, 3);
    metrics.batchSize.observe(labels, 5);
    metrics.queueDepth.set(labels, 7);
    metrics.instances.set(labels, 2);
    await sampler.sampleNow();
    const { samples, batchSizes, mode } = sampler.snapshot();
    assert.equal(mode, 'single');
    assert.equal(samples.length, 1);
    const s = samples[0]!;
    assert.ok(s.rps > 0 && s.shed > 0 && s.errors > 0, JSON.stringify(s));
    // Requests over shed over errors: 37 : 5 : 2, whatever the interval was.
    assert.ok(Math.abs(s.rps / s.shed - 37 / 5) < 1e-9);
    assert.ok(Math.abs(s.shed / s.errors - 5 / 2) < 1e-9);
    assert.ok(s.p50Ms! > 2.5 && s.p50Ms! <= 5, `p50 ${s.p50Ms} ms lies in the 2.5-5 ms bucket`);
    assert.equal(s.queueDepth, 7);
    assert.equal(s.instances, 2);
    assert.equal(s.meanBatch, 4);
    assert.equal(s.replicas, null);
    assert.deepEqual(
      batchSizes.filter((b) => b.count > 0),
      [
        { le: '4', count: 1 },
        { le: '8', count: 1 },
      ],
    );
  });

  test('should read a counter that went down as no activity, not a negative rate', async () => {
    const metrics = new ServerMetrics({ defaultMetrics: false });
    const labels = { model: 'm', version: '1' };
    metrics.requests.inc({ ...labels, outcome: 'success' }, 100);
    const sampler = new MetricsSampler({
      collect: () => metrics.registry.getMetricsAsJSON(),
      replicas: () => 3,
    });
    await sampler.sampleNow();
    metrics.requests.reset();
    await sampler.sampleNow();
    const [s] = sampler.snapshot().samples;
    assert.equal(s!.rps, 0);
    assert.equal(s!.replicas, 3);
    assert.equal(sampler.snapshot().mode, 'replicas');
  });

  test('should keep at most its capacity and answer only the samples after `since`', async () => {
    let n = 0;
    const metrics = new ServerMetrics({ defaultMetrics: false });
    const sampler = new MetricsSampler({
      collect: () => metrics.registry.getMetricsAsJSON(),
      capacity: 3,
    });
    for (let i = 0; i < 6; i++) {
      metrics.requests.inc({ model: 'm', version: '1', outcome: 'success' }, ++n);
      await sampler.sampleNow();
      await new Promise((r) => setTimeout(r, 2));
    }
    const all = sampler.snapshot().samples;
    assert.equal(all.length, 3);
    assert.deepEqual(sampler.snapshot(all[1]!.t).samples, [all[2]]);
  });

  test('should skip a reading that fails and keep sampling', async () => {
    let fail = false;
    const metrics = new ServerMetrics({ defaultMetrics: false });
    const sampler = new MetricsSampler({
      collect: () =>
        fail ? Promise.reject(new Error('replica gone')) : metrics.registry.getMetricsAsJSON(),
    });
    await sampler.sampleNow();
    fail = true;
    await sampler.sampleNow();
    fail = false;
    await sampler.sampleNow();
    assert.equal(sampler.snapshot().samples.length, 1);
  });
});

describe('DecisionLog', () => {
  const decision = (
    action: AutoscalerDecision['action'],
    replicas: number,
  ): AutoscalerDecision => ({
    action,
    replicas,
    instancesPerReplica: 1,
    reason: `because ${action}`,
    signal: {
      timeMs: 0,
      smoothedOngoing: 9,
      ongoingPerReplica: 4.5,
      panicOngoing: 9,
      desiredReplicas: replicas,
      queueDepth: 3,
      queueGrowth: 1,
      cpuIdle: 0.25,
      samples: 5,
      heldForMs: 2000,
    },
    hostSaturated: false,
    hostReplicas: 4,
    demandReplicas: replicas,
  });

  test('should keep the decisions that changed something, from and to, newest last, up to its capacity', () => {
    const log = new DecisionLog(2);
    log.record(decision('scale-up', 2), { replicas: 1, instancesPerReplica: 1 }, 1);
    log.record(decision('hold', 2), { replicas: 2, instancesPerReplica: 1 }, 2);
    log.record(decision('scale-up', 3), { replicas: 2, instancesPerReplica: 1 }, 3);
    log.record(decision('scale-down', 2), { replicas: 3, instancesPerReplica: 1 }, 4);
    const list = log.list();
    assert.deepEqual(
      list.map((d) => [d.t, d.action, d.from.replicas, d.to.replicas]),
      [
        [3, 'scale-up', 2, 3],
        [4, 'scale-down', 3, 2],
      ],
    );
    assert.match(list[0]!.signal, /ongoing 9\.0 \(4\.5 per replica\), queue 3, CPU idle 25%/);
    assert.equal(list[0]!.reason, 'because scale-up');
  });
});
