/**
 * The server's span records as OTLP: the protobuf request decodes with the OTLP proto's own
 * messages (test/fixtures/otlp/trace.proto, through protobufjs, not through the encoder's code),
 * and says the same as the OTLP/JSON request; times are exact to the nanosecond.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../../src/util/package-root.js';
import { Clock, OtlpEncoder } from '../../src/telemetry/otlp-encode.js';
import { Kind, Parent, SpanRecord, newTrace, spanError } from '../../src/telemetry/span-record.js';

const origin = {
  resource: { 'service.name': 'svc', 'host.cores': 2, tags: ['a', 'b'], ok: true },
  scope: { name: 'mlscale', version: '9.9.9' },
};

/**
 * A request span with a remote parent and tracestate and its queue wait inside; a failed batch
 * (a root here) linking it, with a failed instance run inside.
 */
function spans(): SpanRecord[] {
  const trace = { t0: 0x0af76519, t1: 0x16cd43dd, t2: 0x8448eb21, t3: 0x1c80319c, state: 'v=1' };
  const request = new SpanRecord(
    trace,
    'POST /v2/models/{model}/infer',
    Kind.Server,
    10,
    Parent.Remote,
    0xb7ad6b71,
    0x69203331,
  );
  request.shared = { keys: ['mlscale.model', 'http.request.method'], values: ['m', 'POST'] };
  request.set('mlscale.batch.size', 3);
  request.startInner('queue', 10);
  request.innerEnd = 11.000001;
  request.endTime = 12.5;
  const batch = new SpanRecord(newTrace(), 'batch', Kind.Internal, 11, Parent.None, 0, 0);
  batch.links = [request];
  batch.set('mlscale.instance.work_ms', 0.25);
  batch.set('mlscale.batch.rows', -1);
  batch.fail(Object.assign(new Error('out of memory'), { code: 'E_RUN' }));
  batch.startInner('instance run', 11.5);
  batch.innerOwn = ['mlscale.batch.rows', 2];
  batch.innerError = spanError(new TypeError('bad input'));
  batch.innerEnd = 11.75;
  batch.endTime = 12;
  // A batch whose run never ended: its run is not exported.
  const unfinished = new SpanRecord(newTrace(), 'batch', Kind.Internal, 11, Parent.None, 0, 0);
  unfinished.startInner('instance run', 11.5);
  unfinished.endTime = 12;
  return [request, batch, unfinished];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('OTLP encoding of span records', () => {
  test('protobuf decodes with the OTLP messages, and agrees with the JSON', async () => {
    const root = await protobuf.load(
      join(packageRoot(), 'test', 'fixtures', 'otlp', 'trace.proto'),
    );
    const Request = root.lookupType('otlp.ExportTraceServiceRequest');
    // An origin a double holds exactly (timeOrigin is a double too).
    const clock = new Clock(1_700_000_000_123.5);
    const encoder = new OtlpEncoder(origin, clock);
    const records = spans();
    const decoded = Request.toObject(Request.decode(encoder.protobuf(records)), {
      longs: String,
      bytes: Array,
      defaults: false,
    }) as {
      resourceSpans: {
        resource: { attributes: { key: string; value: Record<string, unknown> }[] };
        scopeSpans: { scope: { name: string; version: string }; spans: Record<string, any>[] }[];
      }[];
    };
    const json = JSON.parse(Buffer.from(encoder.json(records)).toString('utf8'));

    const rs = decoded.resourceSpans[0]!;
    assert.deepEqual(
      rs.resource.attributes.map((a) => [a.key, a.value]),
      [
        ['service.name', { stringValue: 'svc' }],
        ['host.cores', { intValue: '2' }],
        ['tags', { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } }],
        ['ok', { boolValue: true }],
      ],
    );
    assert.deepEqual(rs.scopeSpans[0]!.scope, { name: 'mlscale', version: '9.9.9' });
    const all = rs.scopeSpans[0]!.spans as Record<string, any>[];
    assert.deepEqual(
      all.map((x) => x['name']),
      ['POST /v2/models/{model}/infer', 'queue', 'batch', 'instance run', 'batch'],
    );
    const [request, queue, batch, run] = all;
    const [jRequest, jQueue, jBatch, jRun] = json.resourceSpans[0].scopeSpans[0].spans;

    assert.equal(hex(request!['traceId']), '0af7651916cd43dd8448eb211c80319c');
    assert.equal(hex(request!['parentSpanId']), 'b7ad6b7169203331');
    assert.equal(request!['traceState'], 'v=1');
    assert.equal(request!['kind'], 2);
    assert.equal(request!['flags'], 0x301, 'sampled, with a remote parent');
    assert.equal(queue!['flags'], 0x101, 'sampled, local parent');
    assert.equal(hex(queue!['parentSpanId']), hex(request!['spanId']));
    assert.equal(batch!['parentSpanId'], undefined, 'a root has no parent id');
    // Times: origin 1_700_000_000_123.5 ms + 10 ms = ...133.5 ms, exactly, in ns.
    assert.equal(request!['startTimeUnixNano'], '1700000000133500000');
    assert.equal(request!['endTimeUnixNano'], '1700000000136000000');
    assert.equal(queue!['endTimeUnixNano'], '1700000000134500001');
    assert.deepEqual(
      request!['attributes'].map((a: { key: string; value: unknown }) => [a.key, a.value]),
      [
        ['mlscale.model', { stringValue: 'm' }],
        ['http.request.method', { stringValue: 'POST' }],
        ['mlscale.batch.size', { intValue: '3' }],
      ],
    );
    assert.deepEqual(
      batch!['attributes'].map((a: { key: string; value: unknown }) => [a.key, a.value]),
      [
        ['mlscale.instance.work_ms', { doubleValue: 0.25 }],
        ['mlscale.batch.rows', { intValue: '-1' }],
      ],
    );
    assert.equal(hex(run!['parentSpanId']), hex(batch!['spanId']));
    assert.equal(hex(run!['traceId']), hex(batch!['traceId']));
    assert.equal(run!['kind'], 1);
    assert.equal(run!['startTimeUnixNano'], '1700000000135000000');
    assert.deepEqual(run!['attributes'], [{ key: 'mlscale.batch.rows', value: { intValue: '2' } }]);
    assert.deepEqual(run!['status'], { message: 'bad input', code: 2 });
    assert.equal(run!['events'][0].attributes[0].value.stringValue, 'TypeError');
    assert.equal(queue!['kind'], 1);
    assert.equal(queue!['startTimeUnixNano'], request!['startTimeUnixNano']);
    assert.equal(queue!['traceState'], 'v=1', 'the inner span is in the same trace');
    assert.equal(hex(batch!['links'][0].spanId), hex(request!['spanId']));
    assert.equal(hex(batch!['links'][0].traceId), hex(request!['traceId']));
    assert.equal(batch!['links'][0].traceState, 'v=1');
    assert.deepEqual(batch!['status'], { message: 'out of memory', code: 2 });
    const event = batch!['events'][0];
    assert.equal(event.name, 'exception');
    assert.deepEqual(event.attributes.slice(0, 2), [
      { key: 'exception.type', value: { stringValue: 'E_RUN' } },
      { key: 'exception.message', value: { stringValue: 'out of memory' } },
    ]);

    // The JSON says the same.
    for (const [p, j] of [
      [request, jRequest],
      [queue, jQueue],
      [batch, jBatch],
      [run, jRun],
    ] as const) {
      assert.equal(j.traceId, hex(p!['traceId']));
      assert.equal(j.spanId, hex(p!['spanId']));
      assert.equal(j.parentSpanId, p!['parentSpanId'] && hex(p!['parentSpanId']));
      assert.equal(j.name, p!['name']);
      assert.equal(j.kind, p!['kind']);
      assert.equal(j.flags, p!['flags']);
      assert.equal(j.startTimeUnixNano, p!['startTimeUnixNano']);
      assert.equal(j.endTimeUnixNano, p!['endTimeUnixNano']);
      assert.equal(j.attributes.length, (p!['attributes'] ?? []).length);
    }
    assert.equal(jBatch.status.code, 2);
    assert.equal(jBatch.links[0].spanId, jRequest.spanId);
  });

  test('long values (over 127 bytes) nest correctly', async () => {
    const root = await protobuf.load(
      join(packageRoot(), 'test', 'fixtures', 'otlp', 'trace.proto'),
    );
    const Request = root.lookupType('otlp.ExportTraceServiceRequest');
    const span = new SpanRecord(newTrace(), 'x'.repeat(300), Kind.Internal, 1, Parent.None, 0, 0);
    span.set('long', 'é'.repeat(20_000));
    span.endTime = 2;
    const many = Array.from({ length: 600 }, () => span);
    const decoded = Request.decode(new OtlpEncoder(origin).protobuf(many)) as unknown as {
      resourceSpans: {
        scopeSpans: {
          spans: { name: string; attributes: { value: { stringValue: string } }[] }[];
        }[];
      }[];
    };
    const got = decoded.resourceSpans[0]!.scopeSpans[0]!.spans;
    assert.equal(got.length, 600);
    assert.equal(got[599]!.name, 'x'.repeat(300));
    assert.equal(got[599]!.attributes[0]!.value.stringValue, 'é'.repeat(20_000));
  });

  test('the clock is exact to the nanosecond over the range of real times', () => {
    for (const origin of [
      0, 1_700_000_000_123.456, 1_765_432_109_876.543_2, 4_102_444_800_000.25,
    ]) {
      const clock = new Clock(origin);
      for (const t of [0, 0.000_001, 1.5, 999.999_999, 123_456.789_012, 86_400_000.5]) {
        const out: [number, number] = [0, 0];
        clock.nanos(t, out);
        // The same sum, split the way the clock splits it, in BigInt.
        const whole = Math.floor(origin);
        const small = origin - whole + t;
        const ms = BigInt(whole) + BigInt(Math.floor(small));
        const ns = ms * 1_000_000n + BigInt(Math.round((small - Math.floor(small)) * 1e6));
        assert.equal((BigInt(out[1]) << 32n) | BigInt(out[0]), ns, `origin ${origin}, t ${t}`);
        assert.ok(out[0] >= 0 && out[0] < 2 ** 32 && Number.isInteger(out[0]));
      }
    }
  });
});
