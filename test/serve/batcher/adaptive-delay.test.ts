import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArrivalRate,
  decideWait,
  fitBatchCost,
  kAutoMaxDelayMs,
  type WaitState,
} from '../../../src/serve/adaptive-delay.js';

/** A busy moment: one request held, the last free instance, fixed cost 2 ms, a request every 0.5 ms. */
const busy: WaitState = {
  rows: 1,
  requests: 1,
  maxBatchSize: 64,
  heldMs: 0,
  spareInstances: 0,
  cost: { fixedMs: 2, perRowMs: 0.02, samples: 50 },
  arrivalIntervalMs: 0.5,
};

describe('decideWait', () => {
  test('should wait about one arrival when arrivals come faster than the fixed cost', () => {
    assert.equal(decideWait(busy), 0.5);
  });

  test('should run at once when requests arrive slower than the fixed cost', () => {
    assert.equal(decideWait({ ...busy, arrivalIntervalMs: 5 }), 0);
  });

  test('should stop holding once the requests in hand would together wait longer than the fixed cost', () => {
    assert.equal(decideWait({ ...busy, requests: 3, rows: 3 }), 0.5, '3 × 0.5 ms < 2 ms');
    assert.equal(decideWait({ ...busy, requests: 4, rows: 4 }), 0, '4 × 0.5 ms = 2 ms');
  });

  test('should run at once when the batch is full or the next request would not fit', () => {
    assert.equal(decideWait({ ...busy, rows: 64 }), 0);
    assert.equal(decideWait({ ...busy, rows: 60, meanRequestRows: 8 }), 0);
    assert.equal(decideWait({ ...busy, rows: 56, meanRequestRows: 8 }), 0.5);
  });

  test('should not hold while another instance is idle', () => {
    assert.equal(decideWait({ ...busy, spareInstances: 1 }), 0);
  });

  test('should run at once until the cost and the arrival rate are known', () => {
    const { cost: _cost, ...noCost } = busy;
    const { arrivalIntervalMs: _rate, ...noRate } = busy;
    assert.equal(decideWait(noCost), 0);
    assert.equal(decideWait(noRate), 0);
  });

  test('should bound the total hold by twice the fixed cost', () => {
    assert.equal(decideWait({ ...busy, heldMs: 3.8 }), 0.20000000000000018);
    assert.equal(decideWait({ ...busy, heldMs: 4 }), 0);
  });

  test('should bound the total hold by the absolute cap for a large fixed cost', () => {
    const big = {
      ...busy,
      cost: { fixedMs: 40, perRowMs: 0.1, samples: 50 },
      arrivalIntervalMs: 6,
    };
    assert.equal(decideWait(big), 6);
    assert.equal(decideWait({ ...big, heldMs: kAutoMaxDelayMs - 1 }), 1);
    assert.equal(decideWait({ ...big, heldMs: kAutoMaxDelayMs }), 0);
    assert.equal(decideWait({ ...big, maxDelayMs: 3 }), 3);
  });
});

describe('fitBatchCost', () => {
  test('should recover the line of exact samples', () => {
    const samples = [1, 2, 4, 8, 16, 32].map((rows) => ({ rows, computeMs: 1.5 + 0.25 * rows }));
    const fit = fitBatchCost(samples)!;
    assert.ok(Math.abs(fit.fixedMs - 1.5) < 1e-9);
    assert.ok(Math.abs(fit.perRowMs - 0.25) < 1e-9);
    assert.equal(fit.samples, 6);
  });

  test('should need a few samples', () => {
    assert.equal(
      fitBatchCost([
        { rows: 1, computeMs: 1 },
        { rows: 2, computeMs: 2 },
      ]),
      undefined,
    );
  });

  test('should take everything as fixed cost when all batches had the same size', () => {
    assert.deepEqual(fitBatchCost([1, 1, 1].map((rows, i) => ({ rows, computeMs: 2 + i }))), {
      fixedMs: 3,
      perRowMs: 0,
      samples: 3,
    });
  });

  test('should clamp a negative slope or intercept to zero', () => {
    const falling = fitBatchCost([
      { rows: 1, computeMs: 3 },
      { rows: 2, computeMs: 2 },
      { rows: 3, computeMs: 1 },
    ])!;
    assert.deepEqual(falling, { fixedMs: 2, perRowMs: 0, samples: 3 });
    const steep = fitBatchCost([
      { rows: 10, computeMs: 0.5 },
      { rows: 20, computeMs: 2 },
      { rows: 30, computeMs: 3.5 },
    ])!;
    assert.equal(steep.fixedMs, 0);
    assert.ok(steep.perRowMs > 0);
  });
});

describe('ArrivalRate', () => {
  test('should measure the mean interval between requests and let it grow during a lull', () => {
    const rate = new ArrivalRate(4);
    assert.equal(rate.intervalMs(0), undefined);
    rate.record(0, 1);
    rate.record(2, 3);
    assert.equal(rate.intervalMs(2), 2);
    assert.equal(rate.meanRows(), 2);
    for (const t of [4, 6, 8]) rate.record(t, 1);
    assert.equal(rate.intervalMs(8), 2, 'only the last four arrivals count');
    assert.equal(rate.intervalMs(14), 4, 'silence since the last arrival raises the interval');
  });
});

describe('decideWait: the time already held', () => {
  test('should keep holding once started when the hold pays: the time held counts with the fixed cost', () => {
    // Started with 1 request, 1 × 0.5 < 2: after 2.5 ms, 6 requests are in; 6 × 0.5 = 3 < 2 + 2.5.
    assert.equal(decideWait({ ...busy, requests: 6, rows: 6, heldMs: 2.5 }), 0.5);
    // The same batch met fresh (nothing held) is not worth holding: 3 ≥ 2.
    assert.equal(decideWait({ ...busy, requests: 6, rows: 6, heldMs: 0 }), 0);
  });

  test('should decide once for the whole hold when arrivals keep their pace', () => {
    // n₀ = 3 requests, g = 0.5, a = 2: λ·a = 4 > 3, so it holds, and at every later arrival too, until the budget ends.
    const waits: number[] = [];
    for (let k = 0; k < 8; k++)
      waits.push(decideWait({ ...busy, requests: 3 + k, rows: 3 + k, heldMs: 0.5 * k }));
    assert.deepEqual(waits, [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    assert.equal(
      decideWait({ ...busy, requests: 11, rows: 11, heldMs: 4 }),
      0,
      'the budget of twice the fixed cost ends it',
    );
    // n₀ = 4: λ·a = 4 is not more than 4, so it never starts.
    assert.equal(decideWait({ ...busy, requests: 4, rows: 4 }), 0);
  });

  test('should stop holding at a lull of more than a few mean intervals', () => {
    assert.equal(
      decideWait({ ...busy, requests: 2, rows: 2, heldMs: 2.5, sinceLastArrivalMs: 1 }),
      0.5,
    );
    assert.equal(
      decideWait({ ...busy, requests: 2, rows: 2, heldMs: 2.5, sinceLastArrivalMs: 2.01 }),
      0,
    );
  });

  test("should raise an instance's throughput over the rule that forgets the time held, in a simulated steady stream", () => {
    // One instance, a = 2 ms, b = 0.05 ms/row, a request every 0.25 ms, batches of at most 64:
    // throughput = rows / (hold + compute), from the moment the instance frees with n₀ queued.
    const cost = { fixedMs: 2, perRowMs: 0.05, samples: 50 };
    const g = 0.25;
    const cycle = (forget: boolean, n0: number): number => {
      let held = 0;
      let n = n0;
      for (;;) {
        const wait = decideWait({
          ...busy,
          cost,
          arrivalIntervalMs: g,
          requests: n,
          rows: n,
          heldMs: forget ? 0 : held,
        });
        if (wait === 0 || held + wait > 2 * cost.fixedMs) break;
        held += wait;
        n += 1;
      }
      return n / (held + cost.fixedMs + cost.perRowMs * n);
    };
    const withHeld = cycle(false, 2);
    const forgetful = cycle(true, 2);
    assert.ok(withHeld > forgetful, `${withHeld} rows/ms against ${forgetful}`);
  });
});

describe('ArrivalRate: the last arrival', () => {
  test('should report the time since the last request', () => {
    const rate = new ArrivalRate(4);
    assert.equal(rate.sinceLastMs(5), undefined);
    for (const t of [0, 1, 2, 3, 4, 5]) rate.record(t, 1);
    assert.equal(rate.sinceLastMs(7.5), 2.5);
  });
});
