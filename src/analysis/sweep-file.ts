/**
 * Reading and writing sweep files (`<dir>/sweep.json`, see sweep-schema.ts). A reader checks what
 * it reads before anyone uses it: a missing file, text that is not JSON (line and column), another
 * kind or schema version, a field of the wrong type (its JSON path), and a grid that is empty or
 * contradicts itself all become coded errors that name the file.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SweepFileError, SweepVersionError } from '../errors.js';
import { jsonErrorOffset, lineColumn } from './json-position.js';
import { kReadableSweepVersions, kSweepSchemaVersion, type SweepFile } from './sweep-schema.js';

/** The file name a sweep folder holds. */
export const kSweepFileName = 'sweep.json';

/**
 * Reads and checks a sweep file.
 *
 * @param path a `sweep.json`, or a folder holding one
 * @returns the sweep, checked against the schema and for a consistent grid
 * @throws SweepFileError missing, unreadable, not JSON, not a sweep, empty or inconsistent grid
 * @throws SweepVersionError written with another schema version
 * @example const sweep = await readSweepFile('reports/serve');
 */
export async function readSweepFile(path: string): Promise<SweepFile> {
  if (typeof path !== 'string' || path === '')
    throw new TypeError(`path must be a non-empty string, got ${JSON.stringify(path)}`);
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, kSweepFileName);
  } catch (err) {
    throw new SweepFileError(
      `${path}: no such file or folder (give a sweep.json or the folder 'mlscale sweep --out' wrote)`,
      { cause: err },
    );
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `the folder ${path} holds no ${kSweepFileName}`
        : `${file} cannot be read (${code ?? (err as Error).message})`;
    throw new SweepFileError(why, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const { line, column } = lineColumn(text, jsonErrorOffset(text));
    throw new SweepFileError(
      `${file}:${line}:${column}: not valid JSON (${(err as Error).message})`,
      { cause: err },
    );
  }
  return checkSweep(value, file);
}

/**
 * Writes `<dir>/sweep.json` atomically (a temporary file renamed over it), creating `dir`. The sweep
 * is checked after it is written, so that a measurement that took minutes is never lost to a
 * check: one that would not read back is on disk and the error says why.
 *
 * @returns the path of the file written
 * @throws SweepFileError after writing, when the file would not read back
 */
export async function writeSweepFile(dir: string, sweep: SweepFile): Promise<string> {
  if (typeof dir !== 'string' || dir === '')
    throw new TypeError(`dir must be a non-empty string, got ${JSON.stringify(dir)}`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, kSweepFileName);
  const tmp = join(dir, `.${kSweepFileName}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, JSON.stringify(sweep, null, 2) + '\n');
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  try {
    checkSweep(JSON.parse(JSON.stringify(sweep)), file);
  } catch (err) {
    throw new SweepFileError(
      `${file} was written, but will not read back: ${(err as Error).message.replace(`${file}: `, '')}`,
      { cause: err },
    );
  }
  return file;
}

type Json = Record<string, unknown>;

/**
 * Checks that `value` is a sweep this build reads, with a consistent grid; returns it typed.
 * `file` names the source in messages.
 */
export function checkSweep(value: unknown, file: string): SweepFile {
  const at = (path: string, what: string, got: unknown): never => {
    throw new SweepFileError(`${file}: ${path} must be ${what}, got ${describe(got)}`);
  };
  if (!isObject(value)) return at('the top level', 'an object (a sweep)', value);
  const version = value.schemaVersion;
  if (typeof version !== 'number') return at('schemaVersion', 'a number', version);
  if (!kReadableSweepVersions.includes(version)) {
    throw new SweepVersionError(
      `${file} has schema version ${version}; this mlscale reads versions ${kReadableSweepVersions.join(' and ')} (and writes ${kSweepSchemaVersion})`,
    );
  }
  if (value.kind !== 'serve' && value.kind !== 'pipeline')
    return at('kind', `"serve" or "pipeline"`, value.kind);
  const num = (obj: Json, key: string, path: string, min = 0): number => {
    const v = obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
      at(`${path}.${key}`, `a number ≥ ${min}`, v);
    return v as number;
  };
  const obj = (parent: Json, key: string, path: string): Json => {
    const v = parent[key];
    if (!isObject(v)) at(`${path}.${key}`, 'an object', v);
    return v as Json;
  };
  const arr = (parent: Json, key: string, path: string): unknown[] => {
    const v = parent[key];
    if (!Array.isArray(v)) at(`${path}.${key}`, 'an array', v);
    if ((v as unknown[]).length === 0)
      throw new SweepFileError(`${file}: ${path}.${key} is empty: the sweep measured nothing`);
    return v as unknown[];
  };
  num(obj(value, 'machine', '$'), 'cpus', '$.machine', 1);
  if (value.kind === 'serve') {
    num(value, 'rowsPerRequest', '$', 1);
    num(value, 'sloP99Ms', '$', 0);
    if (typeof value.model !== 'string' || value.model === '')
      at('$.model', 'a model name', value.model);
    if (
      value.models !== undefined &&
      (!Array.isArray(value.models) || value.models.some((m) => typeof m !== 'string'))
    )
      at('$.models', 'an array of model names', value.models);
    if (
      value.variants !== undefined &&
      (!Array.isArray(value.variants) ||
        value.variants.some((v) => !isObject(v) || typeof v.model !== 'string'))
    )
      at('$.variants', 'an array of { model, variant, of, ... }', value.variants);
    const seen = new Map<string, number>();
    arr(value, 'configs', '$').forEach((c, i) => {
      const p = `$.configs[${i}]`;
      if (!isObject(c)) return at(p, 'an object', c);
      const config = obj(c, 'config', p);
      for (const k of ['replicas', 'instances', 'intraOpThreads', 'maxBatchSize'])
        num(config, k, `${p}.config`, 1);
      const delay = config.maxQueueDelayMs;
      if (delay !== 'auto' && (typeof delay !== 'number' || delay < 0))
        at(`${p}.config.maxQueueDelayMs`, `a number ≥ 0 or "auto"`, delay);
      if (config.model !== undefined && (typeof config.model !== 'string' || config.model === ''))
        at(`${p}.config.model`, 'a model name', config.model);
      const key = JSON.stringify([
        config.model ?? value.model,
        config.replicas,
        config.instances,
        config.intraOpThreads,
        config.maxBatchSize,
        delay,
      ]);
      const first = seen.get(key);
      if (first !== undefined)
        throw new SweepFileError(
          `${file}: ${p} measures the same configuration as $.configs[${first}] (${config.model ?? value.model}: ${configLabel(config)}): the grid is inconsistent`,
        );
      seen.set(key, i);
      num(c, 'maxRateAtSlo', p);
      if (!Array.isArray(c.points)) at(`${p}.points`, 'an array', c.points);
      (c.points as unknown[]).forEach((pt, j) => {
        const q = `${p}.points[${j}]`;
        if (!isObject(pt)) return at(q, 'an object', pt);
        if (pt.offeredRate !== null) num(pt, 'offeredRate', q);
        num(pt, 'achievedRate', q);
        const lat = obj(pt, 'latencyMs', q);
        for (const k of ['p50', 'p90', 'p99']) num(lat, k, `${q}.latencyMs`);
        if ((lat.p50 as number) > (lat.p99 as number))
          throw new SweepFileError(
            `${file}: ${q}.latencyMs has p50 ${lat.p50} above p99 ${lat.p99}: the point contradicts itself`,
          );
      });
      if (c.cpuUtilisation !== null && c.cpuUtilisation !== undefined) num(c, 'cpuUtilisation', p);
      if (c.meanBatchSize !== null && c.meanBatchSize !== undefined) num(c, 'meanBatchSize', p);
    });
    // Variants are weighed against the base model: it must have been measured.
    if (![...seen.keys()].some((k) => JSON.parse(k)[0] === value.model)) {
      throw new SweepFileError(
        `${file}: no configuration measured the model "${value.model}" ($.model), which the other models are compared to`,
      );
    }
  } else {
    if (value.executor !== 'inline' && value.executor !== 'threads' && value.executor !== 'bullmq')
      at('$.executor', '"inline", "threads" or "bullmq"', value.executor);
    if (value.label !== undefined && typeof value.label !== 'string')
      at('$.label', 'a column name', value.label);
    if (value.model !== undefined && typeof value.model !== 'string')
      at('$.model', 'a model family', value.model);
    if (value.epochs !== undefined) num(value, 'epochs', '$', 1);
    if (
      value.statistic !== undefined &&
      value.statistic !== 'median' &&
      value.statistic !== 'fastest'
    )
      at('$.statistic', '"median" or "fastest"', value.statistic);
    const seen = new Map<string, number>();
    arr(value, 'points', '$').forEach((pt, i) => {
      const p = `$.points[${i}]`;
      if (!isObject(pt)) return at(p, 'an object', pt);
      for (const k of ['batches', 'workers', 'batchSize', 'rows']) num(pt, k, p, 1);
      const seconds = num(pt, 'seconds', p);
      if (seconds <= 0) at(`${p}.seconds`, 'a number > 0', seconds);
      if ((pt.batches as number) * (pt.batchSize as number) < (pt.rows as number)) {
        throw new SweepFileError(
          `${file}: ${p} has ${pt.rows} rows in ${pt.batches} batches of ${pt.batchSize}: more rows than the batches hold`,
        );
      }
      if (pt.peakRssMiB !== undefined) num(pt, 'peakRssMiB', p);
      if (pt.taskSeconds !== undefined) num(pt, 'taskSeconds', p);
      if (pt.runSeconds !== undefined) {
        if (!Array.isArray(pt.runSeconds))
          at(`${p}.runSeconds`, 'an array of seconds', pt.runSeconds);
        (pt.runSeconds as unknown[]).forEach((s, j) => {
          if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0)
            at(`${p}.runSeconds[${j}]`, 'a number > 0', s);
        });
      }
      const key = `${pt.batches}/${pt.workers}/${pt.batchSize}`;
      const first = seen.get(key);
      if (first !== undefined)
        throw new SweepFileError(
          `${file}: ${p} repeats the grid point of $.points[${first}] (${pt.batches} batches, ${pt.workers} workers, batch size ${pt.batchSize}): the grid is inconsistent`,
        );
      seen.set(key, i);
    });
  }
  return value as unknown as SweepFile;
}

/** `2 replicas × 1 instance × 1 thread, batch ≤ 32, delay 2 ms`: a serve configuration in words. */
export function configLabel(
  c:
    | Json
    | {
        replicas: number;
        instances: number;
        intraOpThreads: number;
        maxBatchSize: number;
        maxQueueDelayMs: number | 'auto';
      },
): string {
  const r = c as Json;
  const delay = r.maxQueueDelayMs === 'auto' ? 'auto delay' : `delay ${r.maxQueueDelayMs} ms`;
  return `${r.replicas} replica${r.replicas === 1 ? '' : 's'} × ${r.instances} instance${r.instances === 1 ? '' : 's'} × ${r.intraOpThreads} thread${r.intraOpThreads === 1 ? '' : 's'}, batch ≤ ${r.maxBatchSize}, ${delay}`;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}
