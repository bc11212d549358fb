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
  'synthetic:key=value,..., sample:NAME (or digits), csv:PATH or *.csv, jsonl:PATH or *.jsonl / *.ndjson (PATH may be an http(s):// URL)';

/** A source over HTTP: a URL is storage every machine reads, so it is shared. */
function urlSource(kind: 'csv' | 'jsonl', url: string, description: string): DataSource {
  if (!URL.canParse(url)) throw new InvalidOptionError(`data source '${description}': '${url}' is not a valid URL`);
  const file = new HttpFile(url);
  return kind === 'csv' ? new CsvSource(file, { description, shared: true }) : new JsonlSource(file, { description, shared: true });
}

/** The kind a URL's path names by its extension (the query string is not part of it). */
function urlKind(url: string): 'csv' | 'jsonl' | undefined {
  let path: string;
  try {
    path = new URL(url).pathname.toLowerCase();
  } catch {
    throw new InvalidOptionError(`data source '${url}' is not a valid URL`);
  }
  if (path.endsWith('.csv')) return 'csv';
  if (path.endsWith('.jsonl') || path.endsWith('.ndjson')) return 'jsonl';
  return undefined;
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
  const lower = spec.toLowerCase();
  if (spec.startsWith(kSyntheticPrefix)) return new SyntheticSource(spec);
  if (spec.startsWith(kSamplePrefix) || sampleNames.includes(spec)) return new SampleSource(spec);
  if (spec.startsWith('csv:') && isHttpUrl(spec.slice(4))) return urlSource('csv', spec.slice(4), spec);
  if (spec.startsWith('jsonl:') && isHttpUrl(spec.slice(6))) return urlSource('jsonl', spec.slice(6), spec);
  if (isHttpUrl(spec)) {
    const kind = urlKind(spec);
    if (kind !== undefined) return urlSource(kind, spec, spec);
    throw new InvalidOptionError(
      `data source '${spec}': the URL's path does not end in .csv, .jsonl or .ndjson; name the format with csv:URL or jsonl:URL`,
    );
  }
  // A file named by absolute path is taken to be where every machine sees it (shared storage):
  // a distributed run then hands out byte ranges instead of rows.
  if (spec.startsWith('csv:')) return new CsvSource(pathOf(spec, 4, cwd), { description: spec, shared: isAbsolute(spec.slice(4)) });
  if (spec.startsWith('jsonl:')) {
    return new JsonlSource(pathOf(spec, 6, cwd), { description: spec, shared: isAbsolute(spec.slice(6)) });
  }
  if (lower.endsWith('.csv')) return new CsvSource(resolve(cwd, spec), { description: spec, shared: isAbsolute(spec) });
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) {
    return new JsonlSource(resolve(cwd, spec), { description: spec, shared: isAbsolute(spec) });
  }
  throw new InvalidOptionError(
    `data source '${spec}' is not recognised; expected one of: ${kAcceptedForms}`,
  );
}
