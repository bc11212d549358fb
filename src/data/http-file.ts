/**
 * A data file at an HTTP(S) URL, read with undici: the whole file streamed, or one batch's byte
 * range with a `Range: bytes=start-end` request (RFC 9110 §14).
 *
 * - **Failures are coded and quick**: an unreachable host, a refused or timed-out connection, a
 *   non-2xx answer, or more than `maxRedirects` redirects reject with `DataNotFoundError` naming
 *   the URL and the HTTP status or network error.
 * - **Uncompressed bytes**: requests ask for `Accept-Encoding: identity`, since byte offsets are
 *   offsets in the file itself; a compressed answer is refused.
 * - **Versions**: the driver notes the file's size and its ETag (else Last-Modified); every range
 *   answer is checked against them (`Content-Range` total, ETag, Last-Modified), so a worker never
 *   reads rows of a file that changed since the driver read it.
 * - **Servers that ignore Range** answer 200 with the whole file: the range is then cut out of
 *   the stream (the bytes before it are read and dropped), which is correct but downloads the
 *   file up to the range's end for every batch; a warning says so once per process, and
 *   `mlscale train --ship-rows` is the better choice with such a server.
 *
 * @module
 */
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { DataNotFoundError, DataParseError, isMlscaleError } from '../errors.js';
import {
  changedFileError,
  collectBytes,
  type ByteRange,
  type DataFile,
  type FileVersion,
} from './data-file.js';

/** Limits of HTTP data reads. */
export interface HttpFileOptions {
  /** Redirects followed before giving up. */
  readonly maxRedirects: number;
  /** Time to open a connection, in ms. */
  readonly connectTimeoutMs: number;
  /** Time from sending a request to its answer's headers, in ms. */
  readonly headersTimeoutMs: number;
  /** Longest pause between two parts of an answer's body, in ms. */
  readonly bodyTimeoutMs: number;
}

/** Defaults of {@link HttpFileOptions}. */
export const kHttpFileDefaults: Readonly<HttpFileOptions> = Object.freeze({
  maxRedirects: 5,
  connectTimeoutMs: 5_000, // 5 s
  headersTimeoutMs: 30_000, // 30 s
  bodyTimeoutMs: 60_000, // 60 s
});

/** True when `spec` is an http:// or https:// URL. */
export function isHttpUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/** The URL as shown in messages: a password in it is hidden. */
function displayUrl(url: URL, given: string): string {
  if (url.password === '') return given;
  const shown = new URL(url.href);
  shown.password = '***';
  return shown.href;
}

const agents = new Map<string, Agent>();

/** One connection pool per set of limits, kept for the process (connections are reused between batches). */
function agentFor(o: HttpFileOptions): Agent {
  const key = `${o.connectTimeoutMs}/${o.headersTimeoutMs}/${o.bodyTimeoutMs}`;
  let agent = agents.get(key);
  if (agent === undefined) {
    agent = new Agent({
      connect: { timeout: o.connectTimeoutMs },
      headersTimeout: o.headersTimeoutMs,
      bodyTimeout: o.bodyTimeoutMs,
    });
    agents.set(key, agent);
  }
  return agent;
}

let warnedNoRanges = false;

/** A data file at an HTTP(S) URL. */
export class HttpFile implements DataFile {
  readonly name: string;
  readonly location: string;
  readonly ranged = true;
  readonly local = false;
  readonly #url: URL;
  readonly #options: HttpFileOptions;

  /**
   * @param url - An http:// or https:// URL; user and password in it are sent as Basic auth.
   * @param options - Redirect and timeout limits; default {@link kHttpFileDefaults}.
   * @throws DataNotFoundError when `url` is not a valid http(s) URL.
   */
  constructor(url: string, options: Partial<HttpFileOptions> = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (err) {
      throw new DataNotFoundError(`data URL ${url} is not a valid URL`, { cause: err });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new DataNotFoundError(`data URL ${url} is not http:// or https://`);
    }
    this.#url = parsed;
    this.name = displayUrl(parsed, url);
    this.location = url;
    this.#options = { ...kHttpFileDefaults, ...options };
  }

  async version(): Promise<FileVersion> {
    const head = await this.#send('HEAD', {}, kHeadRefused);
    await head.body.dump();
    const size =
      head.statusCode >= 200 && head.statusCode <= 299 ? contentLength(head.headers) : undefined;
    if (size !== undefined) return withTag(size, head.headers);
    // Some servers refuse HEAD or answer it without Content-Length (a dynamic handler, a proxy
    // that streams): a one-byte range GET gives the size in Content-Range (RFC 9110 §14.4).
    const res = await this.#send('GET', { range: 'bytes=0-0' });
    res.body.destroy();
    const total =
      res.statusCode === 206
        ? contentRange(res.headers)?.size
        : res.statusCode === 416
          ? Number(/^bytes \*\/(\d+)$/.exec(header(res.headers, 'content-range') ?? '')?.[1] ?? NaN)
          : contentLength(res.headers);
    if (total === undefined || !Number.isFinite(total)) {
      const how =
        head.statusCode >= 200 && head.statusCode <= 299
          ? 'no Content-Length to HEAD'
          : `HTTP ${head.statusCode} to HEAD`;
      throw new DataNotFoundError(
        `cannot read data file ${this.name}: the server gives ${how} and no size to a range GET (Content-Range), so the file's size is unknown`,
      );
    }
    return withTag(total, res.headers);
  }

  async open(range?: ByteRange, expect?: FileVersion): Promise<Readable> {
    const partial = range !== undefined && (range.start > 0 || range.end !== undefined);
    const headers: Record<string, string> = partial
      ? { range: `bytes=${range.start}-${range.end === undefined ? '' : range.end - 1}` }
      : {};
    const res = await this.#send('GET', headers);
    try {
      const encoding = header(res.headers, 'content-encoding');
      if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
        throw new DataParseError(
          `${this.name}: the server sent the file compressed (Content-Encoding: ${encoding}) although asked for its own bytes; serve it uncompressed`,
        );
      }
      if (res.statusCode === 416) {
        // Range Not Satisfiable: the file is shorter than the range, so not the driver's file.
        const size = /^bytes \*\/(\d+)$/.exec(header(res.headers, 'content-range') ?? '')?.[1];
        throw changedFileError(
          this.name,
          `is ${size ?? 'an unknown number of'} bytes now, too short for bytes ${range?.start ?? 0}-${range?.end ?? ''} the driver read`,
        );
      }
      if (res.statusCode === 206 && partial) {
        const got = contentRange(res.headers);
        const last = range.end === undefined ? undefined : range.end - 1;
        if (expect !== undefined && got?.size !== undefined)
          this.#check(got.size, res.headers, expect);
        if (
          got === undefined ||
          got.start !== range.start ||
          (last !== undefined && got.end !== last)
        ) {
          throw new DataNotFoundError(
            `cannot read data file ${this.name}: asked for bytes ${range.start}-${last ?? ''}, the server answered Content-Range ${header(res.headers, 'content-range') ?? '(none)'}`,
          );
        }
        if (expect !== undefined) this.#check(got.size, res.headers, expect);
        return res.body;
      }
      // 200 (or another 2xx): the whole file, whether or not a range was asked for.
      const size = contentLength(res.headers);
      if (expect !== undefined) this.#check(size, res.headers, expect);
      if (!partial) return res.body;
      if (!warnedNoRanges) {
        warnedNoRanges = true;
        process.emitWarning(
          `${this.name}: the server ignores Range requests, so each batch downloads the file up to its end; ` +
            'run mlscale train with --ship-rows to read the file once on the driver instead',
          { code: 'MLSCALE_HTTP_NO_RANGES' },
        );
      }
      return Readable.from(slice(res.body, range.start, range.end), { objectMode: false });
    } catch (err) {
      res.body.destroy();
      throw err;
    }
  }

  async read(range: Required<ByteRange>, expect?: FileVersion): Promise<Uint8Array> {
    if (range.end <= range.start) return new Uint8Array(0);
    const body = await this.open(range, expect);
    try {
      return await collectBytes(body, range.end - range.start);
    } catch (err) {
      throw this.readError(err);
    }
  }

  readError(err: unknown): unknown {
    if (isMlscaleError(err)) return err;
    return new DataNotFoundError(
      `cannot read data file ${this.name}: ${describeNetworkError(err)}`,
      { cause: err },
    );
  }

  /** Checks an answer's size and tag against the driver's version. */
  #check(
    size: number | undefined,
    headers: Dispatcher.ResponseData['headers'],
    expect: FileVersion,
  ): void {
    if (size !== undefined && size !== expect.size) {
      throw changedFileError(
        this.name,
        `is ${size} bytes now but was ${expect.size} bytes where the driver read it`,
      );
    }
    const tag = withTag(size ?? expect.size, headers).tag;
    if (expect.tag !== undefined && tag !== undefined && tag !== expect.tag) {
      throw changedFileError(
        this.name,
        `changed since the driver read it (${tag} now, ${expect.tag} then)`,
      );
    }
  }

  /**
   * Sends a request, following up to `maxRedirects` redirects; resolves with a 2xx answer, or one
   * of `passed` statuses.
   */
  async #send(
    method: 'GET' | 'HEAD',
    headers: Record<string, string>,
    passed: readonly number[] = [],
  ): Promise<Dispatcher.ResponseData> {
    let url = this.#url;
    for (let hop = 0; ; hop++) {
      const sent: Record<string, string> = { 'accept-encoding': 'identity', ...headers };
      // Credentials go only to the origin the user named, not to where it redirects.
      if (this.#url.username !== '' && url.origin === this.#url.origin) {
        const user = decodeURIComponent(this.#url.username);
        const password = decodeURIComponent(this.#url.password);
        sent.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      }
      const target = new URL(url.href);
      target.username = '';
      target.password = '';
      let res: Dispatcher.ResponseData;
      try {
        res = await request(target, { method, headers: sent, dispatcher: agentFor(this.#options) });
      } catch (err) {
        throw new DataNotFoundError(
          `cannot reach data file ${this.name}: ${describeNetworkError(err)}`,
          { cause: err },
        );
      }
      // Bodies are destroyed when a read stops early, and undici then emits an AbortError: readers
      // (for await, pipeline) see errors through their own listeners, so this one only keeps a
      // deliberate destroy from becoming an uncaught exception.
      res.body.on('error', () => undefined);
      const status = res.statusCode;
      const location = header(res.headers, 'location');
      if (status >= 300 && status < 400 && location !== undefined) {
        await res.body.dump();
        if (hop >= this.#options.maxRedirects) {
          throw new DataNotFoundError(
            `cannot read data file ${this.name}: more than ${this.#options.maxRedirects} redirects (the last to ${location})`,
          );
        }
        url = new URL(location, url);
        continue;
      }
      // 416 answers a range request on a file now too short for it: `open` says so.
      if (
        (status < 200 || status > 299) &&
        !(status === 416 && headers.range !== undefined) &&
        !passed.includes(status)
      ) {
        await res.body.dump().catch(() => undefined);
        const where =
          url.href === target.href && hop === 0 ? '' : ` (redirected to ${target.href})`;
        const what =
          status === 404 || status === 410 ? 'data file not found' : 'cannot read data file';
        throw new DataNotFoundError(
          `${what}: ${this.name}${where}: HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd(),
        );
      }
      return res;
    }
  }
}

/** Answers to HEAD that mean "not this method" rather than "no such file": a range GET is tried. */
const kHeadRefused = [405, 501];

/** One header's value (the first, when repeated). */
function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function contentLength(headers: Dispatcher.ResponseData['headers']): number | undefined {
  const text = header(headers, 'content-length');
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** `Content-Range: bytes start-end/size` (RFC 9110 §14.4); size is undefined for `*`. */
function contentRange(
  headers: Dispatcher.ResponseData['headers'],
): { start: number; end: number; size: number | undefined } | undefined {
  const match = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(
    header(headers, 'content-range')?.trim() ?? '',
  );
  if (match === null) return undefined;
  return {
    start: Number(match[1]),
    end: Number(match[2]),
    size: match[3] === '*' ? undefined : Number(match[3]),
  };
}

/** The version an answer describes: its ETag, else its Last-Modified. */
function withTag(size: number, headers: Dispatcher.ResponseData['headers']): FileVersion {
  const etag = header(headers, 'etag');
  if (etag !== undefined) return { size, tag: etag };
  const modified = header(headers, 'last-modified');
  return modified !== undefined ? { size, tag: modified } : { size };
}

/** Bytes `start` up to `end` of a stream that holds the whole file. */
async function* slice(
  body: AsyncIterable<Buffer> & { destroy(): void },
  start: number,
  end: number | undefined,
): AsyncGenerator<Buffer> {
  let at = 0;
  try {
    for await (const chunk of body) {
      const from = Math.max(start - at, 0);
      const to = end === undefined ? chunk.length : Math.min(end - at, chunk.length);
      at += chunk.length;
      if (to > from) yield chunk.subarray(from, to);
      if (end !== undefined && at >= end) return;
    }
  } finally {
    body.destroy();
  }
}

function describeNetworkError(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | null;
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err);
  return typeof e?.code === 'string' && !message.includes(e.code)
    ? `${message} (${e.code})`
    : message;
}
