/**
 * The options of `sweepServe` (sweep-serve.ts): what it takes, their defaults, and their
 * validation.
 *
 * @module
 */
import { checkInteger, checkNumber, dropUndefined } from '../util/options.js';
import { InvalidOptionError } from '../errors.js';
import { parseGridList, parseNumberList } from './sweep-grid.js';

/** What `sweepServe` takes. Lists are the grid; every other value is one setting for the whole sweep. */
export interface ServeSweepOptions {
  /** A model repository folder (`<repo>/<model>/<version>/model.onnx`); with `model` naming one of its models. */
  readonly modelRepository?: string;
  /**
   * The model's name in the repository, or, without `modelRepository`, an artifact folder or .onnx
   * file; several, comma-separated, are measured one after the other on every configuration, the
   * first being the base the others are weighed against.
   */
  readonly model: string;
  /**
   * Variants of the first model to measure beside it, e.g. `['int8']`: the repository's sibling
   * model `<model>-int8`, or an artifact folder's `model.int8.onnx` (served with --variant).
   */
  readonly variants?: readonly string[];
  readonly replicas: readonly number[];
  readonly instances: readonly number[];
  readonly maxBatchSize: readonly number[];
  /** Milliseconds or 'auto'. */
  readonly maxQueueDelayMs: readonly (number | 'auto')[];
  /**
   * onnxruntime threads per instance, the same in every configuration so that configurations
   * differing in replicas or instances form a scaling series of equal units; default: cores /
   * the largest replicas × instances of the grid (at least 1), so the largest one fills the cores.
   */
  readonly intraOpThreads?: number;
  /** The latency objective: p99 at most this, in ms. */
  readonly sloP99Ms: number;
  /** Rows in each request. */
  readonly rowsPerRequest: number;
  /**
   * Request bodies to send in turn instead of random rows (`--body-file`: one inference request
   * per line, checked by `body-file.ts`); `rowsPerRequest` should then say how many rows they hold.
   */
  readonly bodies?: readonly Uint8Array[];
  /** Length of each load point, in ms (warm-up excluded). */
  readonly pointDurationMs: number;
  /** Warm-up before each point, in ms: sent but not measured. */
  readonly warmupMs: number;
  /** Open-loop points per configuration after the closed-loop probe. */
  readonly maxPoints: number;
  /** Connections of the closed-loop probe. */
  readonly probeConnections: number;
  /** Share of a point's requests that may fail and the point still pass (0 = none). */
  readonly errorAllowance: number;
  /** How long a server may take to become ready, in ms. */
  readonly readyTimeoutMs: number;
  /** One line per step: configuration started, point measured. */
  readonly onProgress?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** Defaults of everything but the model and the grid. */
export const kDefaultServeSweepOptions = {
  replicas: [1],
  instances: [1],
  maxBatchSize: [64],
  maxQueueDelayMs: ['auto'],
  sloP99Ms: 50,
  rowsPerRequest: 1,
  pointDurationMs: 5000,
  warmupMs: 1000,
  maxPoints: 6,
  probeConnections: 32,
  errorAllowance: 0.001, // 0.1%: one stray failure in a thousand does not fail a point
  readyTimeoutMs: 60_000,
} as const satisfies Partial<ServeSweepOptions>;

/** Validates and fills serve sweep options; throws `InvalidOptionError` naming the option (the CLI shows its flag). */
export function resolveServeSweepOptions(
  options: Partial<ServeSweepOptions> & { model?: string },
): Readonly<ServeSweepOptions> {
  const o = { ...kDefaultServeSweepOptions, ...dropUndefined(options) } as ServeSweepOptions;
  if (typeof o.model !== 'string' || o.model === '') {
    throw new InvalidOptionError(
      'options.model is required: a model name in options.modelRepository, or an artifact folder',
    );
  }
  const replicas = parseNumberList('options.replicas', o.replicas, { min: 1, max: 64 });
  const instances = parseNumberList('options.instances', o.instances, { min: 1, max: 64 });
  const maxBatchSize = parseNumberList('options.maxBatchSize', o.maxBatchSize, {
    min: 1,
    max: 1 << 20,
  });
  const maxQueueDelayMs = parseGridList('options.maxQueueDelayMs', o.maxQueueDelayMs, {
    min: 0,
    max: 60_000,
    integer: false,
    words: ['auto'],
  }) as (number | 'auto')[];
  if (o.intraOpThreads !== undefined) checkInteger('intraOpThreads', o.intraOpThreads, 1, 256);
  checkNumber('sloP99Ms', o.sloP99Ms, 0.01, 600_000);
  checkInteger('rowsPerRequest', o.rowsPerRequest, 1, 1 << 20);
  checkInteger('pointDurationMs', o.pointDurationMs, 100, 3_600_000);
  checkInteger('warmupMs', o.warmupMs, 0, 600_000);
  checkInteger('maxPoints', o.maxPoints, 1, 100);
  checkInteger('probeConnections', o.probeConnections, 1, 4096);
  checkNumber('errorAllowance', o.errorAllowance, 0, 0.5);
  checkInteger('readyTimeoutMs', o.readyTimeoutMs, 1000, 3_600_000);
  const models = o.model.split(',').map((m) => m.trim());
  if (models.some((m) => m === '') || new Set(models).size !== models.length)
    throw new InvalidOptionError(
      `options.model must name each model once, comma-separated, got ${JSON.stringify(o.model)}`,
    );
  if (
    o.variants !== undefined &&
    (!Array.isArray(o.variants) ||
      o.variants.some((v) => typeof v !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(v)))
  ) {
    throw new InvalidOptionError(
      `options.variants must be a comma-separated list of variant names such as int8,fp16, got ${JSON.stringify(o.variants)}`,
    );
  }
  const tooSmall = maxBatchSize.filter((b) => b < o.rowsPerRequest);
  if (tooSmall.length > 0) {
    throw new InvalidOptionError(
      `options.maxBatchSize ${tooSmall[0]} is smaller than options.rowsPerRequest ${o.rowsPerRequest}: every request would be refused as too large; list batch sizes of at least ${o.rowsPerRequest}`,
    );
  }
  return Object.freeze({ ...o, replicas, instances, maxBatchSize, maxQueueDelayMs });
}
