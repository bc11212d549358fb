import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { DeferredCounter, DeferredHistogram } from '../../../src/serve/deferred-series.js';
import { ServerMetrics } from '../../../src/serve/metrics.js';

const buckets = [0.001, 0.01, 0.1, 1];

describe('DeferredHistogram', () => {
  test('should give, once flushed, the same series as observing each value in prom-client', async () => {
    const registry = new Registry();
    const direct = new Histogram({
      name: 'direct',
      help: 'h',
      labelNames: ['model'],
      buckets,
      registers: [registry],
    });
    const deferredTarget = new Histogram({
      name: 'deferred',
      help: 'h',
      labelNames: ['model'],
      buckets,
      registers: [registry],
    });
    const deferred = new DeferredHistogram(deferredTarget, { model: 'm' });
    const values = [0.0005, 0.001, 0.002, 0.05, 0.5, 0.99, 3, 0.01, 0];
    for (const v of values) {
      direct.observe({ model: 'm' }, v);
      deferred.observe(v);
    }
    deferred.flush();
    deferred.flush(); // nothing buffered: no change
    deferred.observe(0.2);
    direct.observe({ model: 'm' }, 0.2);
    deferred.flush();
    const text = await registry.metrics();
    const lines = (name: string): string[] =>
      text
        .split('\n')
        .filter((l) => l.startsWith(name))
        .map((l) => l.slice(name.length));
    assert.deepEqual(lines('deferred'), lines('direct'));
    assert.ok(lines('deferred').includes('_count{model="m"} 10'));
  });

  test('should leave the series untouched until flushed', async () => {
    const registry = new Registry();
    const target = new Histogram({
      name: 'later',
      help: 'h',
      labelNames: ['model'],
      buckets,
      registers: [registry],
    });
    const deferred = new DeferredHistogram(target, { model: 'm' });
    deferred.observe(0.5);
    assert.doesNotMatch(await registry.metrics(), /later_count\{model="m"\}/);
    deferred.flush();
    assert.match(await registry.metrics(), /later_count\{model="m"\} 1/);
  });
});

describe('DeferredCounter', () => {
  test('should add its buffered increments in one step', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'c_total',
      help: 'h',
      labelNames: ['outcome'],
      registers: [registry],
    });
    const deferred = new DeferredCounter(counter, { outcome: 'success' });
    for (let i = 0; i < 5; i++) deferred.inc();
    deferred.flush();
    deferred.inc();
    deferred.flush();
    assert.match(await registry.metrics(), /c_total\{outcome="success"\} 6/);
  });
});

describe('ServerMetrics.onCollect', () => {
  test('should run registered flushes when the registry is read, until unregistered', async () => {
    const metrics = new ServerMetrics({ defaultMetrics: false });
    let pending = 3;
    const stop = metrics.onCollect(() => {
      if (pending > 0)
        metrics.requests.inc({ model: 'm', version: '1', outcome: 'success' }, pending);
      pending = 0;
    });
    assert.match(
      await metrics.registry.metrics(),
      /mlscale_inference_requests_total\{model="m",version="1",outcome="success"\} 3/,
    );
    const json = await metrics.registry.getMetricsAsJSON();
    assert.ok(json.some((m) => m.name === 'mlscale_inference_requests_total'));
    stop();
    pending = 4;
    assert.match(await metrics.registry.metrics(), /outcome="success"\} 3/);
  });
});
