/**
 * Tracing never slows requests: past the export queue (OTEL_BSP_MAX_QUEUE_SIZE) spans are dropped,
 * every request is still answered, and `/metrics` counts what was dropped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/model/prng.js';
import { infer, inferBody, randomInput } from '../serve/server/server-fixture.js';
import { startTracedServer, type TracedServer } from './traced-server.js';

const kRequests = 24;

describe('serve tracing with a full export queue', () => {
  let traced: TracedServer;
  let metrics = '';

  before(async () => {
    traced = await startTracedServer(
      {
        OTEL_BSP_MAX_QUEUE_SIZE: '2',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2',
        OTEL_BSP_SCHEDULE_DELAY: '60000',
      },
      { maxQueueDelayMs: 50 },
    );
    // Sent together: they end in one batch, in one turn of the event loop, while the first
    // export (of two records) is in flight and two more fill the queue.
    const answers = await Promise.all(
      Array.from({ length: kRequests }, (_, i) =>
        infer(traced.url, 'm', inferBody(randomInput(new Prng(i), 1))),
      ),
    );
    for (const a of answers) assert.equal(a.status, 200, a.text);
    metrics = await (await fetch(`${traced.url}/metrics`)).text();
  });

  after(async () => traced?.close());

  test('every request is answered and the dropped spans are counted', () => {
    const dropped = Number(/^mlscale_trace_spans_dropped_total (\d+)/m.exec(metrics)?.[1]);
    assert.ok(dropped > 0, `dropped ${dropped}`);
    assert.match(metrics, /^mlscale_trace_exports_failed_total 0$/m);
  });

  test('what was not dropped is exported whole, on close', async () => {
    await traced.server.close();
    const requests = traced.receiver.spans.filter(
      (s) => s.name === 'POST /v2/models/{model}/infer',
    );
    assert.ok(requests.length < kRequests, `${requests.length} of ${kRequests} exported`);
    for (const r of requests)
      assert.ok(
        traced.receiver.spans.some((s) => s.name === 'queue' && s.parentSpanId === r.spanId),
      );
  });
});
