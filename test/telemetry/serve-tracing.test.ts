/**
 * Traces of `mlscale serve`, exported over OTLP/HTTP (JSON) to a receiver started here on loopback,
 * as the standard OTEL_* variables ask: an incoming W3C `traceparent` (and its `tracestate`) is the
 * parent of the request's span, over REST and gRPC alike; the request's queue wait is its child;
 * the batch it joined links to it and carries the batch size; the instance run is the batch's child.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { Prng } from '../../src/model/prng.js';
import type { ModelServer } from '../../src/serve/server.js';
import { grpcClients, ok } from '../serve/grpc/grpc-client.js';
import { infer, inferBody, kFeatures, randomInput } from '../serve/server/server-fixture.js';
import type { OtlpReceiver, ReceivedSpan } from './otlp-receiver.js';
import { startTracedServer, type TracedServer } from './traced-server.js';

const kServer = 2; // SpanKind.SERVER in OTLP

describe('serve tracing over OTLP', () => {
  let receiver: OtlpReceiver;
  let server: ModelServer;
  let url: string;
  let traced: TracedServer;
  const restTrace = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
  const grpcTrace = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };

  before(async () => {
    traced = await startTracedServer(
      { OTEL_SERVICE_NAME: 'mlscale-test' },
      { maxQueueDelayMs: 20, grpcPort: 0 },
    );
    ({ receiver, server, url } = traced);

    // A REST request and a gRPC call, each with a caller's trace context; and an untraced pair
    // sent together, so that batches of several requests form.
    const rest = infer(url, 'm', inferBody(randomInput(new Prng(1), 2)), {
      headers: {
        traceparent: `00-${restTrace.traceId}-${restTrace.spanId}-01`,
        tracestate: 'vendor=opaque',
      },
    });
    const clients = grpcClients(server.grpcAddress()!);
    const metadata = new Metadata();
    metadata.set('traceparent', `00-${grpcTrace.traceId}-${grpcTrace.spanId}-01`);
    const grpc = ok(
      clients.inference,
      'ModelInfer',
      {
        model_name: 'm',
        inputs: [
          {
            name: 'x',
            datatype: 'FP32',
            shape: [1, kFeatures],
            contents: { fp32_contents: Array.from(randomInput(new Prng(2), 1)) },
          },
        ],
      },
      metadata,
    );
    const others = Array.from({ length: 4 }, (_, i) =>
      infer(url, 'm', inferBody(randomInput(new Prng(10 + i), 1))),
    );
    const answers = await Promise.all([rest, ...others]);
    for (const a of answers) assert.equal(a.status, 200, a.text);
    await grpc;
    clients.close();
    // Closing flushes the spans to the receiver.
    await server.close();
  });

  after(async () => traced?.close());

  const byId = (id: string): ReceivedSpan | undefined =>
    receiver.spans.find((s) => s.spanId === id);

  /** The request span whose parent is the caller's span, and its queue, batch and run spans. */
  function treeOf(caller: { traceId: string; spanId: string }) {
    const request = receiver.spans.find((s) => s.parentSpanId === caller.spanId);
    assert.ok(request, `no span has the caller's span ${caller.spanId} as parent`);
    const queue = receiver.spans.find(
      (s) => s.parentSpanId === request.spanId && s.name === 'queue',
    );
    const batch = receiver.spans.find(
      (s) => s.name === 'batch' && s.links.some((l) => l.spanId === request.spanId),
    );
    assert.ok(queue, 'a queue span under the request');
    assert.ok(batch, 'a batch span linked to the request');
    const run = receiver.spans.find((s) => s.parentSpanId === batch.spanId);
    assert.ok(run, 'an instance run span under the batch');
    return { request, queue, batch, run };
  }

  test('spans arrive over OTLP/JSON, with the service name from OTEL_SERVICE_NAME', () => {
    assert.ok(receiver.spans.length > 0, 'spans were exported');
    assert.ok(receiver.contentTypes.every((t) => t.startsWith('application/json')));
    assert.ok(receiver.spans.every((s) => s.service === 'mlscale-test'));
  });

  test('REST: the traceparent is the request span parent; queue, batch (linked, sized) and run below', () => {
    const { request, queue, batch, run } = treeOf(restTrace);
    assert.equal(request.traceId, restTrace.traceId);
    assert.equal(request.name, 'POST /v2/models/{model}/infer');
    assert.equal(request.kind, kServer);
    assert.equal(request.traceState, 'vendor=opaque', 'tracestate is kept');
    assert.equal(request.attributes['mlscale.model'], 'm');
    assert.equal(queue.traceId, restTrace.traceId);
    assert.equal(batch.attributes['mlscale.model'], 'm');
    const size = batch.attributes['mlscale.batch.size'] as number;
    assert.ok(Number.isInteger(size) && size >= 1, `batch size ${size}`);
    assert.equal(request.attributes['mlscale.batch.size'], size);
    assert.ok(
      batch.links.length >= 1 && batch.links.length <= size,
      'linked to the traced requests it held',
    );
    // The batch sits in the trace of the first traced request it holds, under that request.
    assert.equal(batch.parentSpanId, byId(batch.links[0]!.spanId)?.spanId);
    assert.equal(run.name, 'instance run');
    assert.equal(run.traceId, batch.traceId);
    assert.ok((run.attributes['mlscale.batch.rows'] as number) >= 2);
    assert.equal(typeof run.attributes['mlscale.instance.work_ms'], 'number');
  });

  test('gRPC: the traceparent metadata is the request span parent, with the same structure', () => {
    const { request, queue, run } = treeOf(grpcTrace);
    assert.equal(request.traceId, grpcTrace.traceId);
    assert.equal(request.name, 'inference.GRPCInferenceService/ModelInfer');
    assert.equal(request.kind, kServer);
    assert.equal(request.attributes['rpc.system'], 'grpc');
    assert.equal(queue.traceId, grpcTrace.traceId);
    assert.equal(run.name, 'instance run');
  });

  test('requests without a traceparent start traces of their own', () => {
    const roots = receiver.spans.filter(
      (s) => s.name === 'POST /v2/models/{model}/infer' && s.parentSpanId === undefined,
    );
    assert.equal(roots.length, 4);
    const traces = new Set(roots.map((s) => s.traceId));
    assert.equal(traces.size, 4);
    assert.ok(!traces.has(restTrace.traceId) && !traces.has(grpcTrace.traceId));
  });
});
