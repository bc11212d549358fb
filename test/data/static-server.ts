/**
 * A static file server on 127.0.0.1 for the HTTP data source tests: serves files of a folder with
 * Content-Length, ETag and Last-Modified, answers `Range: bytes=a-b` with 206 and Content-Range
 * (unless told to ignore ranges), and redirects `/redirect/N/<path>` N times before `<path>`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

/** A running static server. */
export interface StaticServer {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** Requests seen, as `METHOD path range` strings. */
  readonly requests: string[];
  /** Answer every GET with 200 and the whole file, as servers without range support do. */
  ignoreRanges: boolean;
  /** How HEAD is answered: as GET without a body, 405 Method Not Allowed, or with no Content-Length. */
  head: 'normal' | 'refused' | 'no-length';
  close(): Promise<void>;
}

/**
 * Starts a server for the files under `root`.
 *
 * @param root - The folder served at `/`.
 */
export async function startStaticServer(root: string): Promise<StaticServer> {
  const requests: string[] = [];
  const state = { ignoreRanges: false, head: 'normal' as StaticServer['head'] };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method} ${url.pathname} ${req.headers.range ?? ''}`.trimEnd());
    const hops = /^\/redirect\/(\d+)(\/.*)$/.exec(url.pathname);
    if (hops) {
      const left = Number(hops[1]);
      res
        .writeHead(302, { location: left > 1 ? `/redirect/${left - 1}${hops[2]}` : hops[2]! })
        .end();
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(join(root, normalize(decodeURIComponent(url.pathname))));
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const headers = {
      etag: `"${createHash('sha1').update(body).digest('hex').slice(0, 16)}"`,
      'last-modified': new Date(0).toUTCString(),
      'content-type': 'text/plain',
      'accept-ranges': state.ignoreRanges ? 'none' : 'bytes',
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && !state.ignoreRanges && req.method === 'GET') {
      const start = Number(range[1]);
      const end = range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      if (start >= body.length || end < start) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        ...headers,
        'content-length': end - start + 1,
        'content-range': `bytes ${start}-${end}/${body.length}`,
      });
      res.end(body.subarray(start, end + 1));
      return;
    }
    if (req.method === 'HEAD' && state.head === 'refused') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (req.method === 'HEAD' && state.head === 'no-length') {
      // Headers flushed with no Content-Length: node:http then frames a HEAD answer as chunked.
      res.writeHead(200, headers);
      res.flushHeaders();
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    get ignoreRanges() {
      return state.ignoreRanges;
    },
    set ignoreRanges(value: boolean) {
      state.ignoreRanges = value;
    },
    get head() {
      return state.head;
    },
    set head(value: StaticServer['head']) {
      state.head = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
