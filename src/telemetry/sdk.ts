/**
 * The OpenTelemetry SDK, started once per process when the environment asks for traces (see
 * otel-env.ts): a NodeTracerProvider with a batching span processor and the OTLP/HTTP exporter
 * (protobuf or JSON), registered as the global tracer provider with the W3C trace-context
 * propagator, and the sampler of OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (the SDK reads them;
 * the default samples every trace, or follows the caller's `traceparent`). The SDK's modules are imported here, lazily: with tracing off none of them loads.
 *
 * @module
 */
import type { SpanKind } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import { tracingRequest } from './otel-env.js';

/** The started SDK. */
export interface TracingSdk {
  /** Exports the spans ended so far. */
  flush(): Promise<void>;
  /** Exports what is left and stops. */
  shutdown(): Promise<void>;
  /**
   * Installs the AsyncLocalStorage context manager (once), so that the active span follows async
   * calls: `startActiveSpan` and BullMQ's job spans need it. The server does without: it passes
   * every parent explicitly, and the manager's async hooks slow every await of the process.
   */
  useAsyncContext(): void;
  /**
   * The sampler's decision for a root span (no parent) named `name`, made before the span: a new
   * trace ID is drawn and the sampler asked; when it samples, the next span started gets that
   * very trace ID, so the SDK's own decision on it is the same. A request left out then costs
   * this and no span at all.
   */
  sampleRoot(name: string, kind: SpanKind): boolean;
}

let started: Promise<TracingSdk | undefined> | undefined;

/**
 * Starts the SDK if `env` asks for traces (once per process; later calls get the same one).
 * @param warn - told each OTEL_* setting that is not followed.
 * @returns the SDK, or undefined when tracing is off.
 */
export function startTracingSdk(
  env: NodeJS.ProcessEnv = process.env,
  warn: (message: string) => void = () => {},
): Promise<TracingSdk | undefined> {
  started ??= (async () => {
    const request = tracingRequest(env);
    for (const w of request.warnings) warn(w);
    if (!request.enabled) return undefined;
    const [traceNode, api, resources, exporterModule] = await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/api'),
      import('@opentelemetry/resources'),
      request.protocol === 'http/json'
        ? import('@opentelemetry/exporter-trace-otlp-http')
        : import('@opentelemetry/exporter-trace-otlp-proto'),
    ]);
    // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT itself.
    const exporter = new exporterModule.OTLPTraceExporter();
    const resource = resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ 'service.name': 'mlscale' }))
      // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default name.
      .merge(resources.detectResources({ detectors: [resources.envDetector] }));
    const { NodeTracerProvider, BatchSpanProcessor, RandomIdGenerator, SamplingDecision } =
      traceNode;
    const sampler = samplerOf(env, traceNode, warn);
    // Random IDs, but the next trace ID can be set: the one sampleRoot drew and sampled.
    const random = new RandomIdGenerator();
    let nextTraceId: string | undefined;
    const idGenerator = {
      generateTraceId(): string {
        const id = nextTraceId ?? random.generateTraceId();
        nextTraceId = undefined;
        return id;
      },
      generateSpanId: () => random.generateSpanId(),
    };
    const provider = new NodeTracerProvider({
      resource,
      sampler,
      idGenerator,
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    // Also sets the W3C trace-context and baggage propagators; no context manager yet (see
    // useAsyncContext): without one, `context.active()` is the root context and costs nothing.
    provider.register({ contextManager: null });
    let asyncContext = false;
    // A process that ends on its own (its event loop empty) exports what is left first.
    process.once('beforeExit', () => void provider.shutdown().catch(() => undefined));
    return {
      flush: () => provider.forceFlush(),
      shutdown: () => provider.shutdown(),
      useAsyncContext() {
        if (asyncContext) return;
        asyncContext = true;
        // The default manager (AsyncLocalStorage); the tracer provider and the propagators are
        // already registered, so registering again only adds the context manager.
        provider.register({ propagator: null });
      },
      sampleRoot(name, kind) {
        const traceId = random.generateTraceId();
        const { decision } = sampler.shouldSample(api.ROOT_CONTEXT, traceId, name, kind, {}, []);
        if (decision === SamplingDecision.NOT_RECORD) return false;
        nextTraceId = traceId;
        return true;
      },
    };
  })();
  return started;
}

/**
 * The sampler of OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the SDK builds it from the
 * same variables (made here so that the server can ask it first, see sampleRoot).
 */
function samplerOf(
  env: NodeJS.ProcessEnv,
  m: typeof import('@opentelemetry/sdk-trace-node'),
  warn: (message: string) => void,
): Sampler {
  const name = env['OTEL_TRACES_SAMPLER']?.trim().toLowerCase() || 'parentbased_always_on';
  const ratio = (): number => {
    const given = env['OTEL_TRACES_SAMPLER_ARG']?.trim();
    const r = given === undefined || given === '' ? NaN : Number(given);
    if (r >= 0 && r <= 1) return r;
    warn(`OTEL_TRACES_SAMPLER_ARG: expected a ratio in [0, 1], got ${String(given)}; using 1`);
    return 1;
  };
  switch (name) {
    case 'always_on':
      return new m.AlwaysOnSampler();
    case 'always_off':
      return new m.AlwaysOffSampler();
    case 'traceidratio':
      return new m.TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_off':
      return new m.ParentBasedSampler({ root: new m.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new m.ParentBasedSampler({ root: new m.TraceIdRatioBasedSampler(ratio()) });
    case 'parentbased_always_on':
      return new m.ParentBasedSampler({ root: new m.AlwaysOnSampler() });
    default:
      warn(
        `OTEL_TRACES_SAMPLER: ${name} is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio; using parentbased_always_on`,
      );
      return new m.ParentBasedSampler({ root: new m.AlwaysOnSampler() });
  }
}
