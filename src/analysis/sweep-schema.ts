/**
 * The one schema of the files `mlscale sweep` writes (`<out>/sweep.json`) and `mlscale advise` and
 * the report read. A file carries its `kind` and `schemaVersion`; a reader refuses any other
 * version with a message that names the file, the version found and the version expected.
 *
 * Units are in the field names: `…Ms` milliseconds, `…S` seconds, `…Rate` requests per second.
 *
 * @module
 */

/**
 * The version of the sweep file format this build writes. Version 2 added model variants to serve
 * sweeps (`configs[].config.model`, `models`, `variants`); version 1 files, which measured one
 * model, are still read: their configurations are all of `model`.
 */
export const kSweepSchemaVersion = 2;

/** The versions this build reads. */
export const kReadableSweepVersions: readonly number[] = [1, 2];

/** A schema version this build reads. */
export type SweepSchemaVersion = 1 | 2;

/** The machine a sweep ran on, so that a report can say what its numbers mean. */
export interface MachineInfo {
  /** Logical CPUs (os.availableParallelism()). */
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  /** process.version of the sweeping process. */
  readonly node: string;
  /** `${os.platform()} ${os.arch()}`. */
  readonly platform: string;
}

/** Latency percentiles of one load point, in milliseconds (open loop: from the scheduled send). */
export interface LatencySummaryMs {
  readonly p50: number;
  readonly p90: number;
  /** Written by load runs since thresholds took p95; older sweep files lack it. */
  readonly p95?: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** One load run at one offered rate (open loop) or one connection count (closed loop). */
export interface LoadPoint {
  /** Requests per second offered; null for a closed-loop run. */
  readonly offeredRate: number | null;
  /** Successful (2xx) responses per second. */
  readonly achievedRate: number;
  readonly requests: number;
  /** Requests that did not get a 2xx answer (by status or by kind of failure). */
  readonly errors: number;
  readonly errorsByKind: Readonly<Record<string, number>>;
  readonly latencyMs: LatencySummaryMs;
  /** p99 within the SLO, no errors beyond the allowance, and the generator kept up with the rate. */
  readonly meetsSlo: boolean;
  /** The load generator could not send at the offered rate: this point says nothing of the server. */
  readonly generatorBound: boolean;
}

/** One server configuration of a serve sweep. */
export interface ServeConfig {
  /**
   * The model measured, by its served name (schema 2). Absent in version 1 files, whose
   * configurations all measured the sweep's `model`: read it with `configModel`.
   */
  readonly model?: string;
  readonly replicas: number;
  readonly instances: number;
  readonly intraOpThreads: number;
  readonly maxBatchSize: number;
  /** Milliseconds, or 'auto' for the adaptive batching delay. */
  readonly maxQueueDelayMs: number | 'auto';
}

/** What a serve sweep measured for one configuration. */
export interface ServeConfigResult {
  readonly config: ServeConfig;
  /** The highest offered rate found whose point met the SLO (requests/s); 0 when none did. */
  readonly maxRateAtSlo: number;
  /** p99 latency at that rate (ms); null when no rate met the SLO. */
  readonly p99AtMaxMs: number | null;
  /** Every rate tried by the search, in the order tried: the latency-vs-rate (knee) chart. */
  readonly points: readonly LoadPoint[];
  /** Mean rows per executed batch over the run, from the server's batch-size histogram; null if unknown. */
  readonly meanBatchSize: number | null;
  /** CPU time of the server's processes over wall time, divided by the machine's cores (0..1); null if unknown. */
  readonly cpuUtilisation: number | null;
}

/**
 * What `mlscale optimize` measured for a model variant the sweep served, copied from the
 * variant's metadata when the sweep ran: what it cost in accuracy, where `mlscale optimize`
 * measured it.
 */
export interface VariantInfo {
  /** The variant's served name, e.g. `digits-int8`. */
  readonly model: string;
  /** `int8`, `fp16`, `graph`; null when the model's metadata records no optimisation. */
  readonly variant: string | null;
  /** The sweep's base model it is a variant of. */
  readonly of: string;
  /** Variant file size ÷ the original's, as mlscale optimize measured it. */
  readonly sizeRatio?: number;
  /**
   * Accuracy (or R²) against the original on labelled rows (`kind: 'data'`, `drop` in
   * percentage points), or the agreement of outputs without data (`kind: 'agreement'`, `top1`
   * share of rows with an unchanged class); absent when nothing was measured.
   */
  readonly quality?:
    | {
        readonly kind: 'data';
        readonly metric: 'accuracy' | 'r2';
        readonly original: number;
        readonly value: number;
        readonly drop: number;
        readonly rows: number;
        readonly split: string;
      }
    | {
        readonly kind: 'agreement';
        readonly rows: number;
        readonly top1?: number;
        readonly maxAbsDiff: number;
        readonly drop?: number;
      };
  /** The accuracy limit mlscale optimize applied, in points. */
  readonly maxAccuracyDrop?: number;
}

/** A `mlscale sweep serve` file. */
export interface ServeSweep {
  readonly kind: 'serve';
  readonly schemaVersion: SweepSchemaVersion;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly machine: MachineInfo;
  /** Model name as served, and the repository it came from; with variants, the base model they are compared to. */
  readonly model: string;
  readonly modelRepository: string;
  /** Every model measured, by served name, the base first (schema 2). */
  readonly models?: readonly string[];
  /** What is known of the models other than the base (schema 2). */
  readonly variants?: readonly VariantInfo[];
  /** Rows in each request body the sweep sent. */
  readonly rowsPerRequest: number;
  readonly sloP99Ms: number;
  /** Length of each load point (s). */
  readonly pointDurationS: number;
  readonly configs: readonly ServeConfigResult[];
}

/** One pipeline run of a pipeline sweep. */
export interface PipelinePoint {
  /** Number of batches in the run: the data size n of the O(n) claim. */
  readonly batches: number;
  /** Executor workers (threads, or worker processes for bullmq); 1 for inline. */
  readonly workers: number;
  readonly batchSize: number;
  readonly rows: number;
  /** Wall time of the whole run (s): the repeat the sweep's `statistic` picked. */
  readonly seconds: number;
  /** Every repeat's wall time (s), in the order they ran; absent for one run and in older files. */
  readonly runSeconds?: readonly number[];
  /** Wall time per stage (s), as the pipeline's stats report them. */
  readonly stageSeconds: Readonly<Record<string, number>>;
  /**
   * Peak resident memory of the process that ran the pipeline, after the run (MiB): the
   * driver, and the worker threads with it. Absent in older files.
   */
  readonly peakRssMiB?: number;
  /** Time the executor's tasks took, summed over tasks (s): the work that workers share. */
  readonly taskSeconds?: number;
  /**
   * Time the driver's thread was busy during the run (s): its event loop's active time (merging,
   * averaging, encoding and decoding tasks' data), the part no number of workers shares.
   */
  readonly driverSeconds?: number;
  /**
   * Each worker process kept the batches it ran in a cache of its own (a remote executor handed
   * batches by reference): a later pass finds its batch there only if it lands on that worker.
   */
  readonly workerCaches?: boolean;
  /** The run by phase, for the scaling model (`pipeline-model.ts`); absent in older files. */
  readonly phases?: Readonly<Record<'fit' | 'train' | 'evaluate', PhaseDetail>>;
}

/**
 * One phase of a pipeline run: where its wall time went. `seconds − mapSeconds` is the driver's
 * own work between map calls (merging, averaging, checkpoints); `mapSeconds − taskSeconds` (with
 * one worker) is what each task costs beyond its own work (dispatch, Redis round trips, transfer).
 */
export interface PhaseDetail {
  /** Wall time of the phase (s). */
  readonly seconds: number;
  /** Wall time inside the executor's map calls (s). */
  readonly mapSeconds: number;
  /** Task time summed over the phase's tasks (s). */
  readonly taskSeconds: number;
  /** Of it, getting the batches (built, read or from a cache), where the tasks time it (s). */
  readonly readSeconds?: number;
  /** Tasks (batches) run, and map calls (windows, rounds) made. */
  readonly tasks: number;
  readonly maps: number;
  /** The most tasks one map call carried (a training round's `syncEvery`, a window's size). */
  readonly widestMap: number;
}

/** A `mlscale sweep pipeline` file. */
export interface PipelineSweep {
  readonly kind: 'pipeline';
  readonly schemaVersion: SweepSchemaVersion;
  readonly createdAt: string;
  readonly machine: MachineInfo;
  /** The --data given, e.g. `synthetic:rows=2000000,features=32`. */
  readonly data: string;
  readonly executor: 'inline' | 'threads' | 'bullmq';
  /** The label column, training epochs and model family the runs used (absent in older files): what `mlscale advise --verify` runs again. */
  readonly label?: string;
  readonly epochs?: number;
  readonly model?: string;
  /** Repeats per grid point; `seconds` is the median run's, or the fastest's (`statistic`). */
  readonly repeats: number;
  /** Which repeat each point records; absent in older files: `median`. */
  readonly statistic?: 'median' | 'fastest';
  readonly points: readonly PipelinePoint[];
}

/** Either kind of sweep file. */
export type SweepFile = ServeSweep | PipelineSweep;

/** The model a serve configuration measured: its own (schema 2), or the sweep's (schema 1). */
export function configModel(sweep: Pick<ServeSweep, 'model'>, c: ServeConfigResult): string {
  return c.config.model ?? sweep.model;
}

/** "median of 3", "fastest of 3": how a pipeline point's time was picked from its repeats. */
export function statisticWords(
  statistic: PipelineSweep['statistic'] | undefined,
  repeats: number,
): string {
  return `${statistic === 'fastest' ? 'fastest' : 'median'} of ${repeats}`;
}
