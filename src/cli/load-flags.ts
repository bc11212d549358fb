/**
 * `mlscale load`'s flags: parsed, checked once (each error names its flag, what it expects and what
 * it got) and turned into the load generator's options and the command's own (thresholds, time
 * series file, report folder).
 *
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import { InvalidOptionError } from '../errors.js';
import { jsonErrorOffset, lineColumn } from '../analysis/json-position.js';
import { headerProblem, kDefaultLoadOptions, type LoadOptions } from '../analysis/loadgen.js';
import { readBodyFile } from '../analysis/body-file.js';
import { parseProfile } from '../analysis/rate-profile.js';
import { parseThreshold, type Threshold } from '../analysis/thresholds.js';
import { numberFlag, textFlag, type FlagSpec } from './args.js';
import { durationFlag } from '../util/duration.js';

const d = kDefaultLoadOptions;
/** Default measured window (ms). */
export const kDefaultDurationMs = 10_000;
/** The longest --duration, --warmup or --timeout. */
const kMaxDurationMs = 86_400_000;

/** `mlscale load`'s flags. */
export const loadFlags: FlagSpec = {
  url: { type: 'string' },
  mode: { type: 'string' },
  rate: { type: 'string' },
  profile: { type: 'string', multiple: true },
  duration: { type: 'string' },
  connections: { type: 'string' },
  body: { type: 'string' },
  'body-file': { type: 'string' },
  'body-order': { type: 'string' },
  seed: { type: 'string' },
  method: { type: 'string' },
  header: { type: 'string', multiple: true },
  warmup: { type: 'string' },
  timeout: { type: 'string' },
  threshold: { type: 'string', multiple: true },
  timeseries: { type: 'string' },
  report: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** What `mlscale load` does besides the load itself. */
export interface LoadCommandOptions {
  readonly load: LoadOptions;
  readonly thresholds: readonly Threshold[];
  /** Where the per-second time series goes (JSON Lines, or CSV for a .csv name). */
  readonly timeseries?: string;
  /** The folder of the run's report (load.html, load.md). */
  readonly report?: string;
}

/** Every flag checked, `--body-file` read and checked line by line. */
export async function readLoadFlags(v: Record<string, unknown>): Promise<LoadCommandOptions> {
  const load = loadOptionsFromFlags(v);
  const thresholds = ((v.threshold as string[] | undefined) ?? []).map((t) => parseThreshold(t));
  const timeseries = textFlag(v.timeseries as string | undefined);
  if (timeseries === '') throw new InvalidOptionError('--timeseries must name a file, got ""');
  const report = textFlag(v.report as string | undefined);
  if (report === '') throw new InvalidOptionError('--report must name a folder, got ""');
  const bodyFile = textFlag(v['body-file'] as string | undefined);
  const bodies = bodyFile === undefined ? undefined : await readBodyFile(bodyFile);
  return {
    load: bodies ? { ...load, bodies } : load,
    thresholds,
    ...(timeseries !== undefined ? { timeseries } : {}),
    ...(report !== undefined ? { report } : {}),
  };
}

/**
 * Turns the parsed flags into `LoadOptions` (without `--body-file`'s bodies, read by
 * `readLoadFlags`), with messages that name the flag.
 */
export function loadOptionsFromFlags(v: Record<string, unknown>): LoadOptions {
  const url = textFlag(v.url as string | undefined);
  if (url === undefined)
    throw new InvalidOptionError('--url is required: the URL to send requests to');
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new InvalidOptionError(
      `--url must be an http:// or https:// URL, got ${JSON.stringify(url)}`,
    );
  }
  const mode = textFlag(v.mode as string | undefined) ?? 'open';
  if (mode !== 'open' && mode !== 'closed')
    throw new InvalidOptionError(`--mode must be open or closed, got ${JSON.stringify(mode)}`);
  const profileTexts = (v.profile as string[] | undefined) ?? [];
  const profile = profileTexts.flatMap((text) => parseProfile(text));
  if (profile.length > 0) {
    if (mode === 'closed')
      throw new InvalidOptionError(
        '--profile is for --mode open; a closed loop sends as fast as its --connections clients get answers',
      );
    if (v.rate !== undefined)
      throw new InvalidOptionError(
        '--rate and --profile do not go together: the profile sets the rate (const:RATE:DURATION for a constant one)',
      );
    if (v.duration !== undefined)
      throw new InvalidOptionError(
        "--duration and --profile do not go together: the measured window is the profile's length",
      );
  }
  let rate: number | undefined;
  if (v.rate !== undefined) {
    if (mode === 'closed')
      throw new InvalidOptionError(
        '--rate is for --mode open; a closed loop sends as fast as its --connections clients get answers',
      );
    rate = numberFlag(v.rate as string);
    if (typeof rate !== 'number' || !(rate > 0) || rate > 10_000_000) {
      throw new InvalidOptionError(
        `--rate must be a positive number of requests per second, at most 10000000, got ${JSON.stringify(v.rate)}`,
      );
    }
  } else if (mode === 'open' && profile.length === 0) {
    throw new InvalidOptionError(
      '--rate (requests per second) or --profile is required for --mode open, or use --mode closed',
    );
  }
  const durationMs = loadDuration('--duration', v.duration, kDefaultDurationMs, false);
  const warmupMs = loadDuration('--warmup', v.warmup, 0, true);
  const requestTimeoutMs = loadDuration('--timeout', v.timeout, d.requestTimeoutMs, false);
  let connections: number = d.connections;
  if (v.connections !== undefined) {
    const n = numberFlag(v.connections as string);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 100_000) {
      throw new InvalidOptionError(
        `--connections must be an integer from 1 to 100000, got ${JSON.stringify(v.connections)}`,
      );
    }
    connections = n;
  }
  if (v.body !== undefined && v['body-file'] !== undefined)
    throw new InvalidOptionError(
      '--body and --body-file do not go together: --body sends one body, --body-file one per line',
    );
  const body = v.body === undefined ? undefined : readBody(v.body as string);
  const bodyOrder = textFlag(v['body-order'] as string | undefined);
  if (bodyOrder !== undefined && bodyOrder !== 'round-robin' && bodyOrder !== 'random')
    throw new InvalidOptionError(
      `--body-order must be round-robin or random, got ${JSON.stringify(bodyOrder)}`,
    );
  if (bodyOrder !== undefined && v['body-file'] === undefined)
    throw new InvalidOptionError('--body-order applies to --body-file (one request body per line)');
  let seed: number | undefined;
  if (v.seed !== undefined) {
    seed = numberFlag(v.seed as string);
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 2 ** 31)
      throw new InvalidOptionError(
        `--seed must be an integer from 0 to 2147483648, got ${JSON.stringify(v.seed)}`,
      );
  }
  const method = textFlag(v.method as string | undefined)?.toUpperCase();
  if (method !== undefined && method !== 'GET' && method !== 'POST') {
    throw new InvalidOptionError(`--method must be GET or POST, got ${JSON.stringify(v.method)}`);
  }
  if (method === 'GET' && (body !== undefined || v['body-file'] !== undefined))
    throw new InvalidOptionError(
      `${body !== undefined ? '--body' : '--body-file'} cannot be sent with --method GET; use POST`,
    );
  const headers: Record<string, string> = {};
  for (const h of (v.header as string[] | undefined) ?? []) {
    const colon = h.indexOf(':');
    const name = colon > 0 ? h.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new InvalidOptionError(`--header must be "Name: value", got ${JSON.stringify(h)}`);
    }
    const value = h.slice(colon + 1).trim();
    const problem = headerProblem(name, value);
    if (problem !== undefined)
      throw new InvalidOptionError(`--header ${JSON.stringify(h)}: ${name} ${problem}`);
    headers[name] = value;
  }
  return {
    url,
    mode,
    ...(rate !== undefined ? { rate } : {}),
    ...(profile.length > 0 ? { profile } : { durationMs }),
    ...(bodyOrder !== undefined ? { bodyOrder } : {}),
    ...(seed !== undefined ? { seed } : {}),
    connections,
    warmupMs,
    requestTimeoutMs,
    ...(body !== undefined ? { body } : {}),
    ...(method !== undefined ? { method } : {}),
    headers,
  };
}

function loadDuration(flag: string, value: unknown, fallback: number, zeroAllowed: boolean) {
  return durationFlag(flag, value, { zeroAllowed, maxMs: kMaxDurationMs }) ?? fallback;
}

/** Reads `--body FILE` (or `@FILE`); a body that looks like JSON must parse, or the error names line and column. */
function readBody(flag: string): Uint8Array {
  const file = flag.startsWith('@') ? flag.slice(1) : flag;
  let bytes: Buffer;
  try {
    if (statSync(file).isDirectory())
      throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a folder'
          : (err as Error).message;
    throw new InvalidOptionError(`--body ${file}: cannot read the file: ${why}`, { cause: err });
  }
  const text = bytes.toString('utf8');
  const first = text.trimStart()[0];
  if (file.endsWith('.json') || first === '{' || first === '[') {
    try {
      JSON.parse(text);
    } catch (err) {
      const { line, column } = lineColumn(text, jsonErrorOffset(text));
      throw new InvalidOptionError(
        `--body ${file}:${line}:${column}: not valid JSON (${(err as Error).message})`,
        { cause: err },
      );
    }
  }
  return bytes;
}
