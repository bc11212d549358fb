/**
 * One loaded model version: its instances (worker threads with onnxruntime sessions), its dynamic
 * batcher, its metrics and statistics. The HTTP layer hands it request bodies; it answers with
 * encoded responses. The bodies go to the batcher undecoded: an instance decodes, runs and encodes
 * a whole batch on its own thread (see instances/infer-batch.ts), so the HTTP thread only queues
 * the bytes and sends back the bytes it gets.
 *
 * @module
 */
import { InferenceRequestError, ModelLoadError, ModelNotReadyError } from '../errors.js';
import {
  DynamicBatcher,
  type BatchInfo,
  type BatchRun,
  type CancelSignal,
  type DynamicBatcherStats,
} from './batcher.js';
import { InstancePool, type InstancePoolStats } from './instances/instance-pool.js';
import { packBytes, type InferredMessage } from './instances/messages.js';
import type { Outcome, ServerMetrics } from './metrics.js';
import { ModelSeries } from './model-series.js';
import { StatisticsRecorder, type ModelStatistics } from './model-statistics.js';
import type { ModelSettings } from './options.js';
import type { EncodedResponse, RequestHeaders } from './protocol/index.js';
import type { TensorDescription } from '../model/tensor-description.js';
import type { ModelSignature } from './types.js';
import type { TritonConfig } from './triton/config-pbtxt.js';
import { startBatchTrace } from '../telemetry/batch-trace.js';
import type { RequestTrace, ServeTracing } from '../telemetry/types.js';
import {
  bodyBytes,
  outcomeOf,
  readAnswers,
  type Answered,
  type RawWork,
} from './served-model-answers.js';
import {
  openModelVersion,
  type ServedModelHooks,
  type ServedModelSpec,
} from './served-model-load.js';

export type { ServedModelHooks, ServedModelSpec } from './served-model-load.js';

/** A model version's state, as the repository index and readiness endpoints report it. */
export interface ModelHealth {
  readonly state: 'READY' | 'UNAVAILABLE' | 'UNLOADING';
  readonly reason?: string;
}

/** Model metadata, the protocol's `$metadata_model_response`. */
export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly TensorDescription[];
  readonly outputs: readonly TensorDescription[];
  readonly parameters?: Readonly<Record<string, unknown>>;
}

/** Weight of the newest batch in the estimate of rows per request. */
const kRowsWeight = 0.2;

/** One model version being served. */
export class ServedModel {
  readonly name: string;
  readonly version: string;
  readonly signature: ModelSignature;
  #settings: ModelSettings;
  readonly #pool: InstancePool;
  readonly #batcher: DynamicBatcher<RawWork, Answered>;
  /**
   * Rows per request, estimated from the answered ones: the batcher counts rows to fill batches
   * before any request is decoded; an instance reports the real rows of each batch.
   */
  #rowsPerRequest = 1;
  readonly #metrics: ServerMetrics | undefined;
  readonly #tracing: ServeTracing | undefined;
  readonly #labels: { model: string; version: string };
  readonly #series: ModelSeries | undefined;
  /** Unregisters `#flushSeries` from the registry's reads. */
  readonly #stopCollect: (() => void) | undefined;
  /** Requests accepted and not yet answered; the in-flight gauge reads it when collected. */
  #inFlight = 0;
  readonly #parameters: Record<string, unknown> | undefined;
  /** Whether the model imputes missing values, so JSON null in its FP inputs is NaN. */
  readonly #missingAsNaN: boolean;
  #closing: Promise<void> | undefined;
  readonly #statistics = new StatisticsRecorder();
  /** The folder's config.pbtxt, read, if it has one. */
  readonly tritonConfig: TritonConfig | undefined;

  private constructor(
    spec: ServedModelSpec,
    pool: InstancePool,
    hooks: ServedModelHooks,
    parameters: Record<string, unknown> | undefined,
  ) {
    this.name = spec.name;
    this.version = spec.version;
    this.#settings = spec.settings;
    this.signature = pool.signature();
    this.#pool = pool;
    this.#metrics = hooks.metrics;
    this.#tracing = hooks.tracing;
    this.#labels = { model: spec.name, version: spec.version };
    this.#series = hooks.metrics ? new ModelSeries(hooks.metrics, this.#labels) : undefined;
    this.#stopCollect = hooks.metrics?.onCollect(() => this.#flushSeries());
    this.#parameters = parameters;
    this.#missingAsNaN = parameters?.missing_values !== undefined;
    this.tritonConfig = spec.tritonConfig;
    const s = spec.settings;
    this.#batcher = new DynamicBatcher<RawWork, Answered>(
      {
        run: (works) => this.#runBatch(works),
        get idle() {
          return pool.idle;
        },
        onIdle: (listener) => pool.onIdle(listener),
      },
      {
        // A model without a dynamic first dimension cannot merge requests.
        maxBatchSize: this.signature.batchable ? s.maxBatchSize : 0,
        maxQueueDelayMs: s.maxQueueDelayMs,
        maxQueue: s.maxQueue,
        requestTimeoutMs: s.requestTimeoutMs,
      },
      { onBatch: (info) => this.#recordBatch(info) },
    );
    this.#metrics?.claim(this.name, this.version, this);
    this.#metrics?.instances.set(this.#labels, s.instances);
    this.#metrics?.threads.set(this.#labels, s.instances * s.intraOpThreads);
    this.#metrics?.ready.set(this.#labels, 1);
  }

  /**
   * Loads a model version: reads the file, starts its instances and waits until all are ready.
   * @throws {ModelLoadError} when the file is missing or onnxruntime cannot load it.
   */
  static async load(spec: ServedModelSpec, hooks: ServedModelHooks = {}): Promise<ServedModel> {
    const { pool, parameters } = await openModelVersion(spec, hooks);
    return new ServedModel(spec, pool, hooks, parameters);
  }

  /** How the version is served; instances and intra-op threads follow `resize()`. */
  get settings(): ModelSettings {
    return this.#settings;
  }

  /**
   * Changes the instances and their intra-op threads while the version serves, without dropping a
   * request (see `InstancePool.resize`).
   * @returns whether anything changed.
   * @throws {ModelLoadError} (rejects) when a new instance cannot load; the old ones keep serving.
   * @throws {ModelNotReadyError} (rejects) while the version is being unloaded.
   */
  async resize(size: {
    readonly instances: number;
    readonly intraOpThreads: number;
  }): Promise<boolean> {
    if (this.#closing)
      throw new ModelNotReadyError(
        `model "${this.name}" version ${this.version} is being unloaded`,
      );
    const s = this.#settings;
    if (size.instances === s.instances && size.intraOpThreads === s.intraOpThreads) return false;
    try {
      await this.#pool.resize(size);
    } catch (err) {
      if (err instanceof ModelLoadError)
        throw new ModelLoadError(`${this.name} version ${this.version}: ${err.message}`, {
          cause: err,
        });
      throw err;
    }
    this.#settings = Object.freeze({
      ...s,
      instances: size.instances,
      intraOpThreads: size.intraOpThreads,
    });
    if (!this.#closing) {
      this.#metrics?.instances.set(this.#labels, size.instances);
      this.#metrics?.threads.set(this.#labels, size.instances * size.intraOpThreads);
    }
    return true;
  }

  /** The protocol's model metadata. */
  metadata(): ModelMetadata {
    return {
      name: this.name,
      versions: [this.version],
      platform: 'onnxruntime_onnx',
      inputs: this.signature.inputs,
      outputs: this.signature.outputs,
      ...(this.#parameters ? { parameters: this.#parameters } : {}),
    };
  }

  /** READY when every instance can take work. */
  health(): ModelHealth {
    if (this.#closing) return { state: 'UNLOADING', reason: 'the model version is being unloaded' };
    const pool = this.#pool.health();
    return pool.ready
      ? { state: 'READY' }
      : { state: 'UNAVAILABLE', reason: pool.reason ?? 'not ready' };
  }

  /**
   * Answers one inference request: queues its body for a batch, which an instance decodes,
   * checks, runs and encodes.
   * @param body The request body: a Buffer (JSON, or the binary extension's layout), a string of
   *   JSON, or an object, which is sent as its JSON.
   * @param headers Request headers; only `inference-header-content-length` is read.
   * @param signal Aborted when the client goes away; a queued request is then dropped unrun.
   * @param trace The request's spans (tracing on): its queue span ends when a batch takes it.
   * @throws {InferenceRequestError | BatchTooLargeError} (400) for a request that does not fit the model.
   * @throws {QueueFullError} (503) when the queue is full; {RequestTimeoutError} (504) past the budget.
   */
  infer(
    body: unknown,
    headers: RequestHeaders,
    signal?: CancelSignal,
    trace?: RequestTrace,
  ): Promise<EncodedResponse> {
    const started = performance.now();
    if (this.#closing)
      return Promise.reject(
        new ModelNotReadyError(`model "${this.name}" version ${this.version} is being unloaded`),
      );
    const headerLength = headers['inference-header-content-length'];
    if (headerLength !== undefined && typeof headerLength !== 'string') {
      this.#finish('client_error', started, 0);
      return Promise.reject(
        new InferenceRequestError(
          `Inference-Header-Content-Length: expected one header with the JSON header's size in bytes, got ${headerLength.length} of them`,
        ),
      );
    }
    // Whole rows: a fraction would keep a batch of one-row requests from filling to maxBatchSize exactly.
    const work: RawWork = {
      body: bodyBytes(body),
      headerLength,
      rows: Math.max(1, Math.round(this.#rowsPerRequest)),
      key: '',
      trace,
    };
    this.#inFlight++;
    return this.#batcher.submit(work, signal).then(
      (answered) => {
        this.#inFlight--;
        this.#finish('success', started, answered.rows);
        return answered.response;
      },
      (err: unknown) => {
        this.#inFlight--;
        this.#finish(outcomeOf(err), started, 0);
        throw err;
      },
    );
  }

  /** Triton-shaped statistics since the version was loaded. */
  statistics(): ModelStatistics {
    return this.#statistics.snapshot(
      this.name,
      this.version,
      this.#batcher.stats(),
      this.#pool.stats(),
    );
  }

  /** Sets the gauges that are read rather than counted (queue depth, readiness); call before a scrape. */
  refreshGauges(): void {
    if (!this.#metrics || this.#closing) return;
    this.#metrics.queueDepth.set(this.#labels, this.#batcher.depth);
    this.#metrics.ready.set(this.#labels, this.health().state === 'READY' ? 1 : 0);
  }

  /**
   * Stops taking requests and closes the instances. With `drain`, queued and running requests are
   * answered first. Safe to call more than once.
   */
  close(options: { drain: boolean }): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.#batcher.close(options);
      } finally {
        await this.#pool.close();
        // What was counted since the last scrape still goes in; the in-flight gauge is dropped below.
        this.#flushSeries(false);
        this.#stopCollect?.();
        this.#metrics?.forget(this.name, this.version, this);
      }
    })();
    // A later call without drain cuts a drain short.
    if (!options.drain) void this.#batcher.close(options);
    return this.#closing;
  }

  /** The batcher's runner: sends a batch's bodies to an instance and reads back each answer. */
  async #runBatch(works: readonly RawWork[]): Promise<BatchRun<Answered>> {
    let headerLengths: (string | undefined)[] | undefined;
    for (let i = 0; i < works.length; i++) {
      if (works[i]!.headerLength !== undefined)
        (headerLengths ??= new Array<string | undefined>(works.length))[i] = works[i]!.headerLength;
    }
    const batchTrace = this.#tracing && startBatchTrace(this.#tracing, this, works);
    let inferred: InferredMessage;
    try {
      inferred = await this.#pool.infer({
        modelName: this.name,
        modelVersion: this.version,
        maxBatchSize: this.signature.batchable ? this.#settings.maxBatchSize : 0,
        ...(this.#missingAsNaN ? { missingAsNaN: true } : {}),
        requests: packBytes(works.map((w) => w.body)),
        ...(headerLengths ? { headerLengths } : {}),
      });
    } catch (err) {
      batchTrace?.runEnded(0, 0, err);
      batchTrace?.end();
      throw err;
    }
    batchTrace?.runEnded(inferred.runRows, inferred.workMs);
    batchTrace?.end();
    return {
      results: this.#readAnswers(inferred),
      rows: inferred.runRows,
      computeMs: inferred.workMs,
    };
  }

  #readAnswers(inferred: InferredMessage): (Answered | Error)[] {
    const { results, rows, answered } = readAnswers(inferred);
    if (answered > 0)
      this.#rowsPerRequest = Math.max(
        1,
        (1 - kRowsWeight) * this.#rowsPerRequest + (kRowsWeight * rows) / answered,
      );
    return results;
  }

  #finish(outcome: Outcome, started: number, rows: number): void {
    const ms = performance.now() - started;
    this.#statistics.request(outcome, ms, rows);
    this.#series?.request(outcome, ms);
  }

  /** Adds the per-request buffers to the registry's series; `ServerMetrics` calls it when they are read. */
  #flushSeries(inFlight = true): void {
    this.#series?.flush(inFlight ? this.#inFlight : undefined);
  }

  #recordBatch(info: BatchInfo): void {
    // A batch of requests that were all refused ran nothing.
    if (info.size === 0) return;
    this.#statistics.batch(info);
    this.#series?.batch(info);
  }
}
