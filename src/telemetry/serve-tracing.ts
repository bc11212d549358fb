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
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
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

  constructor(tracer: Tracer, span: Span, parent: Context) {
    this.span = span;
    this.context = trace.setSpan(parent, span);
    this.#queue = tracer.startSpan('queue', undefined, this.context);
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
      undefined,
      trace.setSpan(ROOT_CONTEXT, this.#span),
    );
  }

  runEnded(rows: number, workMs: number, error?: unknown): void {
    this.#span.setAttribute('mlscale.batch.rows', rows);
    const run = this.#run;
    if (!run) return;
    run.setAttribute('mlscale.batch.rows', rows);
    run.setAttribute('mlscale.instance.work_ms', workMs);
    if (error !== undefined) fail(run, error);
    run.end();
    this.#run = undefined;
  }

  end(): void {
    this.#span.end();
  }
}

/** A request span's name, and its attributes but the model's, by transport. */
const kTransports = {
  http: {
    name: 'POST /v2/models/{model}/infer',
    attributes: { 'http.request.method': 'POST', 'http.route': '/v2/models/{model}/infer' },
  },
  grpc: {
    name: 'inference.GRPCInferenceService/ModelInfer',
    attributes: {
      'rpc.system': 'grpc',
      'rpc.service': 'inference.GRPCInferenceService',
      'rpc.method': 'ModelInfer',
    },
  },
} as const;
const kServerKind = Object.freeze({ kind: SpanKind.SERVER });

/**
 * The server's tracer over the registered provider. Parents are always explicit (no context
 * manager is needed). The sampler (OTEL_TRACES_SAMPLER) decides when the request span starts; an
 * unsampled request gets no trace at all: no queue span, no link from its batch.
 */
export function serveTracing(sdk: TracingSdk): ServeTracing {
  const tracer = trace.getTracer('mlscale', mlscaleVersion);
  // The request span's attributes per transport, model and version: built once, not per request
  // (the span copies them).
  const attributesByKey = new Map<string, Attributes>();
  const attributesOf = (transport: 'http' | 'grpc', model: string, version: string | undefined) => {
    const key = `${transport}\n${model}\n${version ?? ''}`;
    let a = attributesByKey.get(key);
    if (a === undefined) {
      a = { 'mlscale.model': model };
      if (version !== undefined && version !== '') a['mlscale.model_version'] = version;
      Object.assign(a, kTransports[transport].attributes);
      // Bounded: versions come from requests; past this many, new keys are not kept.
      if (attributesByKey.size < 1024) attributesByKey.set(key, a);
    }
    return a;
  };
  return {
    request(transport, model, version, carrier) {
      const name = kTransports[transport].name;
      let parent = ROOT_CONTEXT;
      if (carrier['traceparent'] !== undefined)
        parent = propagation.extract(ROOT_CONTEXT, carrier, carrierGetter);
      // No `traceparent`: a root span, the sampler asked before anything is made.
      else if (!sdk.sampleRoot(name, SpanKind.SERVER)) return undefined;
      // The attributes are set once sampled (the SDK's samplers do not read them): an unsampled
      // request costs the sampling decision and no more.
      const span = tracer.startSpan(name, kServerKind, parent);
      // Not sampled: a non-recording span, which needs no end.
      if (!span.isRecording()) return undefined;
      span.setAttributes(attributesOf(transport, model, version));
      return new TracedRequest(tracer, span, parent);
    },
    batch(model, version, requests, size) {
      const traced = requests as readonly TracedRequest[];
      const links: Link[] = traced.map((r) => ({ context: r.span.spanContext() }));
      for (const r of traced) r.span.setAttribute('mlscale.batch.size', size);
      const parent = traced[0]?.context ?? ROOT_CONTEXT;
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
