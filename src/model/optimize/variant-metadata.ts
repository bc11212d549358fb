/**
 * The metadata a variant carries: the source model's description (so a server and a scorer treat
 * the variant as the same model) plus what was done to it and measured.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { ArtifactError } from '../../errors.js';
import { version } from '../../version.js';
import { METADATA_FORMAT } from '../artifact.js';
import type { InputStats } from './model-inputs.js';
import type { OptimizeOptions } from './options.js';
import type { OptimizeReport, VariantReport } from './report.js';

/** The preprocessing statistics in a model's metadata, when it has them. */
export function inputStats(metadata: Record<string, unknown> | undefined): InputStats | undefined {
  const pre = metadata?.preprocessing as InputStats | undefined;
  return pre && Array.isArray(pre.numeric?.mean) && Array.isArray(pre.categorical?.vocab)
    ? pre
    : undefined;
}

/** The model's metadata file, parsed; undefined without one. */
export async function readMetadata(
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
 * The variant's metadata: the source's description of the model (schema, task, classes,
 * preprocessing, inputs and outputs, so that a server and a scorer treat it as the same model),
 * without the source's own measurements, plus what was done and measured.
 */
export function variantMetadata(
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
