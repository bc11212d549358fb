/**
 * Shared pieces of the hostile-input suite: raw sockets on loopback (requests no HTTP client would
 * send), answers parsed by hand, and the liveness check every case ends with.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';

/** A raw HTTP answer: status, lower-cased headers, and the body. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly json: any;
}

/** The host and port of a `http://host:port` URL. */
export function addressOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

/** Opens a TCP connection to a server's URL. */
export function openSocket(url: string): Promise<Socket> {
  const { host, port } = addressOf(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Parses one HTTP/1.x answer from the bytes a socket received. */
export function parseAnswer(raw: string): RawAnswer {
  const split = raw.indexOf('\r\n\r\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split + 4);
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status, headers, body, json };
}

/**
 * Sends `text` as is on a fresh connection and reads until the server closes it (every request
 * here says `Connection: close`, or is one the server answers by closing).
 */
export async function sendRaw(url: string, text: string | Buffer): Promise<RawAnswer> {
  const socket = await openSocket(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A server that answers then resets is fine: what it sent before is the answer.
      if (err.code === 'ECONNRESET' && chunks.length > 0) return;
      reject(err);
    });
    socket.on('close', () => resolve(parseAnswer(Buffer.concat(chunks).toString('utf8'))));
    socket.write(text);
  });
}

/** Asserts an answer in the protocol's error shape: `status`, JSON `{"error": "..."}` matching `message`. */
export function assertJsonError(answer: RawAnswer, status: number, message: RegExp): void {
  assert.equal(answer.status, status, answer.body);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/, answer.body);
  assert.equal(typeof answer.json?.error, 'string', answer.body);
  assert.match(answer.json.error, message);
}

/** The server still answers liveness, through a normal client: every case ends with this. */
export async function assertLive(url: string): Promise<void> {
  const response = await fetch(`${url}/v2/health/live`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { live: true });
}
