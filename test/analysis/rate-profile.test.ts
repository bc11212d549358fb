import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import {
  describeProfile,
  parseProfile,
  RateSchedule,
  type RateStage,
} from '../../src/analysis/rate-profile.js';
import { runLoad, type LoadInterval } from '../../src/analysis/loadgen.js';
import { answer, startServer, type TestServer } from './load-servers.js';

/** Requests scheduled in each whole second of a schedule, from its request times. */
function perSecond(schedule: RateSchedule): number[] {
  const counts = new Array<number>(Math.ceil(schedule.durationMs / 1000)).fill(0);
  for (let i = 0; i < schedule.total; i++) counts[Math.floor(schedule.timeOf(i) / 1000)]!++;
  return counts;
}

describe('parseProfile', () => {
  const cases: [string, RateStage[]][] = [
    ['const:100:30s', [{ fromRate: 100, toRate: 100, durationMs: 30_000 }]],
    ['ramp:10..200:1m', [{ fromRate: 10, toRate: 200, durationMs: 60_000 }]],
    [
      'steps:50,100:10s',
      [
        { fromRate: 50, toRate: 50, durationMs: 10_000 },
        { fromRate: 100, toRate: 100, durationMs: 10_000 },
      ],
    ],
    [
      'spike:50..500:10s',
      [
        { fromRate: 50, toRate: 50, durationMs: 4000 },
        { fromRate: 500, toRate: 500, durationMs: 2000 },
        { fromRate: 50, toRate: 50, durationMs: 4000 },
      ],
    ],
  ];
  for (const [text, stages] of cases)
    test(`should read ${text}`, () => assert.deepEqual(parseProfile(text), stages));

  const bad: [string, RegExp][] = [
    [
      'ramp:10:30s',
      /--profile "ramp:10:30s": ramp takes FROM\.\.TO, got "10"; expected const:RATE/,
    ],
    ['ramp:10..200', /not SHAPE:RATES:DURATION/],
    ['wave:1..2:3s', /unknown shape "wave"/],
    ['const:fast:3s', /the rate "fast" is not a number of requests\/s/],
    ['const:5:soon', /the duration "soon" is not one such as 500ms, 30s or 2m/],
    ['steps:5,,6:1s', /the rate "" is not a number/],
  ];
  for (const [text, message] of bad)
    test(`should refuse ${text} naming the flag and the forms`, () =>
      assert.throws(() => parseProfile(text), message));

  test('should describe a profile in words', () => {
    assert.equal(
      describeProfile([...parseProfile('ramp:10..200:30s'), ...parseProfile('const:200:10s')]),
      'ramp 10→200/s over 30s, then 200/s for 10s',
    );
  });
});

describe('RateSchedule (request times follow the profile)', () => {
  test('a constant rate: request i at i / rate', () => {
    const s = RateSchedule.constant(50, 2000);
    assert.equal(s.total, 100);
    for (const i of [0, 1, 49, 99]) assert.ok(Math.abs(s.timeOf(i) - i * 20) < 1e-9);
    assert.deepEqual(perSecond(s), [50, 50]);
  });

  test('a ramp: the count in each second is the integral of the rate over it', () => {
    // 0→100/s over 4 s: N(t) = 12.5 t², so 12.5, 37.5, 62.5, 87.5 per second.
    const s = new RateSchedule(parseProfile('ramp:0..100:4s'));
    assert.equal(s.total, 200);
    const counts = perSecond(s);
    const expected = [12.5, 37.5, 62.5, 87.5];
    counts.forEach((c, k) => assert.ok(Math.abs(c - expected[k]!) <= 1, `second ${k}: ${c}`));
    assert.equal(
      counts.reduce((a, b) => a + b),
      200,
    );
    // Times rise and countBy is their inverse.
    for (let i = 1; i < s.total; i++) assert.ok(s.timeOf(i) > s.timeOf(i - 1));
    for (const i of [0, 7, 100, 199]) assert.equal(s.countBy(s.timeOf(i)), i + 1);
  });

  test('a ramp down and steps', () => {
    assert.deepEqual(perSecond(new RateSchedule(parseProfile('steps:10,30,20:1s'))), [10, 30, 20]);
    const down = new RateSchedule(parseProfile('ramp:100..0:2s'));
    assert.equal(down.total, 100);
    const counts = perSecond(down);
    assert.ok(Math.abs(counts[0]! - 75) <= 1 && Math.abs(counts[1]! - 25) <= 1, String(counts));
  });

  test('a spike: base, then peak for the middle fifth, then base', () => {
    const s = new RateSchedule(parseProfile('spike:10..100:5s'));
    assert.deepEqual(perSecond(s), [10, 10, 100, 10, 10]);
    assert.equal(s.rateAt(2500), 100);
    assert.equal(s.rateAt(500), 10);
  });
});

describe('runLoad with a profile (offered rates against arrival timestamps)', () => {
  let server: TestServer;
  const arrivals: number[] = [];
  before(async () => {
    server = await startServer((_req, res) => {
      arrivals.push(performance.now());
      answer(res);
    });
  });
  after(() => server.close());

  test('should send what the profile schedules, second by second', async () => {
    arrivals.length = 0;
    const profile = [...parseProfile('ramp:20..80:2s'), ...parseProfile('const:40:1s')];
    const expected = perSecond(new RateSchedule(profile)); // [35, 65, 40]
    const intervals: LoadInterval[] = [];
    const r = await runLoad({
      url: server.url,
      mode: 'open',
      profile,
      connections: 8,
      onInterval: (s) => intervals.push(s),
    });
    assert.equal(r.requests, 140, 'every scheduled request was sent, none more');
    assert.equal(arrivals.length, 140);
    assert.equal(r.offeredRate, 140 / 3);
    assert.equal(r.profile, 'ramp 20→80/s over 2s, then 40/s for 1s');
    // Arrivals counted per second from the first: a request arrives within a few ms of its
    // scheduled time, so each window holds its share give or take the requests near its edges.
    const t0 = arrivals[0]!;
    const counts = [0, 0, 0];
    for (const t of arrivals) counts[Math.min(2, Math.floor((t - t0) / 1000))]!++;
    counts.forEach((c, k) =>
      assert.ok(
        Math.abs(c - expected[k]!) <= Math.max(4, expected[k]! * 0.15),
        `second ${k}: ${c} arrived, ${expected[k]} scheduled (${counts})`,
      ),
    );
    assert.ok(counts[1]! > counts[0]!, 'the ramp rises');
    // The time series saw the offered counts, which add up to the schedule.
    assert.equal(
      intervals.reduce((n, s) => n + (s.offered ?? 0), 0),
      140,
    );
    assert.equal(
      intervals.reduce((n, s) => n + s.sent, 0),
      140,
    );
    assert.ok(intervals.every((s, i) => s.second === i + 1));
  });
});
