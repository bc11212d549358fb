/**
 * The autoscaling policy on synthetic traces, one sample a second, no timers: ramp up, spike, ramp
 * down, a flapping signal, the vertical axis, bounds and bad settings.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  autoscale,
  initialAutoscalerState,
  resolveAutoscalerConfig,
  type AutoscalerConfig,
  type AutoscalerDecision,
  type AutoscalerState,
  type Signals,
} from '../../../src/serve/autoscaler.js';
import { InvalidOptionError } from '../../../src/errors.js';

const config = resolveAutoscalerConfig({
  minReplicas: 1,
  maxReplicas: 6,
  targetOngoingRequests: 8,
  upscaleDelayMs: 3_000,
  downscaleDelayMs: 20_000,
  smoothingWindowMs: 6_000,
  panicWindowMs: 2_000,
  panicThreshold: 2,
  minInstancesPerReplica: 1,
  maxInstancesPerReplica: 3,
  cpuIdleThreshold: 0.5,
  cores: 64, // not the bound in these traces, whatever machine runs them
  threadsPerInstance: 1,
});

/** Runs a trace through the policy; returns every decision, in order. */
function run(
  trace: readonly Signals[],
  c: AutoscalerConfig = config,
  start?: AutoscalerState,
): { decisions: AutoscalerDecision[]; state: AutoscalerState } {
  let state = start ?? initialAutoscalerState(c);
  const decisions: AutoscalerDecision[] = [];
  for (const s of trace) {
    const r = autoscale(c, state, s);
    state = r.state;
    decisions.push(r.decision);
  }
  return { decisions, state };
}

/** A trace of `seconds` samples, one a second from `fromS`, with ongoing requests `ongoing(t)`; CPU busy, queues steady. */
function trace(
  seconds: number,
  ongoing: (t: number) => number,
  fromS = 0,
  extra: (t: number) => Partial<Signals> = () => ({}),
): Signals[] {
  return Array.from({ length: seconds }, (_, i) => {
    const t = fromS + i;
    return {
      timeMs: t * 1000,
      ongoingRequests: ongoing(t),
      queueDepth: 0,
      cpuIdle: 0.1,
      ...extra(t),
    };
  });
}

const changes = (decisions: AutoscalerDecision[]): AutoscalerDecision[] =>
  decisions.filter((d) => d.action !== 'hold');
const replicasOver = (decisions: AutoscalerDecision[]): number[] =>
  decisions.map((d) => d.replicas);

describe('autoscaler policy', () => {
  test('ramp up: replicas follow the load up to its target, each step after the upscale delay, never above max', () => {
    // Load rises by 1 ongoing request a second, from 0 to 80 (10 replicas' worth; max is 6).
    const { decisions } = run(trace(100, (t) => Math.min(80, t)));
    const ups = changes(decisions);
    assert.ok(ups.length >= 3, `few steps: ${JSON.stringify(ups.map((d) => d.replicas))}`);
    for (const d of ups) {
      assert.equal(d.action, 'scale-up', d.reason);
      assert.ok(
        d.signal.heldForMs >= config.upscaleDelayMs,
        `scaled after ${d.signal.heldForMs} ms`,
      );
      assert.ok(d.signal.desiredReplicas >= d.replicas);
      assert.match(d.reason, /above the target of 8/);
    }
    const r = replicasOver(decisions);
    for (let i = 1; i < r.length; i++) assert.ok(r[i]! >= r[i - 1]!, 'a ramp up never scales down');
    assert.equal(Math.max(...r), 6, 'reaches max');
    assert.ok(r.every((n) => n <= 6));
    // Never more replicas than the smoothed load asks for at that moment.
    for (const d of ups) assert.ok(d.replicas <= Math.ceil(d.signal.smoothedOngoing / 8));
  });

  test('spike: a sudden 5x load scales up at once (no upscale delay) and blocks scale-down for a window', () => {
    const steady = trace(20, () => 6); // one replica is enough
    const spike = trace(4, () => 40, 20); // 5 replicas' worth
    const after = trace(10, () => 2, 24); // load gone again
    const { decisions } = run([...steady, ...spike, ...after]);
    assert.ok(decisions.slice(0, 20).every((d) => d.action === 'hold' && d.replicas === 1));
    const first = decisions.slice(20).find((d) => d.action !== 'hold');
    assert.ok(first, 'no reaction to the spike');
    assert.equal(first.action, 'spike-scale-up');
    assert.ok(
      first.signal.timeMs <= 21_000,
      `reacted at ${first.signal.timeMs} ms, more than a second late`,
    );
    assert.ok(first.replicas >= 2 && first.replicas <= 5, String(first.replicas));
    assert.match(first.reason, /^spike: /);
    // Within one smoothing window after the spike, no scale-down.
    const down = decisions.find((d) => d.action === 'scale-down');
    assert.equal(down, undefined, 'scaled down during the panic window');
  });

  test('ramp down: replicas come down only after the downscale delay, to what the load needs, never below min', () => {
    const start: AutoscalerState = { ...initialAutoscalerState(config), replicas: 6 };
    // 48 ongoing (6 replicas' worth) for 10 s, then falling 2 a second to 0, then 0 for a minute.
    const { decisions } = run(
      trace(100, (t) => Math.max(0, 48 - Math.max(0, t - 10) * 2)),
      config,
      start,
    );
    const downs = changes(decisions);
    assert.ok(downs.length >= 1);
    for (const d of downs) {
      assert.equal(d.action, 'scale-down', d.reason);
      assert.ok(d.signal.heldForMs >= config.downscaleDelayMs);
    }
    const r = replicasOver(decisions);
    for (let i = 1; i < r.length; i++) assert.ok(r[i]! <= r[i - 1]!, 'a ramp down never scales up');
    assert.equal(r.at(-1), 1, 'ends at min');
    // Nothing came down before the delay had passed since the load first fell below 6 replicas' worth.
    assert.ok(downs[0]!.signal.timeMs >= 10_000 + config.downscaleDelayMs);
  });

  test('flapping: a signal that crosses the target every few seconds never scales (no thrashing)', () => {
    const start: AutoscalerState = { ...initialAutoscalerState(config), replicas: 2 };
    // 2 replicas at 8 = 16; the load swings between 10 and 22 with a 4 s period, and a spike-free
    // amplitude. The smoothed load stays near 16.
    const { decisions } = run(
      trace(200, (t) => (Math.floor(t / 2) % 2 === 0 ? 10 : 22)),
      config,
      start,
    );
    assert.deepEqual(changes(decisions), [], JSON.stringify(changes(decisions).slice(0, 3)));
    assert.ok(decisions.every((d) => d.replicas === 2));
  });

  test('flapping above and below for less than the delays: holds, and the pending clock restarts on each crossing', () => {
    const start: AutoscalerState = { ...initialAutoscalerState(config), replicas: 2 };
    // Above for 2 s, below for 2 s, with no smoothing (a window of one sample), delays of 3 s.
    const c = resolveAutoscalerConfig({ ...config, smoothingWindowMs: 1, panicWindowMs: 1 });
    const { decisions } = run(
      trace(60, (t) => (Math.floor(t / 2) % 2 === 0 ? 4 : 30)),
      c,
      start,
    );
    assert.deepEqual(changes(decisions), []);
    assert.ok(decisions.every((d) => d.signal.heldForMs < 3_000));
  });

  test('vertical: CPU idle while queues grow adds an instance per replica, not a replica; empty queues take it back', () => {
    // 10 ongoing on one replica (a bit above the target of 8), the queue growing, CPU 80% idle.
    const growing = trace(
      8,
      () => 10,
      0,
      (t) => ({ queueDepth: 2 + t, cpuIdle: 0.8 }),
    );
    const quiet = trace(
      30,
      () => 1,
      8,
      () => ({ queueDepth: 0, cpuIdle: 0.95 }),
    );
    const { decisions } = run([...growing, ...quiet]);
    const add = decisions.find((d) => d.action === 'add-instance');
    assert.ok(add, JSON.stringify(decisions.map((d) => d.reason)));
    assert.equal(add.instancesPerReplica, 2);
    assert.equal(add.replicas, 1, 'no replica added while CPU idles');
    assert.match(
      add.reason,
      /CPU 80% idle while queues held \d+ requests \(\+\d+ over the window\)/,
    );
    assert.ok(add.signal.queueGrowth > 0 && add.signal.cpuIdle >= 0.5);
    const remove = decisions.find((d) => d.action === 'remove-instance');
    assert.ok(remove, 'the instance was never removed');
    const most = Math.max(...decisions.map((d) => d.instancesPerReplica));
    assert.ok(most >= 2 && most <= config.maxInstancesPerReplica);
    assert.equal(remove.instancesPerReplica, most - 1, 'one instance at a time');
    assert.ok(decisions.every((d) => d.action !== 'scale-up' && d.action !== 'spike-scale-up'));
  });

  test('vertical: a steady queue with idle CPU counts; a draining queue does not', () => {
    const steady = run(
      trace(
        6,
        () => 6,
        0,
        () => ({ queueDepth: 4, cpuIdle: 0.7 }),
      ),
    );
    assert.ok(
      steady.decisions.some((d) => d.action === 'add-instance'),
      JSON.stringify(steady.decisions.map((d) => d.reason)),
    );
    const draining = run(
      trace(
        6,
        () => 6,
        0,
        (t) => ({ queueDepth: 12 - 2 * t, cpuIdle: 0.7 }),
      ),
    );
    assert.ok(
      draining.decisions.every((d) => d.action !== 'add-instance'),
      JSON.stringify(draining.decisions.map((d) => d.reason)),
    );
  });

  test('a busy CPU with a growing queue scales replicas, not instances', () => {
    const { decisions } = run(
      trace(
        10,
        () => 20,
        0,
        (t) => ({ queueDepth: 5 + t, cpuIdle: 0.05 }),
      ),
    );
    assert.ok(decisions.every((d) => d.action !== 'add-instance'));
    assert.ok(decisions.some((d) => d.action === 'scale-up' || d.action === 'spike-scale-up'));
  });

  test('vertical within the cores: instances x threads x replicas never pass them, however long CPU idles with a queue', () => {
    // 4 cores, 2 replicas, threads fixed at 1: 2 instances per replica at most, though max is 3.
    const c = resolveAutoscalerConfig({ ...config, cores: 4, threadsPerInstance: 1 });
    const start: AutoscalerState = { ...initialAutoscalerState(c), replicas: 2 };
    const { decisions } = run(
      trace(
        30,
        () => 12,
        0,
        () => ({ queueDepth: 6, cpuIdle: 0.8 }),
      ),
      c,
      start,
    );
    const adds = decisions.filter((d) => d.action === 'add-instance');
    assert.equal(adds.length, 1, JSON.stringify(adds.map((d) => d.reason)));
    assert.equal(adds[0]!.instancesPerReplica, 2);
    assert.ok(
      decisions.every((d) => d.replicas * d.instancesPerReplica * c.threadsPerInstance <= c.cores),
      JSON.stringify(decisions.map((d) => [d.replicas, d.instancesPerReplica])),
    );
    // With 2 threads fixed per instance, 2 replicas on 4 cores leave room for no second instance.
    const two = resolveAutoscalerConfig({ ...config, cores: 4, threadsPerInstance: 2 });
    const none = run(
      trace(
        30,
        () => 12,
        0,
        () => ({ queueDepth: 6, cpuIdle: 0.8 }),
      ),
      two,
      { ...initialAutoscalerState(two), replicas: 2 },
    );
    assert.ok(none.decisions.every((d) => d.action !== 'add-instance'));
  });

  test('a scale-up that would pass the cores brings instances per replica down with it, and says so', () => {
    const c = resolveAutoscalerConfig({ ...config, cores: 4 });
    // 1 replica with 3 instances (all 4 cores allow); the load asks for 3 replicas, CPU busy.
    const start: AutoscalerState = {
      ...initialAutoscalerState(c),
      replicas: 1,
      instancesPerReplica: 3,
    };
    const { decisions } = run(
      trace(
        12,
        () => 20,
        0,
        () => ({ queueDepth: 10, cpuIdle: 0.05 }),
      ),
      c,
      start,
    );
    const up = decisions.find((d) => d.action === 'scale-up' || d.action === 'spike-scale-up');
    assert.ok(up, JSON.stringify(decisions.map((d) => d.reason)));
    assert.equal(up.replicas, 3);
    assert.equal(up.instancesPerReplica, 1, 'floor(4 cores / 3 replicas) = 1 instance each');
    assert.match(
      up.reason,
      /; 1 instance\(s\) per replica \(was 3\), so that 3 replicas stay within 4 cores$/,
    );
    assert.ok(
      decisions.every((d) => d.replicas * d.instancesPerReplica <= 4 || d.action === 'hold'),
    );
    // The initial state is clamped the same way.
    assert.equal(initialAutoscalerState(c, 2, 3).instancesPerReplica, 2);
  });

  test('pure: the same state and signal give the same decision, and the state is not changed', () => {
    const state = initialAutoscalerState(config);
    const frozen = JSON.stringify(state);
    const s: Signals = { timeMs: 1000, ongoingRequests: 50, queueDepth: 3, cpuIdle: 0.2 };
    assert.deepEqual(autoscale(config, state, s), autoscale(config, state, s));
    assert.equal(JSON.stringify(state), frozen);
  });

  test('bad settings are named: min above max, zero or non-numeric counts', () => {
    assert.throws(
      () => resolveAutoscalerConfig({ minReplicas: 5, maxReplicas: 2 }),
      (e: Error) =>
        e instanceof InvalidOptionError &&
        /options\.minReplicas \(5\) must not be above options\.maxReplicas \(2\)/.test(e.message),
    );
    assert.throws(
      () => resolveAutoscalerConfig({ minReplicas: 0 }),
      /options\.minReplicas must be an integer from 1 to 256, got 0/,
    );
    assert.throws(
      () => resolveAutoscalerConfig({ maxReplicas: 'many' as unknown as number }),
      /options\.maxReplicas must be an integer from 1 to 256, got "many"/,
    );
    assert.throws(
      () => resolveAutoscalerConfig({ targetOngoingRequests: -1 }),
      /options\.targetOngoingRequests must be a positive number, got -1/,
    );
    assert.throws(
      () => resolveAutoscalerConfig({ cores: 0 }),
      /options\.cores must be an integer from 1 to 65536, got 0/,
    );
  });
});
