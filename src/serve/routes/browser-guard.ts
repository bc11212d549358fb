/**
 * Refuses repository API requests that a web page in the operator's browser could have sent.
 *
 * A server on loopback with no token trusts whoever reaches it, and the operator's browser
 * reaches it: a page on another site can post a form or a `text/plain` fetch to
 * `http://127.0.0.1:8000/...` (no CORS preflight for those), or rebind its own host name to
 * 127.0.0.1 and call the server as same-origin. Three checks close that:
 * - `Host` must name this machine's loopback (`localhost`, `127.x.x.x`, `[::1]`) or a host the
 *   operator allowed (`allowedHosts`): a rebound name is neither. With a token, the token is
 *   what a page cannot forge, and any host name goes.
 * - `Origin`, which browsers send on every cross-origin POST, must be this server's own.
 * - A body must be `application/json`, which a page can send cross-origin only after a preflight
 *   this server never answers.
 * Command-line clients (curl, scripts) send no Origin and pass when their body is JSON or empty.
 *
 * @module
 */
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError, UnsupportedMediaTypeError } from '../../errors.js';
import type { FilledServeOptions } from '../options.js';

/** Throws ForbiddenError (403) or UnsupportedMediaTypeError (415) saying why; see the module comment. */
export function refuseForgeable(
  request: FastifyRequest,
  options: Pick<FilledServeOptions, 'adminToken' | 'allowedHosts'>,
): void {
  const host = request.headers.host ?? '';
  if (options.adminToken === undefined) {
    const name = hostName(host);
    if (!isLoopbackName(name) && !options.allowedHosts.includes(name)) {
      throw new ForbiddenError(
        `the repository API answers without a token only to requests addressed to a loopback name (localhost, 127.0.0.1, [::1]) or a host allowed by --allowed-hosts; this one is for Host ${JSON.stringify(host)}, as a web page using DNS rebinding would send`,
      );
    }
  }
  const origin = request.headers.origin;
  if (origin !== undefined && !sameHost(originHost(origin), host.toLowerCase())) {
    throw new ForbiddenError(
      `the repository API refuses cross-origin requests: Origin ${JSON.stringify(origin)} is not this server (Host ${JSON.stringify(host)}), so a web page on another site sent it`,
    );
  }
  const body = request.body;
  const hasBody = Buffer.isBuffer(body) ? body.length > 0 : body !== undefined;
  const type = request.headers['content-type'];
  if ((hasBody || type !== undefined) && mediaType(type) !== 'application/json') {
    throw new UnsupportedMediaTypeError(
      `the repository API takes a JSON body (Content-Type: application/json) or none, got Content-Type ${type === undefined ? 'none' : JSON.stringify(type)}; other types are what a web page can post without asking`,
    );
  }
}

/** The host name of a Host header, without the port, lower-cased: `[::1]:8000` → `[::1]`. */
function hostName(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    return end < 0 ? lower : lower.slice(0, end + 1);
  }
  const colon = lower.lastIndexOf(':');
  return colon < 0 ? lower : lower.slice(0, colon);
}

function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || name === '[::1]') return true;
  return isIP(name) === 4 && name.startsWith('127.');
}

/** `host:port` of an Origin (`http://127.0.0.1:8000`), lower-cased; undefined when it is none (`null`). */
function originHost(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    // URL drops a scheme's default port; a Host header on port 80 carries none either.
    return url.host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Whether an Origin's `host:port` names the Host header's, whose port may be the default one spelt out. */
function sameHost(origin: string | undefined, host: string): boolean {
  return (
    origin !== undefined && (origin === host || `${origin}:80` === host || `${origin}:443` === host)
  );
}

/** `application/json; charset=utf-8` → `application/json`. */
function mediaType(type: string | undefined): string | undefined {
  return type?.split(';')[0]!.trim().toLowerCase();
}
