/**
 * The pipeline's spans, when the OTEL_* variables ask for traces (see otel-env.ts): one span per
 * window the driver runs (`train round`, `fit window`, `evaluate window`, with the phase, task and
 * batch count), active while its batches run, so that BullMQ's job spans (the `bullmq-otel` add-on
 * given to the Queue and the Worker) are its children, across processes: BullMQ carries the trace
 * context in the job. With tracing off, nothing of OpenTelemetry loads and `inSpan` only calls.
 *
 * @module
 */
import type { Telemetry } from 'bullmq';
import { version as mlscaleVersion } from '../version.js';
import { startTracingSdk, type TracingSdk } from './sdk.js';

interface Active {
  readonly api: typeof import('@opentelemetry/api');
  readonly sdk: TracingSdk;
}
let active: Active | undefined;

/**
 * Starts tracing for this process if `env` asks for it (once; later calls are free).
 * @returns whether tracing is on.
 */
export async function enablePipelineTracing(
  env: NodeJS.ProcessEnv = process.env,
  warn?: (message: string) => void,
): Promise<boolean> {
  if (active) return true;
  const sdk = await startTracingSdk(env, warn);
  if (!sdk) return false;
  // The window's span is active while its batches run: BullMQ's spans find it through the context.
  sdk.useAsyncContext();
  active ??= { api: await import('@opentelemetry/api'), sdk };
  return true;
}

/** BullMQ's `telemetry` option (Queue and Worker) when tracing is on; undefined otherwise. */
export async function bullmqTelemetry(): Promise<Telemetry | undefined> {
  if (!active) return undefined;
  const { BullMQOtel } = await import('bullmq-otel');
  return new BullMQOtel({ tracerName: 'mlscale', version: mlscaleVersion }) as Telemetry;
}

/** Runs `work` inside a span named `name` (active while it runs); with tracing off, just runs it. */
export function inSpan<T>(
  name: string,
  attributes: Record<string, string | number>,
  work: () => Promise<T>,
): Promise<T> {
  if (!active) return work();
  const { api } = active;
  return api.trace
    .getTracer('mlscale', mlscaleVersion)
    .startActiveSpan(name, { attributes }, async (span) => {
      try {
        return await work();
      } catch (err) {
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: (err as Error).message });
        if (err instanceof Error) span.recordException(err);
        throw err;
      } finally {
        span.end();
      }
    });
}

/** Exports the spans ended so far (at the end of a run, or when a worker stops). */
export async function flushPipelineTracing(): Promise<void> {
  await active?.sdk.flush();
}
