/**
 * The models a serve sweep measures — the listed models, then the first one's variants — with
 * the `mlscale serve` flags that serve each and what `mlscale optimize` recorded of each variant.
 *
 * @module
 */
import { METADATA_FILE, metadataPathOf, variantFiles } from '../model/artifact.js';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InvalidOptionError } from '../errors.js';
import type { VariantInfo } from './sweep-schema.js';

/** A served artifact's name, as `mlscale serve --model PATH [--variant V]` names it: the folder's or file's name (-V). */
export function modelNameOf(path: string, variant?: string): string {
  const name = basename(resolve(path)).replace(/\.onnx$/i, '');
  return variant === undefined ? name : `${name}-${variant}`;
}

/** One model the sweep measures: its served name, the server flags that serve it, and its metadata file. */
export interface SweepTarget {
  readonly name: string;
  readonly args: readonly string[];
  readonly metadataPath?: string;
}

/** The models to measure: each listed model, then the first one's variants. */
export async function sweepTargets(o: {
  readonly model: string;
  readonly modelRepository?: string;
  readonly variants?: readonly string[];
}): Promise<SweepTarget[]> {
  const models = o.model.split(',').map((m) => m.trim());
  const variants = o.variants ?? [];
  if (o.modelRepository !== undefined) {
    const root = resolve(o.modelRepository);
    const names = [...models, ...variants.map((v) => `${models[0]}-${v}`)];
    return Promise.all(
      names.map(async (name) => ({
        name,
        args: ['--model-repository', o.modelRepository!],
        metadataPath: await latestMetadata(join(root, name)),
      })),
    );
  }
  const targets: SweepTarget[] = [];
  for (const path of models)
    targets.push({
      name: modelNameOf(path),
      args: ['--model', path],
      metadataPath: await singleMetadata(path),
    });
  for (const v of variants)
    targets.push({
      name: modelNameOf(models[0]!, v),
      args: ['--model', models[0]!, '--variant', v],
      metadataPath: await singleMetadata(models[0]!, v),
    });
  const names = targets.map((t) => t.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined)
    throw new InvalidOptionError(
      `--model: two of the models would be served as "${twice}"; give folders or files with different names`,
    );
  return targets;
}

/** `<dir>/<highest version>/metadata.json`, as the server would read it. */
async function latestMetadata(dir: string): Promise<string | undefined> {
  const versions = (await readdir(dir).catch(() => [] as string[]))
    .filter((v) => /^[1-9][0-9]{0,15}$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(dir, versions[0]!, METADATA_FILE) : undefined;
}

async function singleMetadata(path: string, variant?: string): Promise<string | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory())
    return join(path, variant === undefined ? METADATA_FILE : variantFiles(variant).metadata);
  return metadataPathOf(path);
}

/** What mlscale optimize recorded in a variant's metadata: its variant kind, size and accuracy cost. */
export async function variantInfo(t: SweepTarget, of: string): Promise<VariantInfo> {
  let meta: {
    variant?: string;
    optimization?: {
      variant?: string;
      measured?: { sizeRatio?: number; quality?: Record<string, unknown> };
      settings?: { maxAccuracyDrop?: number };
    };
  } = {};
  try {
    if (t.metadataPath !== undefined) meta = JSON.parse(await readFile(t.metadataPath, 'utf8'));
  } catch {
    // A model without (readable) metadata is still measured; its accuracy cost is unknown.
  }
  const opt = meta.optimization;
  const q = opt?.measured?.quality as
    (VariantInfo['quality'] & Record<string, unknown>) | undefined;
  const quality: VariantInfo['quality'] | undefined =
    q?.kind === 'data'
      ? {
          kind: 'data',
          metric: q.metric,
          original: q.original,
          value: q.value,
          drop: q.drop,
          rows: q.rows,
          split: q.split,
        }
      : q?.kind === 'agreement'
        ? {
            kind: 'agreement',
            rows: q.rows,
            maxAbsDiff: q.maxAbsDiff,
            ...(q.top1 !== undefined ? { top1: q.top1 } : {}),
            ...(q.drop !== undefined ? { drop: q.drop } : {}),
          }
        : undefined;
  return {
    model: t.name,
    variant: opt?.variant ?? meta.variant ?? null,
    of,
    ...(opt?.measured?.sizeRatio !== undefined ? { sizeRatio: opt.measured.sizeRatio } : {}),
    ...(quality ? { quality } : {}),
    ...(opt?.settings?.maxAccuracyDrop !== undefined
      ? { maxAccuracyDrop: opt.settings.maxAccuracyDrop }
      : {}),
  };
}
