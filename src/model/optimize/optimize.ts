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
import { cpus, platform, arch, availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { compareOutputs } from './agreement.js';
import { loadLabelledRows, scoreModel } from './data-quality.js';
import { kVariantDescriptions, makeVariant } from './make-variant.js';
import { measureLoad, measureSpeeds, type TimedModel } from './measure-speed.js';
import { locateModel } from './model-location.js';
import {
  createMeasureSession,
  describeInputs,
  isBatchable,
  syntheticFeeds,
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
import type {
  DataQuality,
  OptimizeHooks,
  OptimizeReport,
  Quality,
  VariantReport,
} from './report.js';
import { inputStats, readMetadata, variantMetadata } from './variant-metadata.js';

export type { DataQuality, OptimizeHooks, OptimizeReport, Quality, VariantReport };

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
