/**
 * The server's spans, with the OpenTelemetry API (loaded only when tracing is on, see
 * load-serve-tracing.ts):
 *
 * - the request: `POST /v2/models/{model}/infer` (HTTP) or `inference.GRPCInferenceService/ModelInfer`
 *   (gRPC), kind SERVER, child of the caller's W3C `traceparent` (its `tracestate` kept);
 * - `queue`: its wait in the model's queue, child of the request;
 * - `batch`: the dynamic batch it joined, child of the first traced request in it and linked to
 *   every traced request in it, with the batch's size in requests and rows; each request span gets
 *   the size of its batch too;
 * - `instance run`: the batch's run on an instance (decode, onnxruntime, encode), child of the batch.
 *
 * @module
 */
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { version as mlscaleVersion } from '../version.js';
import type { TracingSdk } from './sdk.js';
import type { BatchTrace, RequestTrace, ServeTracing, TraceCarrier } from './types.js';

/** Reads headers (string or string[]) and gRPC metadata (string or Buffer). */
const carrierGetter: TextMapGetter<TraceCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const v = carrier[key];
    if (typeof v === 'string') return v;
    if (Array.isArray(v)) return v.map(String);
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    return undefined;
  },
};

function fail(span: Span, error: unknown): void {
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
  if (error instanceof Error) span.recordException(error);
}

class TracedRequest implements RequestTrace {
  readonly span: Span;
  readonly context: Context;
  #queue: Span | undefined;

  constructor(tracer: Tracer, name: string, parent: Context, attributes: Record<string, string>) {
    this.span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    this.context = trace.setSpan(parent, this.span);
    this.#queue = tracer.startSpan('queue', {}, this.context);
  }

  dequeued(): void {
    this.#queue?.end();
    this.#queue = undefined;
  }

  end(error?: unknown): void {
    if (this.#queue) {
      // Never dequeued: shed, timed out, cancelled or refused while queued.
      if (error !== undefined) fail(this.#queue, error);
      this.#queue.end();
      this.#queue = undefined;
    }
    if (error !== undefined) fail(this.span, error);
    this.span.end();
  }
}

class TracedBatch implements BatchTrace {
  readonly #span: Span;
  readonly #tracer: Tracer;
  #run: Span | undefined;

  constructor(tracer: Tracer, span: Span) {
    this.#tracer = tracer;
    this.#span = span;
  }

  runStarted(): void {
    this.#run = this.#tracer.startSpan(
      'instance run',
      {},
      trace.setSpan(context.active(), this.#span),
    );
  }

  runEnded(rows: number, workMs: number, error?: unknown): void {
    this.#span.setAttribute('mlscale.batch.rows', rows);
    const run = this.#run;
    if (!run) return;
    run.setAttributes({ 'mlscale.batch.rows': rows, 'mlscale.instance.work_ms': workMs });
    if (error !== undefined) fail(run, error);
    run.end();
    this.#run = undefined;
  }

  end(): void {
    this.#span.end();
  }
}

/** The server's tracer over the registered provider. */
export function serveTracing(sdk: TracingSdk): ServeTracing {
  const tracer = trace.getTracer('mlscale', mlscaleVersion);
  return {
    request(transport, model, version, carrier) {
      const parent = propagation.extract(context.active(), carrier, carrierGetter);
      const attributes: Record<string, string> = { 'mlscale.model': model };
      if (version !== undefined && version !== '') attributes['mlscale.model_version'] = version;
      let name: string;
      if (transport === 'http') {
        name = 'POST /v2/models/{model}/infer';
        attributes['http.request.method'] = 'POST';
        attributes['http.route'] = '/v2/models/{model}/infer';
      } else {
        name = 'inference.GRPCInferenceService/ModelInfer';
        attributes['rpc.system'] = 'grpc';
        attributes['rpc.service'] = 'inference.GRPCInferenceService';
        attributes['rpc.method'] = 'ModelInfer';
      }
      return new TracedRequest(tracer, name, parent, attributes);
    },
    batch(model, version, requests, size) {
      const traced = requests as readonly TracedRequest[];
      const links: Link[] = traced.map((r) => ({ context: r.span.spanContext() }));
      for (const r of traced) r.span.setAttribute('mlscale.batch.size', size);
      const parent = traced[0]?.context ?? context.active();
      const span = tracer.startSpan(
        'batch',
        {
          links,
          attributes: {
            'mlscale.model': model,
            'mlscale.model_version': version,
            'mlscale.batch.size': size,
            'mlscale.batch.traced_requests': traced.length,
          },
        },
        parent,
      );
      return new TracedBatch(tracer, span);
    },
    flush: () => sdk.flush(),
  };
}
