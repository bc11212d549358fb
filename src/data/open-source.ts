/**
 * Turns what the user named (`--data`) into a data source.
 *
 * Accepted forms:
 * - `synthetic:key=value,...` → {@link SyntheticSource}
 * - `sample:NAME`, or a bare sample name such as `digits` → {@link SampleSource}
 * - `csv:PATH`, or a path ending in `.csv` → {@link CsvSource}
 * - `jsonl:PATH`, or a path ending in `.jsonl` or `.ndjson` → {@link JsonlSource}
 * - an `http://` or `https://` URL in place of PATH (`csv:URL`, `jsonl:URL`, or a URL whose path
 *   ends in `.csv`, `.jsonl` or `.ndjson`) → the same sources, reading over HTTP (`HttpFile`)
 * - any of these with a `.gz` ending (`sales.csv.gz`, `csv:dump.gz`) → the same sources over the
 *   decompressed bytes (`GzipFile`)
 *
 * Paths are resolved against `cwd`. Opening never touches the file system: whether the file
 * exists is checked at first read (`inferSchema` or `batches`), which rejects with
 * `DataNotFoundError`. That keeps opening synchronous and lets a source be described (say, sent
 * to another machine) before its file is there.
 *
 * @module
 */
import { isAbsolute, resolve } from 'node:path';
import { InvalidOptionError } from '../errors.js';
import { CsvSource } from './csv-source.js';
import { LocalFile, type DataFile } from './data-file.js';
import { GzipFile, isGzipName } from './gzip-file.js';
import { HttpFile, isHttpUrl } from './http-file.js';
import { JsonlSource } from './jsonl-source.js';
import { kSamplePrefix, SampleSource, sampleNames } from './sample-source.js';
import { kSyntheticPrefix } from './synthetic-spec.js';
import { SyntheticSource } from './synthetic-source.js';
import type { DataSource } from './types.js';

/** Options of {@link openSource}. */
export interface OpenSourceOptions {
  /** Folder that relative paths are resolved against (default: `process.cwd()`). */
  readonly cwd?: string;
}

const kAcceptedForms =
  'synthetic:key=value,..., sample:NAME (or digits), csv:PATH or *.csv, jsonl:PATH or *.jsonl / *.ndjson, each also gzip-compressed (*.csv.gz, ...) (PATH may be an http(s):// URL)';

/** The file under a source: decompressed on the fly when its name ends in `.gz`. */
function dataFile(file: DataFile, name: string): DataFile {
  return isGzipName(name) ? new GzipFile(file) : file;
}

/** A source over HTTP: a URL is storage every machine reads, so it is shared. */
function urlSource(kind: 'csv' | 'jsonl', url: string, description: string): DataSource {
  if (!URL.canParse(url))
    throw new InvalidOptionError(`data source '${description}': '${url}' is not a valid URL`);
  const file = dataFile(new HttpFile(url), new URL(url).pathname);
  return kind === 'csv'
    ? new CsvSource(file, { description, shared: true })
    : new JsonlSource(file, { description, shared: true });
}

/** A source over a local file; `shared` when named by absolute path. */
function fileSource(
  kind: 'csv' | 'jsonl',
  path: string,
  description: string,
  shared: boolean,
): DataSource {
  const file = dataFile(new LocalFile(path), path);
  return kind === 'csv'
    ? new CsvSource(file, { description, shared })
    : new JsonlSource(file, { description, shared });
}

/** The format a path names by its ending, `.gz` aside. */
function kindOf(path: string): 'csv' | 'jsonl' | undefined {
  const lower = path.toLowerCase().replace(/\.gz$/, '');
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

/** The kind a URL's path names by its extension (the query string is not part of it). */
function urlKind(url: string): 'csv' | 'jsonl' | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    throw new InvalidOptionError(`data source '${url}' is not a valid URL`);
  }
  return kindOf(path);
}

function pathOf(spec: string, prefixLength: number, cwd: string): string {
  const path = spec.slice(prefixLength);
  if (path.length === 0) {
    throw new InvalidOptionError(
      `data source '${spec}' names no file; expected one of: ${kAcceptedForms}`,
    );
  }
  return resolve(cwd, path);
}

/**
 * Opens a data source from its description.
 *
 * @param spec - What the user named, e.g. `data/sales.csv` or `synthetic:rows=1000`.
 * @param options - `cwd` for relative paths.
 * @returns The source; its `description` is `spec`, except that a sample is always described as
 *   `sample:NAME`.
 * @throws InvalidOptionError listing the accepted forms when `spec` matches none, or naming the
 *   problem in a synthetic spec or sample name.
 * @example
 * const source = openSource('csv:train.csv', { cwd: '/data' });
 */
export function openSource(spec: string, options: OpenSourceOptions = {}): DataSource {
  if (typeof spec !== 'string' || spec.length === 0) {
    throw new InvalidOptionError(
      `data source must be a non-empty string, got ${String(spec)}; expected one of: ${kAcceptedForms}`,
    );
  }
  const cwd = options.cwd ?? process.cwd();
  if (spec.startsWith(kSyntheticPrefix)) return new SyntheticSource(spec);
  if (spec.startsWith(kSamplePrefix) || sampleNames.includes(spec)) return new SampleSource(spec);
  if (spec.startsWith('csv:') && isHttpUrl(spec.slice(4)))
    return urlSource('csv', spec.slice(4), spec);
  if (spec.startsWith('jsonl:') && isHttpUrl(spec.slice(6)))
    return urlSource('jsonl', spec.slice(6), spec);
  if (isHttpUrl(spec)) {
    const kind = urlKind(spec);
    if (kind !== undefined) return urlSource(kind, spec, spec);
    throw new InvalidOptionError(
      `data source '${spec}': the URL's path does not end in .csv, .jsonl or .ndjson (or those with .gz); name the format with csv:URL or jsonl:URL`,
    );
  }
  // A file named by absolute path is taken to be where every machine sees it (shared storage):
  // a distributed run then hands out byte ranges instead of rows.
  if (spec.startsWith('csv:'))
    return fileSource('csv', pathOf(spec, 4, cwd), spec, isAbsolute(spec.slice(4)));
  if (spec.startsWith('jsonl:'))
    return fileSource('jsonl', pathOf(spec, 6, cwd), spec, isAbsolute(spec.slice(6)));
  const kind = kindOf(spec);
  if (kind !== undefined) return fileSource(kind, resolve(cwd, spec), spec, isAbsolute(spec));
  throw new InvalidOptionError(
    `data source '${spec}' is not recognised; expected one of: ${kAcceptedForms}`,
  );
}
