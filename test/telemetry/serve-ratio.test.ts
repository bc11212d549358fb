/**
 * A ratio sampler (`OTEL_TRACES_SAMPLER=traceidratio`, 0.5): the server decides a request without
 * a `traceparent` before making any span, on a trace ID it draws and that the request span then
 * gets. So some requests are traced and some not, each traced one whole (its queue span too), and
 * every exported trace ID is one the SDK's own ratio sampler samples: the decision is the SDK's.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { Prng } from '../../src/model/prng.js';
import { infer, inferBody, randomInput } from '../serve/server/server-fixture.js';
import type { OtlpReceiver } from './otlp-receiver.js';
import { startTracedServer, type TracedServer } from './traced-server.js';

const kRequests = 30;

describe('serve tracing with a ratio sampler', () => {
  let traced: TracedServer;
  let receiver: OtlpReceiver;

  before(async () => {
    traced = await startTracedServer(
      { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' },
      { maxQueueDelayMs: 5 },
    );
    receiver = traced.receiver;
    for (let i = 0; i < kRequests; i++) {
      const answer = await infer(traced.url, 'm', inferBody(randomInput(new Prng(i), 1)));
      assert.equal(answer.status, 200, answer.text);
    }
    // Closing flushes the spans to the receiver.
    await traced.server.close();
  });

  after(async () => traced?.close());

  test('some requests are traced, some not; each traced one with its queue span', () => {
    const requests = receiver.spans.filter((s) => s.name === 'POST /v2/models/{model}/infer');
    // Each request is sampled with probability 0.5: all or none of 30 is a 2·2⁻³⁰ chance.
    assert.ok(requests.length > 0 && requests.length < kRequests, `${requests.length} traced`);
    for (const r of requests)
      assert.ok(
        receiver.spans.some((s) => s.name === 'queue' && s.parentSpanId === r.spanId),
        'a queue span under each traced request',
      );
    assert.equal(receiver.spans.filter((s) => s.name === 'queue').length, requests.length);
  });

  test("every traced request's trace ID is one the SDK's ratio sampler samples", () => {
    const sampler = new TraceIdRatioBasedSampler(0.5);
    for (const r of receiver.spans.filter((s) => s.parentSpanId === undefined)) {
      const { decision } = sampler.shouldSample(ROOT_CONTEXT, r.traceId);
      assert.equal(decision, SamplingDecision.RECORD_AND_SAMPLED, r.traceId);
    }
  });
});
