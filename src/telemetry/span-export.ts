/**
 * Ended span records to an OTLP/HTTP endpoint, batched as the SDK's BatchSpanProcessor batches
 * (and with the same OTEL_BSP_* variables): records queue up to OTEL_BSP_MAX_QUEUE_SIZE (more are
 * dropped, and their spans counted); a batch of OTEL_BSP_MAX_EXPORT_BATCH_SIZE records goes as soon
 * as it is full, or after OTEL_BSP_SCHEDULE_DELAY ms; one export at a time. The sizes count
 * records, of one span or two (a request and its queue wait): a batch holds up to twice as many
 * spans as the variable says.
 *
 * The sending is OpenTelemetry's own OTLP/HTTP export delegate (endpoint, headers, timeout,
 * compression, retries and proxy from the OTEL_EXPORTER_OTLP_* variables, as the SDK's
 * exporters read them), given this module's encoder instead of the SDK's span serializer.
 *
 * @module
 */
import type { ExportResult } from '@opentelemetry/core';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { OtlpEncoder, type Origin } from './otlp-encode.js';
import type { SpanRecord } from './span-record.js';

/** The batching settings (OTEL_BSP_*). */
export interface BatchSettings {
  readonly scheduleDelayMs: number;
  readonly exportTimeoutMs: number;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
}

/**
 * The OTEL_BSP_* variables of `env`, with the SDK's defaults; `warn` is told each invalid one.
 * As in the SDK, a batch is never larger than the queue.
 */
export function batchSettings(
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void = () => {},
): BatchSettings {
  const read = (name: string, fallback: number): number => {
    const given = env[name]?.trim();
    if (given === undefined || given === '') return fallback;
    const n = Number(given);
    if (Number.isInteger(n) && n > 0) return n;
    warn(`${name}: expected a positive integer, got ${given}; using ${fallback}`);
    return fallback;
  };
  const maxQueueSize = read('OTEL_BSP_MAX_QUEUE_SIZE', 2048);
  return {
    scheduleDelayMs: read('OTEL_BSP_SCHEDULE_DELAY', 5000),
    exportTimeoutMs: read('OTEL_BSP_EXPORT_TIMEOUT', 30000),
    maxQueueSize,
    maxExportBatchSize: Math.min(read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512), maxQueueSize),
  };
}

/** Sends batches of spans; `done` is told whether they were taken. */
export type SendSpans = (spans: SpanRecord[], done: (ok: boolean) => void) => void;

/** Where ended spans go: `send` a batch; `flush` waits for what was sent to be delivered. */
export interface SpanSender {
  readonly send: SendSpans;
  flush(): Promise<void>;
}

/** OpenTelemetry's OTLP/HTTP delegate with this module's encoding, in `protocol`. */
export function otlpHttpSender(
  origin: Origin,
  protocol: 'http/protobuf' | 'http/json',
): SpanSender {
  const encoder = new OtlpEncoder(origin);
  const json = protocol === 'http/json';
  const delegate = createOtlpHttpExportDelegate<SpanRecord[], unknown>(
    // The SDK's own reading of the OTEL_EXPORTER_OTLP_(TRACES_)* variables, at v1/traces.
    convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', {
      'Content-Type': json ? 'application/json' : 'application/x-protobuf',
    }),
    {
      serializeRequest: (spans) => (json ? encoder.json(spans) : encoder.protobuf(spans)),
      deserializeResponse: (data) =>
        (json ? JsonTraceSerializer : ProtobufTraceSerializer).deserializeResponse(data),
    },
    'otlp_http_span_exporter',
    { name: 'span', countItems: (spans) => spans.length },
    undefined,
  );
  return {
    flush: () => delegate.forceFlush(),
    send: (spans, done) =>
      delegate.export(spans, (result: ExportResult) => done(result.code === 0)),
  };
}

/** Batches ended spans and sends them. */
export class SpanExport {
  readonly #settings: BatchSettings;
  readonly #send: SendSpans;
  #queue: SpanRecord[] = [];
  #exporting = false;
  #timer: NodeJS.Timeout | undefined;
  /** Spans dropped because the queue was full, and batches the endpoint did not take. */
  dropped = 0;
  failedBatches = 0;
  /** Waiting for the export in flight to end (flush). */
  #idle: (() => void)[] = [];

  constructor(settings: BatchSettings, send: SendSpans) {
    this.#settings = settings;
    this.#send = send;
  }

  /** A span ended: queued for export. */
  add(span: SpanRecord): void {
    if (this.#queue.length >= this.#settings.maxQueueSize) {
      // A record with its inner child is two spans lost.
      this.dropped += span.inner !== undefined && span.innerEnd !== 0 ? 2 : 1;
      return;
    }
    this.#queue.push(span);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#exporting) return;
    if (this.#queue.length >= this.#settings.maxExportBatchSize) {
      this.#clearTimer();
      this.#exportOne();
      return;
    }
    if (this.#timer !== undefined || this.#queue.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#exportOne();
    }, this.#settings.scheduleDelayMs);
    // A server that is closing is not held open by its next export (close flushes).
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #exportOne(): void {
    if (this.#exporting || this.#queue.length === 0) return;
    const n = Math.min(this.#queue.length, this.#settings.maxExportBatchSize);
    const batch = n === this.#queue.length ? this.#queue : this.#queue.slice(0, n);
    this.#queue = n === this.#queue.length ? [] : this.#queue.slice(n);
    this.#exporting = true;
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      if (!ok) this.failedBatches++;
      this.#exporting = false;
      const waiting = this.#idle;
      this.#idle = [];
      for (const w of waiting) w();
      this.#schedule();
    };
    const timeout = setTimeout(() => finish(false), this.#settings.exportTimeoutMs);
    timeout.unref();
    try {
      this.#send(batch, finish);
    } catch {
      // An encoding or transport failure loses this batch, never the server.
      finish(false);
    }
  }

  /** Sends every span queued so far, then resolves (failures are counted, not thrown). */
  async flush(): Promise<void> {
    this.#clearTimer();
    for (;;) {
      if (this.#exporting) await new Promise<void>((resolve) => this.#idle.push(resolve));
      else if (this.#queue.length > 0) this.#exportOne();
      else return;
    }
  }
}
