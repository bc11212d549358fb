/**
 * `mlscale load`: parse and validate flags, check the target, run the load generator with a live
 * progress line, and print the summary (or JSON).
 *
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import { InvalidOptionError } from '../errors.js';
import { jsonErrorOffset, lineColumn } from '../analysis/json-position.js';
import {
  headerProblem,
  kDefaultLoadOptions,
  runLoad,
  type LoadOptions,
  type LoadProgress,
  type LoadResult,
} from '../analysis/loadgen.js';
import { numberFlag, parseFlags, textFlag, type FlagSpec } from './args.js';
import { durationFlag } from '../util/duration.js';

const d = kDefaultLoadOptions;
/** Default measured window (ms). */
const kDefaultDurationMs = 10_000;
/** The longest --duration, --warmup or --timeout. */
const kMaxDurationMs = 86_400_000;
/** Without a terminal, one progress line per this many seconds. */
const kPlainProgressEveryS = 5;

/** `mlscale load --help`. */
export const loadHelp = `Usage: mlscale load --url URL [--rate N] [options]

Sends HTTP requests to one URL and reports latency percentiles, throughput and errors.

  --url URL            http:// or https:// URL every request goes to
  --mode open|closed   open: a constant arrival rate of --rate requests/s, latency measured from
                       each request's scheduled send time (a stalled server's queue shows);
                       closed: --connections clients that each wait for their answer  [open]
  --rate N             requests per second (open loop only)
  --duration TIME      measured window: 500ms, 30s, 2m, 1h (a bare number is seconds)  [${kDefaultDurationMs / 1000}s]
  --connections N      open: the connection pool's size; closed: concurrent clients  [${d.connections}]
  --body FILE          request body from a file (also @FILE); JSON is checked; implies POST
  --method GET|POST    [POST with --body, else GET]
  --header 'K: V'      an extra request header; repeatable; content-type defaults to
                       application/json with a body
  --warmup TIME        load sent first and not recorded  [0s]
  --timeout TIME       a request unanswered this long (queueing included) is a timeout  [${d.requestTimeoutMs / 1000}s]
  --json               print the result as JSON instead of the summary
  -h, --help           this help

Non-2xx answers are counted by status and kept out of the latency figures. Exit status: 0 when the
run took place (whatever the server answered), 1 when the URL cannot be reached, 2 for bad flags.`;

const flags: FlagSpec = {
  url: { type: 'string' },
  mode: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  connections: { type: 'string' },
  body: { type: 'string' },
  method: { type: 'string' },
  header: { type: 'string', multiple: true },
  warmup: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Runs `mlscale load`; resolves with the exit code. */
export async function loadCommand(argv: string[]): Promise<number> {
  const v = parseFlags('load', argv, flags);
  if (v.help) {
    process.stdout.write(loadHelp + '\n');
    return 0;
  }
  const options = loadOptionsFromFlags(v);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const view = progressView(process.stderr);
  try {
    const result = await runLoad({
      ...options,
      onProgress: view.update,
      signal: controller.signal,
    });
    view.stop();
    process.stdout.write(
      v.json ? JSON.stringify(result, null, 2) + '\n' : formatLoadSummary(result, options) + '\n',
    );
    return 0;
  } finally {
    view.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Turns the parsed flags into `LoadOptions`, with messages that name the flag. */
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
  } else if (mode === 'open') {
    throw new InvalidOptionError(
      '--rate is required for --mode open (requests per second), or use --mode closed',
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
  const body = v.body === undefined ? undefined : readBody(v.body as string);
  const method = textFlag(v.method as string | undefined)?.toUpperCase();
  if (method !== undefined && method !== 'GET' && method !== 'POST') {
    throw new InvalidOptionError(`--method must be GET or POST, got ${JSON.stringify(v.method)}`);
  }
  if (method === 'GET' && body !== undefined)
    throw new InvalidOptionError('--body cannot be sent with --method GET; use POST');
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
    durationMs,
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

/** The summary `mlscale load` prints when the run ends. */
export function formatLoadSummary(r: LoadResult, o: LoadOptions): string {
  const n = (x: number, digits = 0) =>
    x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const ms = (x: number) => (x >= 100 ? n(x, 0) : x >= 10 ? n(x, 1) : n(x, 2));
  const head =
    r.mode === 'open'
      ? `open loop, ${n(r.offeredRate ?? 0)} requests/s offered`
      : `closed loop, ${o.connections ?? d.connections} clients`;
  const lines = [
    `mlscale load: ${head}, ${n(r.durationS, 1)} s measured → ${o.url}`,
    `  requests      ${n(r.requests)} sent (${n(r.sentRate, 1)}/s): ${n(r.ok)} 2xx, ${n(r.errors)} errors`,
    `  throughput    ${n(r.achievedRate, 1)} 2xx responses/s`,
    `  latency (ms)  p50 ${ms(r.latencyMs.p50)}  p90 ${ms(r.latencyMs.p90)}  p99 ${ms(r.latencyMs.p99)}  ` +
      `p99.9 ${ms(r.latencyMs.p999)}  max ${ms(r.latencyMs.max)}  mean ${ms(r.latencyMs.mean)}` +
      (r.ok === 0
        ? '  (no 2xx response)'
        : r.mode === 'open'
          ? '  (from the scheduled send time)'
          : ''),
  ];
  const kinds = Object.entries(r.errorsByKind);
  if (kinds.length > 0)
    lines.push(`  errors        ${kinds.map(([k, c]) => `${k}: ${n(c)}`).join(', ')}`);
  if (r.generatorNote) lines.push(`  note          ${r.generatorNote}`);
  return lines.join('\n');
}

/** The live progress line: rewritten in place on a terminal, one line every few seconds otherwise. */
function progressView(stream: NodeJS.WriteStream): {
  update: (p: LoadProgress) => void;
  stop: () => void;
} {
  let shown = false;
  const line = (p: LoadProgress) =>
    `${p.elapsedS.toFixed(0).padStart(4)}s  sent ${p.sent}  done ${p.completed}  2xx/s ${p.currentRate}  ` +
    `p99 ${p.p99Ms.toFixed(1)} ms  errors ${p.errors}`;
  return {
    update(p) {
      if (stream.isTTY) {
        stream.write('\r\x1b[2K' + line(p));
        shown = true;
      } else if (Math.round(p.elapsedS) % kPlainProgressEveryS === 0) {
        stream.write(line(p) + '\n');
      }
    },
    stop() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}
