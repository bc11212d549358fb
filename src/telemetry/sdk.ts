/**
 * The OpenTelemetry SDK, started once per process when the environment asks for traces (see
 * otel-env.ts): a NodeTracerProvider with a batching span processor and the OTLP/HTTP exporter
 * (protobuf or JSON), registered as the global tracer provider with the W3C trace-context
 * propagator, and the sampler of OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (the default samples
 * every trace, or follows the caller's `traceparent`). The pipeline's spans go through it; the
 * server's do not (serve-tracing.ts). The SDK's modules are imported here, lazily: with tracing
 * off none of them loads.
 *
 * @module
 */
import type { Sampler } from '@opentelemetry/sdk-trace-base';
import { samplerSetting, tracingRequest, type SamplerSetting } from './otel-env.js';

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
    const [traceNode, resource, exporterModule] = await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      processResource(),
      request.protocol === 'http/json'
        ? import('@opentelemetry/exporter-trace-otlp-http')
        : import('@opentelemetry/exporter-trace-otlp-proto'),
    ]);
    // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT itself.
    const exporter = new exporterModule.OTLPTraceExporter();
    const { NodeTracerProvider, BatchSpanProcessor } = traceNode;
    const provider = new NodeTracerProvider({
      resource,
      sampler: samplerOf(samplerSetting(env, warn), traceNode),
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
    };
  })();
  return started;
}

/** This process's resource: service.name "mlscale" unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise. */
export async function processResource(): Promise<import('@opentelemetry/resources').Resource> {
  const resources = await import('@opentelemetry/resources');
  return (
    resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ 'service.name': 'mlscale' }))
      // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default name.
      .merge(resources.detectResources({ detectors: [resources.envDetector] }))
  );
}

/** The SDK's sampler for `setting`. */
function samplerOf(
  setting: SamplerSetting,
  m: typeof import('@opentelemetry/sdk-trace-node'),
): Sampler {
  const root =
    setting.root === 'always_on'
      ? new m.AlwaysOnSampler()
      : setting.root === 'always_off'
        ? new m.AlwaysOffSampler()
        : new m.TraceIdRatioBasedSampler(setting.ratio);
  return setting.parentBased ? new m.ParentBasedSampler({ root }) : root;
}
