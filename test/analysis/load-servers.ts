/**
 * Small HTTP servers for the load generator's tests: each answers on a free loopback port and is
 * closed with `close()` (open connections included).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running test server. */
export interface TestServer {
  readonly url: string;
  /** Requests the server has seen. */
  readonly seen: () => number;
  close(): Promise<void>;
}

/** Starts a server whose handler gets the request's arrival number (0-based) and its body. */
export async function startServer(
  handle: (req: IncomingMessage, res: ServerResponse, n: number, body: string) => void,
  path = '/infer',
): Promise<TestServer> {
  let n = 0;
  const server = createServer((req, res) => {
    const i = n++;
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, res, i, body));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    seen: () => n,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers `{"ok":true}` with `status`, after `delayMs` (0: at once). */
export function answer(res: ServerResponse, status = 200, delayMs = 0): void {
  const send = () => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  };
  if (delayMs > 0) setTimeout(send, delayMs);
  else send();
}

/**
 * A server that answers at once, except during a stall: from `stallAtMs` after its first request,
 * for `stallMs`, it holds every answer until the stall ends (as a long GC pause or a lock would).
 */
export async function startStallingServer(stallAtMs: number, stallMs: number): Promise<TestServer> {
  let first = 0;
  return startServer((_req, res) => {
    const now = Date.now();
    if (first === 0) first = now;
    const stallStart = first + stallAtMs;
    const stallEnd = stallStart + stallMs;
    answer(res, 200, now >= stallStart && now < stallEnd ? stallEnd - now : 0);
  });
}
