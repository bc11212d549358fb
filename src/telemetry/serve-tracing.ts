/**
 * The server's spans (loaded only when tracing is on, see load-serve-tracing.ts):
 *
 * - the request: `POST /v2/models/{model}/infer` (HTTP) or `inference.GRPCInferenceService/ModelInfer`
 *   (gRPC), kind SERVER, child of the caller's W3C `traceparent` (its `tracestate` kept);
 * - `queue`: its wait in the model's queue, child of the request;
 * - `batch`: the dynamic batch it joined, child of the first traced request in it and linked to
 *   every traced request in it, with the batch's size in requests and rows; each request span gets
 *   the size of its batch too;
 * - `instance run`: the batch's run on an instance (decode, onnxruntime, encode), child of the batch.
 *
 * They are span records (span-record.ts), not the SDK's span objects, and are exported by
 * span-export.ts: with every request traced, the SDK's spans cost a quarter of the light model's
 * throughput. What stays OpenTelemetry's: the W3C propagator that reads `traceparent` and
 * `tracestate`, the sampler's rules (OTEL_TRACES_SAMPLER, the same decisions as the SDK's
 * samplers, see `sampled`), the resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) and the
 * OTLP/HTTP transport.
 *
 * @module
 */
import { ROOT_CONTEXT, trace, TraceFlags, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { version as mlscaleVersion } from '../version.js';
import type { SamplerSetting } from './otel-env.js';
import { processResource } from './sdk.js';
import type { Origin } from './otlp-encode.js';
import { batchSettings, otlpHttpSender, SpanExport, type SpanSender } from './span-export.js';
import {
  Kind,
  newTrace,
  now,
  Parent,
  ids,
  SpanRecord,
  spanError,
  word,
  type SharedAttributes,
  type TraceIdentity,
} from './span-record.js';
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

/**
 * Whether a span of trace `t` is sampled, as the SDK's samplers decide: a parent-based sampler
 * follows the caller's sampled flag; `traceidratio` compares the XOR of the trace id's four 32-bit
 * words with ratio × 2^32 (the SDK's TraceIdRatioBasedSampler, so that a trace is kept or left
 * out alike by every service that samples on its id).
 */
export function sampled(
  setting: SamplerSetting,
  parentSampled: boolean | undefined,
  t: TraceIdentity,
): boolean {
  if (parentSampled !== undefined && setting.parentBased) return parentSampled;
  if (setting.root === 'always_on') return true;
  if (setting.root === 'always_off') return false;
  const bound = setting.ratio >= 1 ? 0x100000000 : Math.floor(setting.ratio * 0xffffffff);
  return (t.t0 ^ t.t1 ^ t.t2 ^ t.t3) >>> 0 < bound;
}

/** A request's span, its queue wait inside (exported with it when the request ends). */
class TracedRequest extends SpanRecord implements RequestTrace {
  readonly #export: SpanExport;

  constructor(
    spans: SpanExport,
    trace: TraceIdentity,
    name: string,
    parent: Parent,
    p0: number,
    p1: number,
  ) {
    const start = now();
    super(trace, name, Kind.Server, start, parent, p0, p1);
    this.#export = spans;
    this.startInner('queue', start);
  }

  dequeued(): void {
    if (this.innerEnd === 0) this.innerEnd = now();
  }

  end(error?: unknown): void {
    const t = now();
    if (this.innerEnd === 0) {
      // Never dequeued: shed, timed out, cancelled or refused while queued.
      if (error !== undefined) this.innerError = spanError(error);
      this.innerEnd = t;
    }
    if (error !== undefined) this.fail(error);
    this.endTime = t;
    this.#export.add(this);
  }
}

/** A batch's span, child of its first traced request, with its instance run inside. */
class TracedBatch extends SpanRecord implements BatchTrace {
  readonly #export: SpanExport;

  constructor(spans: SpanExport, first: SpanRecord) {
    super(first.trace, 'batch', Kind.Internal, now(), Parent.Local, first.s0, first.s1);
    this.#export = spans;
  }

  runStarted(): void {
    this.startInner('instance run');
  }

  runEnded(rows: number, workMs: number, error?: unknown): void {
    this.set('mlscale.batch.rows', rows);
    if (this.inner === undefined) return;
    this.innerOwn = ['mlscale.batch.rows', rows, 'mlscale.instance.work_ms', workMs];
    if (error !== undefined) this.innerError = spanError(error);
    this.innerEnd = now();
  }

  end(): void {
    this.endTime = now();
    this.#export.add(this);
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

/**
 * Attribute sets by model and version: `mlscale.model`, `mlscale.model_version` (when given) and
 * `extra`, made once (bounded: versions come from requests).
 */
class AttributeCache {
  readonly #byModel = new Map<string, Map<string | undefined, SharedAttributes>>();
  readonly #extra: Readonly<Record<string, string>>;
  #size = 0;

  constructor(extra: Readonly<Record<string, string>> = {}) {
    this.#extra = extra;
  }

  get(model: string, version: string | undefined): SharedAttributes {
    let versions = this.#byModel.get(model);
    let set = versions?.get(version);
    if (set === undefined) {
      const a: Record<string, string> = { 'mlscale.model': model };
      if (version !== undefined && version !== '') a['mlscale.model_version'] = version;
      Object.assign(a, this.#extra);
      set = { keys: Object.keys(a), values: Object.values(a) };
      if (this.#size++ < 1024) {
        if (versions === undefined) this.#byModel.set(model, (versions = new Map()));
        versions.set(version, set);
      }
    }
    return set;
  }
}

/** This process as the sender of its spans: its resource and the instrumentation scope. */
export async function serveOrigin(): Promise<Origin> {
  const resource = await processResource();
  await resource.waitForAsyncAttributes?.();
  return {
    resource: resource.attributes as Record<string, string | number | boolean>,
    scope: { name: 'mlscale', version: mlscaleVersion },
  };
}

/**
 * The server's tracer, sending to the OTLP endpoint of `env` in `protocol`.
 * @param warn - told each OTEL_* setting that is not followed.
 * @param sender - where ended spans go; OTLP/HTTP by default (the tracing cost benchmark gives
 *   one that only encodes).
 */
export async function serveTracing(
  env: NodeJS.ProcessEnv,
  protocol: 'http/protobuf' | 'http/json',
  setting: SamplerSetting,
  warn: (message: string) => void,
  sender?: SpanSender,
): Promise<ServeTracing> {
  const out = sender ?? otlpHttpSender(await serveOrigin(), protocol);
  const spans = new SpanExport(batchSettings(env, warn), out.send);
  const propagator = new W3CTraceContextPropagator();
  const requestAttributes = {
    http: new AttributeCache(kTransports.http.attributes),
    grpc: new AttributeCache(kTransports.grpc.attributes),
  };
  const batchAttributes = new AttributeCache();
  const root = { t0: 0, t1: 0, t2: 0, t3: 0, state: undefined };
  return {
    request(transport, model, version, carrier) {
      const kind = kTransports[transport];
      if (carrier['traceparent'] === undefined) {
        // A root: its trace id is drawn into a scratch record first, so that a request left out
        // allocates nothing.
        root.t0 = ids.next();
        root.t1 = ids.next();
        root.t2 = ids.next();
        root.t3 = ids.nextNonZero();
        if (!sampled(setting, undefined, root)) return undefined;
        const t = { t0: root.t0, t1: root.t1, t2: root.t2, t3: root.t3, state: undefined };
        const span = new TracedRequest(spans, t, kind.name, Parent.None, 0, 0);
        span.shared = requestAttributes[transport].get(model, version);
        return span;
      }
      const remote = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, carrier, carrierGetter));
      let t: TraceIdentity;
      let span: TracedRequest;
      if (remote) {
        // A valid `traceparent` (the propagator drops invalid ones): this request joins its trace.
        t = {
          t0: word(remote.traceId, 0),
          t1: word(remote.traceId, 8),
          t2: word(remote.traceId, 16),
          t3: word(remote.traceId, 24),
          state: remote.traceState?.serialize() || undefined,
        };
        const parentSampled = (remote.traceFlags & TraceFlags.SAMPLED) !== 0;
        if (!sampled(setting, parentSampled, t)) return undefined;
        const [p0, p1] = [word(remote.spanId, 0), word(remote.spanId, 8)];
        span = new TracedRequest(spans, t, kind.name, Parent.Remote, p0, p1);
      } else {
        t = newTrace();
        if (!sampled(setting, undefined, t)) return undefined;
        span = new TracedRequest(spans, t, kind.name, Parent.None, 0, 0);
      }
      span.shared = requestAttributes[transport].get(model, version);
      return span;
    },
    batch(model, version, requests, size) {
      const traced = requests as readonly TracedRequest[];
      for (const r of traced) r.set('mlscale.batch.size', size);
      const span = new TracedBatch(spans, traced[0]!);
      span.links = traced;
      span.shared = batchAttributes.get(model, version);
      span.set('mlscale.batch.size', size);
      span.set('mlscale.batch.traced_requests', traced.length);
      return span;
    },
    stats: () => ({ droppedSpans: spans.dropped, failedExports: spans.failedBatches }),
    async flush() {
      await spans.flush();
      await out.flush();
    },
  };
}
