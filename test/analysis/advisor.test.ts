import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { advise } from '../../src/analysis/advisor.js';
import { parsePrices } from '../../src/analysis/prices.js';
import { readSweepFile } from '../../src/analysis/sweep-file.js';
import type {
  LoadPoint,
  PipelineSweep,
  ServeConfigResult,
  ServeSweep,
} from '../../src/analysis/sweep-schema.js';
import { InvalidOptionError } from '../../src/errors.js';
import { packageRoot } from '../../src/util/package-root.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'sweeps');

function point(offeredRate: number, p99: number): LoadPoint {
  return {
    offeredRate,
    achievedRate: offeredRate,
    requests: offeredRate * 10,
    errors: 0,
    errorsByKind: {},
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, p999: p99, max: p99, mean: p99 / 3 },
    meetsSlo: p99 <= 50,
    generatorBound: false,
  };
}

/** A serve configuration result that met the SLO up to `rate`. */
function config(
  replicas: number,
  maxBatchSize: number,
  rate: number,
  cpu: number | null,
  meanBatch: number | null,
): ServeConfigResult {
  return {
    config: { replicas, instances: 1, intraOpThreads: 1, maxBatchSize, maxQueueDelayMs: 'auto' },
    maxRateAtSlo: rate,
    p99AtMaxMs: 40,
    points: [point(rate / 2, 10), point(rate, 40), point(rate * 1.2, 900)],
    meanBatchSize: meanBatch,
    cpuUtilisation: cpu,
  };
}

function serveSweep(cpus: number, configs: ServeConfigResult[]): ServeSweep {
  return {
    kind: 'serve',
    schemaVersion: 1,
    createdAt: '2026-11-27T00:00:00Z',
    machine: { cpus, cpuModel: 'test', memoryGiB: 8, node: 'v20', platform: 'linux x64' },
    model: 'm',
    modelRepository: 'r',
    rowsPerRequest: 4,
    sloP99Ms: 50,
    pointDurationS: 5,
    configs,
  };
}

describe('advise', () => {
  let serve: ServeSweep;
  let pipeline: PipelineSweep;
  before(async () => {
    serve = (await readSweepFile(join(fixtures, 'serve-2cpu'))) as ServeSweep;
    pipeline = (await readSweepFile(join(fixtures, 'pipeline-2cpu'))) as PipelineSweep;
  });

  test('should say horizontal for replicas that stop scaling at the core count, citing the numbers', () => {
    const advice = advise([serve]);
    const r = advice.recommendations[0]!;
    assert.equal(r.scope, 'serve');
    assert.equal(r.lever, 'horizontal');
    assert.match(r.text, /peaks at 2 replicas: 11,000 req\/s — the machine's 2 cores/);
    assert.match(r.text, /3 replicas give 10,750 \(0\.98x\), 4 replicas give 9,750 \(0\.89x\)/);
    assert.match(r.text, /CPU 95% busy/);
    assert.match(r.text, /Extra processes on this machine only add overhead/);
    const text = advice.lines.join('\n');
    assert.match(text, /Batching is used up: the last step \(≤ 32 → ≤ 64\) gave 1\.02x/);
    assert.match(
      text,
      /USL fit over 4 replicas levels: .* peak at N\* = sqrt\(\(1 − σ\)\/κ\) = 2\.\d+ replicas/,
    );
    assert.match(text, /Costs: give prices per machine size/);
  });

  test('should plan capacity for a target rate and price vertical against horizontal', () => {
    const advice = advise([serve], { prices: { '2cpu': 0.1, '8cpu': 0.38 }, targetRate: 50000 });
    const a = advice.analyses[0]!;
    assert.ok(a.kind === 'serve');
    assert.deepEqual(a.capacity, { targetRate: 50000, machines: 5, perMachine: 11250 });
    const h = advice.costs.find((c) => c.label === '2cpu')!;
    assert.equal(h.direction, 'horizontal');
    assert.equal(h.predicted, false);
    assert.equal(h.machines, 5);
    assert.ok(Math.abs(h.costPerMillion! - ((5 * 0.1) / (50000 * 3600)) * 1e6) < 1e-12);
    const v = advice.costs.find((c) => c.label === '8cpu')!;
    assert.equal(v.direction, 'vertical');
    assert.equal(v.predicted, true);
    assert.match(v.basis, /predicted by Amdahl/);
    assert.ok(v.throughput > 11250 && v.throughput < 11250 * 4, `8cpu predicted ${v.throughput}`);
    assert.match(
      advice.costStatements.join('\n'),
      /Horizontal \(5 × 2cpu\) \$0\.00278 against vertical \(\d+ × 8cpu, predicted\)/,
    );
  });

  test('should find time linear in data size and horizontal for workers on the pipeline fixture', () => {
    const advice = advise([pipeline], {
      prices: { '2cpu': 0.1 },
      targetRows: 100_000_000,
      targetSeconds: 120,
    });
    const a = advice.analyses[0]!;
    assert.ok(a.kind === 'pipeline');
    assert.equal(a.time.length, 3);
    assert.ok(a.time.every((t) => t.fit.linear && t.fit.r2 > 0.999));
    assert.equal(advice.recommendations[0]!.lever, 'horizontal');
    assert.match(advice.recommendations[0]!.text, /peaks at 2 workers: 312,437 rows\/s/);
    assert.equal(a.batchLever, false);
    assert.match(
      a.statements.join('\n'),
      /With 3 points and 3 parameters the fit is under-determined/,
    );
    // 100M rows = 50,000 batches of 2000 at 6.13 ms: 306 s of work beyond the 0.275 s start-up, so 3 machines for 120 s.
    assert.equal(a.capacity?.machines, 3);
    const c = advice.costs[0]!;
    assert.equal(c.machines, 3);
    assert.ok(c.runSeconds! <= 120);
    assert.ok(Math.abs(c.costPerRun! - (3 * 0.1 * c.runSeconds!) / 3600) < 1e-12);
  });

  test('should say vertical while replicas still scale and the CPU has room', () => {
    const sweep = serveSweep(8, [
      config(1, 32, 3000, 0.15, 6),
      config(2, 32, 5800, 0.3, 6),
      config(4, 32, 11000, 0.55, 6),
    ]);
    const r = advise([sweep]).recommendations[0]!;
    assert.equal(r.lever, 'vertical');
    assert.match(
      r.text,
      /still grows at the largest N measured \(4 replicas: 11,000 req\/s, 1\.90x the step before\)/,
    );
    assert.match(r.text, /CPU 55% busy; 4 of 8 cores used/);
  });

  test('should say a larger batch when batches fill and the last step still pays', () => {
    const sweep = serveSweep(2, [
      config(2, 4, 2000, 0.9, 4),
      config(2, 8, 3400, 0.9, 7.9),
      config(2, 16, 5000, 0.9, 15.5),
      config(1, 16, 2800, 0.5, 15),
      config(3, 16, 4900, 0.95, 12),
    ]);
    const advice = advise([sweep]);
    const r = advice.recommendations[0]!;
    assert.equal(r.lever, 'batch');
    assert.equal(r.then, 'horizontal');
    assert.match(
      r.text,
      /A larger batch is a lever: the last step \(≤ 8 → ≤ 16\) still gave 1\.47x and batches fill to 15\.5 of 16; try --max-batch-size 32/,
    );
  });

  test('should say a larger pipeline batch when per-batch overhead dominates', () => {
    const points = [10, 100, 1000].map((batches) => ({
      batches,
      workers: 1,
      batchSize: 100,
      rows: batches * 100,
      seconds: 0.05 + batches * (0.004 + 100 * 4e-6),
      stageSeconds: {},
    }));
    points.push({
      batches: 10,
      workers: 1,
      batchSize: 10000,
      rows: 100000,
      seconds: 0.05 + 10 * (0.004 + 10000 * 4e-6),
      stageSeconds: {},
    });
    const sweep: PipelineSweep = {
      kind: 'pipeline',
      schemaVersion: 1,
      createdAt: 'x',
      machine: serve.machine,
      data: 'synthetic',
      executor: 'inline',
      repeats: 1,
      points,
    };
    const advice = advise([sweep]);
    assert.equal(advice.recommendations[0]!.lever, 'batch');
    assert.match(
      advice.recommendations[0]!.text,
      /at 100 rows per batch 91% of the time is per-batch overhead; batches of 9,000 rows or more bring it under 10%/,
    );
  });

  test('should report a departure from linear time', () => {
    const points = [10, 100, 1000, 3000].map((batches) => ({
      batches,
      workers: 1,
      batchSize: 100,
      rows: batches * 100,
      seconds: 0.01 * batches + 2e-5 * batches * batches,
      stageSeconds: {},
    }));
    const sweep: PipelineSweep = {
      kind: 'pipeline',
      schemaVersion: 1,
      createdAt: 'x',
      machine: serve.machine,
      data: 'synthetic',
      executor: 'inline',
      repeats: 1,
      points,
    };
    assert.match(
      advise([sweep]).lines.join('\n'),
      /Time departs from a line with 1 worker, batch 100 rows .* the O\(n\) claim does not hold there/,
    );
  });

  test('should say there is nothing to plan from when no configuration met the SLO', () => {
    const failing = (replicas: number): ServeConfigResult => ({
      ...config(replicas, 8, 0, null, null),
      p99AtMaxMs: null,
      points: [point(100, 120), point(200, 400)],
    });
    const advice = advise([serveSweep(2, [failing(1), failing(2)])], {
      targetRate: 1000,
      prices: { '2cpu': 0.1 },
    });
    assert.equal(advice.recommendations[0]!.lever, 'none');
    assert.match(
      advice.lines.join('\n'),
      /No configuration met the SLO \(p99 ≤ 50 ms\) at any rate tried, so there is no capacity to plan from — at the lowest rates: 1 replica × 1 instance × 1 thread, batch ≤ 8, auto delay: p99 120 ms at 100 req\/s/,
    );
    assert.deepEqual(advice.costs, []);
  });

  test('should recommend nothing when most load points were generator-bound, and warn of an idle CPU', () => {
    const bound = (c: ServeConfigResult): ServeConfigResult => ({
      ...c,
      points: c.points.map((p, i) => (i > 0 ? { ...p, generatorBound: true } : p)),
    });
    const advice = advise([
      serveSweep(2, [bound(config(1, 32, 22, 0.05, 2)), bound(config(2, 32, 18, 0.06, 2))]),
    ]);
    assert.equal(advice.recommendations[0]!.lever, 'none');
    assert.match(
      advice.recommendations[0]!.text,
      /^Caution: 4 of the 6 load points were generator-bound .* re-run the sweep with the machine otherwise idle/,
    );
    assert.match(
      advice.lines.join('\n'),
      /Caution: the CPU was only 5\.0% busy at the peak, so the limit was not this machine's cores/,
    );
  });

  test('should refuse no sweeps, an empty grid, bad prices and half a pipeline target', () => {
    assert.throws(() => advise([]), RangeError);
    assert.throws(() => advise([{ ...serve, configs: [] }]), /sweeps\[0\]: \$\.configs is empty/);
    assert.throws(
      () => advise([serve], { prices: { big: 1 } }),
      /the label must be <N>cpu .*got "big"/,
    );
    assert.throws(
      () => advise([serve], { prices: { '2cpu': -1 } }),
      /options\.prices\["2cpu"\] must be a price per hour ≥ 0, got -1/,
    );
    assert.throws(
      () => advise([pipeline], { targetRows: 10 }),
      /targetRows and options\.targetSeconds go together/,
    );
    assert.throws(
      () => advise([serve], { targetRate: 0 }),
      /options\.targetRate must be a number > 0, got 0/,
    );
  });
});

describe('parsePrices', () => {
  test('should read sizes and prices per hour', () => {
    assert.deepEqual(parsePrices('2cpu=0.10/h,8cpu=0.38/h'), { '2cpu': 0.1, '8cpu': 0.38 });
    assert.deepEqual(parsePrices('4cpu=$0.2'), { '4cpu': 0.2 });
  });

  test('should name the item and what was expected', () => {
    const cases: [string, RegExp][] = [
      [
        '2cpu=0.10/h,8cpu=abc',
        /--price item 2 must give a price per hour ≥ 0 after "=" \(e\.g\. 8cpu=0\.38\/h\), got "8cpu=abc"/,
      ],
      ['big=1/h', /--price must start with a machine size <N>cpu \(e\.g\. 2cpu\), got "big"/],
      ['2cpu', /--price must be <N>cpu=<price per hour>, e\.g\. 8cpu=0\.38\/h, got "2cpu"/],
      ['2cpu=1,2cpu=2', /--price item 2 prices 2cpu a second time/],
    ];
    for (const [text, re] of cases)
      assert.throws(
        () => parsePrices(text),
        (err: unknown) => err instanceof InvalidOptionError && re.test(err.message),
        text,
      );
  });
});
