/**
 * The sampler of OTEL_TRACES_SAMPLER decides which requests `mlscale serve` traces: here
 * `parentbased_always_off`, so only requests whose caller sampled them (a `traceparent` with the
 * sampled flag) are traced. The others leave no span at all: no request span, no queue span, and
 * the batch they shared with a traced request links to that request only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/model/prng.js';
import { infer, inferBody, randomInput } from '../serve/server/server-fixture.js';
import type { OtlpReceiver } from './otlp-receiver.js';
import { startTracedServer, type TracedServer } from './traced-server.js';

describe('serve tracing with a sampler', () => {
  let traced: TracedServer;
  let receiver: OtlpReceiver;
  const sampled = { traceId: '5bf92f3577b34da6a3ce929d0e0e4736', spanId: '10f067aa0ba902b7' };
  const unsampled = { traceId: '6bf92f3577b34da6a3ce929d0e0e4736', spanId: '20f067aa0ba902b7' };

  before(async () => {
    traced = await startTracedServer(
      { OTEL_TRACES_SAMPLER: 'parentbased_always_off' },
      { maxQueueDelayMs: 50 },
    );
    receiver = traced.receiver;
    const url = traced.url;
    // Sent together, so that they share batches: one sampled by its caller, one that its caller
    // did not sample, and three without a trace context (left out by the root sampler).
    const body = (seed: number) => inferBody(randomInput(new Prng(seed), 1));
    const answers = await Promise.all([
      infer(url, 'm', body(1), {
        headers: { traceparent: `00-${sampled.traceId}-${sampled.spanId}-01` },
      }),
      infer(url, 'm', body(2), {
        headers: { traceparent: `00-${unsampled.traceId}-${unsampled.spanId}-00` },
      }),
      ...[3, 4, 5].map((seed) => infer(url, 'm', body(seed))),
    ]);
    for (const a of answers) assert.equal(a.status, 200, a.text);
    // Closing flushes the spans to the receiver.
    await traced.server.close();
  });

  after(async () => traced?.close());

  test('only the sampled request is traced: its request and queue spans, nothing of the others', () => {
    const requests = receiver.spans.filter((s) => s.name === 'POST /v2/models/{model}/infer');
    assert.equal(requests.length, 1, 'one request span');
    const request = requests[0]!;
    assert.equal(request.traceId, sampled.traceId);
    assert.equal(request.parentSpanId, sampled.spanId);
    const queues = receiver.spans.filter((s) => s.name === 'queue');
    assert.equal(queues.length, 1, 'one queue span');
    assert.equal(queues[0]!.parentSpanId, request.spanId);
    assert.ok(receiver.spans.every((s) => s.traceId === sampled.traceId));
  });

  test('the batch links to the sampled request only, and counts the untraced ones in its size', () => {
    const batches = receiver.spans.filter((s) => s.name === 'batch');
    assert.equal(batches.length, 1, 'one batch holds the sampled request');
    const batch = batches[0]!;
    assert.deepEqual(
      batch.links.map((l) => l.spanId),
      [receiver.spans.find((s) => s.name === 'POST /v2/models/{model}/infer')!.spanId],
    );
    assert.equal(batch.attributes['mlscale.batch.traced_requests'], 1);
    assert.ok((batch.attributes['mlscale.batch.size'] as number) >= 1);
    assert.ok(
      receiver.spans.some((s) => s.name === 'instance run' && s.parentSpanId === batch.spanId),
    );
  });
});
