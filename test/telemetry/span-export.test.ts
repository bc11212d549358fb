/**
 * Batching of ended spans, as the SDK's BatchSpanProcessor batches: full batches go at once, a
 * partial one after the delay, one export at a time, a full queue drops (and counts), a failed or
 * throwing export loses its batch and nothing else, and flush sends everything queued.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { batchSettings, SpanExport, type SendSpans } from '../../src/telemetry/span-export.js';
import { Kind, Parent, SpanRecord, newTrace } from '../../src/telemetry/span-record.js';

const span = (): SpanRecord => new SpanRecord(newTrace(), 's', Kind.Internal, 0, Parent.None, 0, 0);

/** A sender that holds each batch until the test answers it. */
function heldSender() {
  const batches: { spans: SpanRecord[]; done: (ok: boolean) => void }[] = [];
  const send: SendSpans = (spans, done) => void batches.push({ spans, done });
  return { batches, send };
}

describe('span export batching', () => {
  test('OTEL_BSP_* settings are read, with the SDK defaults and warnings for bad values', () => {
    assert.deepEqual(batchSettings({}), {
      scheduleDelayMs: 5000,
      exportTimeoutMs: 30000,
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
    });
    const warnings: string[] = [];
    const s = batchSettings(
      {
        OTEL_BSP_MAX_QUEUE_SIZE: '100',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500',
        OTEL_BSP_SCHEDULE_DELAY: 'soon',
      },
      (w) => warnings.push(w),
    );
    assert.equal(s.maxQueueSize, 100);
    assert.equal(s.maxExportBatchSize, 100, 'a batch is never larger than the queue');
    assert.equal(s.scheduleDelayMs, 5000);
    assert.deepEqual(warnings, [
      'OTEL_BSP_SCHEDULE_DELAY: expected a positive integer, got soon; using 5000',
    ]);
  });

  test('full batches go at once, one export at a time; a full queue drops and counts', () => {
    const { batches, send } = heldSender();
    const exp = new SpanExport(
      { scheduleDelayMs: 60_000, exportTimeoutMs: 60_000, maxQueueSize: 6, maxExportBatchSize: 3 },
      send,
    );
    for (let i = 0; i < 3; i++) exp.add(span());
    assert.equal(batches.length, 1, 'a full batch is sent at once');
    assert.equal(batches[0]!.spans.length, 3);
    for (let i = 0; i < 8; i++) exp.add(span());
    assert.equal(batches.length, 1, 'one export at a time');
    assert.equal(exp.dropped, 2, 'the queue holds 6; 2 more are dropped');
    batches[0]!.done(true);
    assert.equal(batches.length, 2, 'the next full batch follows the first');
    batches[1]!.done(false);
    assert.equal(exp.failedBatches, 1);
    assert.equal(batches.length, 3);
    batches[2]!.done(true);
  });

  test('a partial batch waits for the delay; flush sends everything, even past a throwing sender', async () => {
    let calls = 0;
    const sent: number[] = [];
    const exp = new SpanExport(
      {
        scheduleDelayMs: 60_000,
        exportTimeoutMs: 60_000,
        maxQueueSize: 100,
        maxExportBatchSize: 4,
      },
      (spans, done) => {
        calls++;
        if (calls === 1) throw new Error('encoder bug');
        sent.push(spans.length);
        setImmediate(() => done(true));
      },
    );
    for (let i = 0; i < 3; i++) exp.add(span());
    assert.equal(calls, 0, 'a partial batch waits');
    for (let i = 0; i < 7; i++) exp.add(span());
    // 4 went (and threw: lost, counted), 6 are queued.
    assert.equal(exp.failedBatches, 1);
    await exp.flush();
    assert.deepEqual(sent, [4, 2]);
  });

  test('the scheduled delay sends a partial batch', async () => {
    const sent: number[] = [];
    const exp = new SpanExport(
      { scheduleDelayMs: 5, exportTimeoutMs: 60_000, maxQueueSize: 100, maxExportBatchSize: 50 },
      (spans, done) => {
        sent.push(spans.length);
        done(true);
      },
    );
    exp.add(span());
    exp.add(span());
    while (sent.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(sent, [2]);
  });
});
