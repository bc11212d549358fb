/**
 * What the serving side sees of tracing: types only, so that a server with tracing off imports no
 * OpenTelemetry module at all (serve-tracing.ts, which does, is loaded only when tracing is on).
 *
 * @module
 */

/** Headers or gRPC metadata, read for `traceparent` and `tracestate`. */
export type TraceCarrier = Readonly<Record<string, unknown>>;

/** One request's spans: the request itself, and its wait in the queue. */
export interface RequestTrace {
  /** The request left the queue for a batch: its queue span ends. */
  dequeued(): void;
  /** The request is answered (or failed with `error`): its spans end. */
  end(error?: unknown): void;
}

/** A batch's spans: the batch, linked to the requests it holds, and the instance run inside it. */
export interface BatchTrace {
  /** The instance run begins. */
  runStarted(): void;
  /** The run ended: its rows and the instance's time on it, in ms. */
  runEnded(rows: number, workMs: number, error?: unknown): void;
  end(): void;
}

/** The server's tracer. */
export interface ServeTracing {
  /**
   * A request begins: its span is a child of the caller's `traceparent` (if any) and its queue
   * span starts. Undefined when the sampler leaves the request out: nothing of it is traced.
   */
  request(
    transport: 'http' | 'grpc',
    model: string,
    version: string | undefined,
    carrier: TraceCarrier,
  ): RequestTrace | undefined;
  /** A batch of `requests` (those traced) begins on model `model` version `version`. */
  batch(
    model: string,
    version: string,
    requests: readonly RequestTrace[],
    size: number,
  ): BatchTrace;
  /** Exports the spans ended so far (on close). */
  flush(): Promise<void>;
  /** What was lost so far: spans dropped on a full queue, export batches not taken. */
  stats(): { readonly droppedSpans: number; readonly failedExports: number };
}
