/**
 * `optimizeModel`: the job behind `mlscale optimize` — make INT8, FP16 and graph-optimised
 * variants of a model, measure each against the original in the same run (rows/s at batch 1 and
 * at the serving batch, load time, size, accuracy or agreement), and write the variants that are
 * not slower and lose no more accuracy than allowed, each with a metadata file saying what was
 * done, from which model, and what was measured.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { cpus, platform, arch, availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { ArtifactError } from '../../errors.js';
import { version } from '../../version.js';
import { METADATA_FORMAT } from '../artifact.js';
import { compareOutputs, type Agreement } from './agreement.js';
import { loadLabelledRows, scoreModel } from './data-quality.js';
import { kVariantDescriptions, makeVariant, type VariantDetails } from './make-variant.js';
import {
  measureLoad,
  measureSpeeds,
  type SpeedPoint,
  type SpeedTable,
  type TimedModel,
} from './measure-speed.js';
import { locateModel, type VariantTarget } from './model-location.js';
import {
  createMeasureSession,
  describeInputs,
  isBatchable,
  syntheticFeeds,
  type InputStats,
} from './model-inputs.js';
import { readModelFile } from './onnx-model.js';
import {
  kSlowerBelow,
  kVariantKinds,
  resolveOptimizeOptions,
  type OptimizeOptions,
  type VariantKind,
} from './options.js';
import { u8s8Saturates } from './saturation-probe.js';
import { writeVariant } from './write-variant.js';

/** Accuracy or R² of a variant on labelled rows, against the original's. */
export interface DataQuality {
  readonly kind: 'data';
  readonly metric: 'accuracy' | 'r2';
  readonly original: number;
  readonly value: number;
  /** (original − variant) × 100: percentage points of accuracy, or of R². */
  readonly drop: number;
  readonly rows: number;
  readonly split: string;
}

/** How a variant's outputs compare with the original's: measured on data, or agreement without it. */
export type Quality = DataQuality | (Agreement & { readonly drop?: number });

/** What was made, measured and decided for one variant. */
export interface VariantReport {
  readonly variant: VariantKind;
  readonly description: string;
  readonly applicable: boolean;
  /** What was done, in a few words. */
  readonly summary?: string;
  readonly written: boolean;
  /** The decision in words: written, or why not (and how to force it). */
  readonly verdict: string;
  readonly sizeBytes?: number;
  /** Variant size ÷ original size. */
  readonly sizeRatio?: number;
  readonly speed?: readonly SpeedPoint[];
  /** Median milliseconds to create a session of it. */
  readonly loadMs?: number;
  readonly quality?: Quality;
  readonly target?: VariantTarget;
  readonly details?: VariantDetails;
}

/** Everything `optimizeModel` measured and did. */
export interface OptimizeReport {
  readonly model: {
    readonly path: string;
    readonly name: string;
    readonly kind: 'file' | 'folder' | 'repository';
    readonly sha256: string;
    readonly sizeBytes: number;
    readonly speed: readonly SpeedPoint[];
    readonly loadMs: number;
    readonly score?: {
      readonly metric: 'accuracy' | 'r2';
      readonly value: number;
      readonly rows: number;
      readonly split: string;
    };
  };
  readonly variants: readonly VariantReport[];
  readonly measurement: {
    readonly batchSizes: readonly number[];
    readonly repeats: number;
    readonly measureMs: number;
    readonly threads: number;
    readonly onnxruntime: string;
    readonly machine: {
      readonly cpus: number;
      readonly cpuModel: string;
      readonly platform: string;
      readonly u8s8Saturates: boolean;
    };
  };
  readonly options: Readonly<OptimizeOptions>;
}

/** Parts `optimizeModel` lets a caller replace (tests inject speeds; no test may time anything). */
export interface OptimizeHooks {
  readonly measureSpeeds?: (
    models: readonly TimedModel[],
    batchSizes: readonly number[],
  ) => Promise<SpeedTable>;
  /** One line per step, for a progress display. */
  readonly onProgress?: (line: string) => void;
}

function inputStats(metadata: Record<string, unknown> | undefined): InputStats | undefined {
  const pre = metadata?.preprocessing as InputStats | undefined;
  return pre && Array.isArray(pre.numeric?.mean) && Array.isArray(pre.categorical?.vocab)
    ? pre
    : undefined;
}

async function readMetadata(
  path: string | undefined,
): Promise<Record<string, unknown> | undefined> {
  if (path === undefined) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ArtifactError(
      `${path}: cannot read the model's metadata: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Makes, measures and writes the variants of a model.
 * @throws ModelNotFoundError, NotOnnxError, OnnxCorruptError, NothingToQuantizeError (with an
 *   explicit int8), InvalidOptionError, and the data source's errors with `data`.
 */
export async function optimizeModel(
  options: Partial<OptimizeOptions> & { model: string },
  hooks: OptimizeHooks = {},
): Promise<OptimizeReport> {
  const o = resolveOptimizeOptions(options);
  const say = hooks.onProgress ?? (() => undefined);
  const where = await locateModel(o.model, o.modelRepository, o.out);
  const { bytes, model } = await readModelFile(where.modelPath);
  const metadata = await readMetadata(where.metadataPath);
  const explicit = o.variants.length > 0;
  const kinds: readonly VariantKind[] = explicit ? o.variants : kVariantKinds;

  const made = [];
  for (const kind of kinds) {
    say(`making the ${kind} variant`);
    made.push(await makeVariant(kind, bytes, model, where.modelPath, o, explicit));
  }
  const built = made.filter((m) => m.applicable);
  const original = await createMeasureSession(bytes, where.modelPath, o.threads);
  const sessions: TimedModel[] = [{ name: 'original', session: original }];
  try {
    for (const m of built)
      sessions.push({
        name: m.kind,
        session: await createMeasureSession(
          m.bytes,
          `the ${m.kind} variant of ${where.modelPath}`,
          o.threads,
        ),
      });
    const inputs = describeInputs(original);
    const stats = inputStats(metadata);
    const fixedRows = inputs[0]?.shape[0];
    const batchSizes = isBatchable(inputs)
      ? [...new Set([1, o.batchSize])]
      : [typeof fixedRows === 'number' && fixedRows > 0 ? fixedRows : 1];
    say(
      `measuring rows/s at batch ${batchSizes.join(' and ')}: ${o.repeats} interleaved repeats of ${o.measureMs} ms per model`,
    );
    const feedCache = new Map<number, ReturnType<typeof syntheticFeeds>>();
    const feedsFor = (batch: number) =>
      feedCache.get(batch) ??
      feedCache.set(batch, syntheticFeeds(inputs, batch, 7, stats)).get(batch)!;
    const speeds = hooks.measureSpeeds
      ? await hooks.measureSpeeds(sessions, batchSizes)
      : await measureSpeeds(sessions, feedsFor, {
          batchSizes,
          repeats: o.repeats,
          blockMs: o.measureMs,
        });
    say('measuring load times');
    const loads = new Map<string, number>();
    loads.set(
      'original',
      await measureLoad(() => createMeasureSession(bytes, where.modelPath, o.threads), 2),
    );
    for (const m of built)
      loads.set(
        m.kind,
        await measureLoad(() => createMeasureSession(m.bytes, m.kind, o.threads), 2),
      );

    say(
      o.data !== undefined
        ? `scoring on ${o.data}`
        : `comparing outputs on ${o.agreementRows} made-up rows`,
    );
    const qualities = new Map<string, Quality>();
    let score: OptimizeReport['model']['score'];
    const chunk = Math.max(...batchSizes);
    if (o.data !== undefined) {
      const rows = await loadLabelledRows(o.data, o.label, metadata, inputs, o.maxDataRows);
      const base = await scoreModel(original, rows, chunk);
      score = { metric: base.metric, value: base.value, rows: rows.rows, split: rows.split };
      for (const s of sessions.slice(1)) {
        const v = await scoreModel(s.session, rows, chunk);
        qualities.set(s.name, {
          kind: 'data',
          metric: v.metric,
          original: base.value,
          value: v.value,
          drop: (base.value - v.value) * 100,
          rows: rows.rows,
          split: rows.split,
        });
      }
    } else {
      const feeds = syntheticFeeds(
        inputs,
        isBatchable(inputs) ? o.agreementRows : batchSizes[0]!,
        11,
        stats,
      );
      const rows = feeds[inputs[0]!.name]!.dims[0]!;
      const basis = stats
        ? "drawn from the model's preprocessing statistics"
        : "random normal values shaped by the model's inputs";
      for (const s of sessions.slice(1)) {
        const a = await compareOutputs(original, s.session, feeds, rows, basis, chunk);
        qualities.set(s.name, {
          ...a,
          ...(a.top1 !== undefined ? { drop: (1 - a.top1) * 100 } : {}),
        });
      }
    }

    const originalSize = bytes.length;
    const saturates = await u8s8Saturates();
    const measurement: OptimizeReport['measurement'] = {
      batchSizes,
      repeats: o.repeats,
      measureMs: o.measureMs,
      threads: o.threads,
      onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
      machine: {
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
        platform: `${platform()} ${arch()}`,
        u8s8Saturates: saturates,
      },
    };
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const servingBatch = batchSizes[batchSizes.length - 1]!;
    const reports: VariantReport[] = [];
    for (const m of made) {
      const description = kVariantDescriptions[m.kind];
      if (!m.applicable) {
        reports.push({
          variant: m.kind,
          description,
          applicable: false,
          written: false,
          verdict: `does not apply: ${m.reason}`,
          ...(m.details ? { details: m.details } : {}),
        });
        continue;
      }
      const speed = speeds.get(m.kind) ?? [];
      const quality = qualities.get(m.kind);
      const atServing = speed.find((p) => p.batch === servingBatch);
      const problems: string[] = [];
      if (atServing && atServing.ratio < kSlowerBelow && atServing.ratios.every((q) => q < 1))
        problems.push(
          `is slower than the original at batch ${servingBatch} (${atServing.ratio.toFixed(2)}x rows/s)`,
        );
      if (
        quality?.drop !== undefined &&
        (Number.isNaN(quality.drop) || quality.drop > o.maxAccuracyDrop)
      ) {
        problems.push(
          quality.kind === 'data'
            ? `loses ${quality.drop.toFixed(2)} points of ${quality.metric === 'r2' ? 'R²' : 'accuracy'} (more than --max-accuracy-drop ${o.maxAccuracyDrop})`
            : `changes the top-1 class of ${quality.drop.toFixed(2)}% of rows, which could cost that much accuracy (more than --max-accuracy-drop ${o.maxAccuracyDrop}; give --data to measure accuracy itself)`,
        );
      }
      const write = problems.length === 0 || o.force;
      const target = where.target(m.kind);
      const verdict =
        problems.length === 0
          ? `written: ${target.modelPath}`
          : write
            ? `written (--force) although it ${problems.join(' and ')}: ${target.modelPath}`
            : `not written: it ${problems.join(' and ')}; --force writes it anyway`;
      const report: VariantReport = {
        variant: m.kind,
        description,
        applicable: true,
        summary: m.summary,
        written: write,
        verdict,
        sizeBytes: m.bytes.length,
        sizeRatio: m.bytes.length / originalSize,
        speed,
        loadMs: loads.get(m.kind)!,
        ...(quality ? { quality } : {}),
        target,
        details: m.details,
      };
      if (write) {
        say(`writing ${target.modelPath}`);
        await writeVariant(
          target,
          m.bytes,
          variantMetadata(
            metadata,
            report,
            {
              path: where.modelPath,
              sha256,
              bytes: originalSize,
              metadata: where.metadataPath ?? null,
              speed: speeds.get('original') ?? [],
              loadMs: loads.get('original')!,
              score,
            },
            measurement,
            o,
          ),
        );
      }
      reports.push(report);
    }
    return {
      model: {
        path: where.modelPath,
        name: where.name,
        kind: where.kind,
        sha256,
        sizeBytes: originalSize,
        speed: speeds.get('original') ?? [],
        loadMs: loads.get('original')!,
        ...(score ? { score } : {}),
      },
      variants: reports,
      measurement,
      options: o,
    };
  } finally {
    for (const s of sessions) await s.session.release().catch(() => undefined);
  }
}

/**
 * The variant's metadata: the source's description of the model (schema, task, classes,
 * preprocessing, inputs and outputs, so that a server and a scorer treat it as the same model),
 * without the source's own measurements, plus what was done and measured.
 */
function variantMetadata(
  source: Record<string, unknown> | undefined,
  v: VariantReport,
  from: object,
  measurement: OptimizeReport['measurement'],
  o: Readonly<OptimizeOptions>,
): object {
  const {
    format: _f,
    metrics: _m,
    customMetrics: _c,
    timings: _t,
    variant: _v,
    optimization: _o,
    createdAt: _d,
    ...rest
  } = source ?? {};
  return {
    format: METADATA_FORMAT,
    ...rest,
    variant: v.variant,
    optimization: {
      variant: v.variant,
      description: v.description,
      summary: v.summary,
      source: from,
      settings: {
        int8Ops: o.int8Ops,
        reduceRange: o.reduceRange,
        int8MinWeights: o.int8MinWeights,
        maxAccuracyDrop: o.maxAccuracyDrop,
        force: o.force,
      },
      details: v.details,
      measured: {
        sizeBytes: v.sizeBytes,
        sizeRatio: v.sizeRatio,
        speed: v.speed,
        loadMs: v.loadMs,
        quality: v.quality,
        verdict: v.verdict,
      },
      measurement,
      mlscale: version,
      createdAt: new Date().toISOString(),
    },
  };
}
