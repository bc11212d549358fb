/**
 * Redis connections of the distributed executor and its workers: a `redis://` or `rediss://` URL
 * parsed once, up front, into ioredis options; and a probe that fails within seconds with a clear,
 * coded error when Redis cannot be reached, instead of ioredis's default of retrying forever.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisOptions as BullmqRedisOptions } from 'bullmq';
import { InvalidOptionError, RedisUnavailableError } from '../../../errors.js';

/** A parsed Redis URL: the options every connection uses, and the URL without its password. */
export interface RedisTarget {
  readonly options: RedisOptions;
  /** The same options for BullMQ's `connection`. */
  readonly bullmq: BullmqRedisOptions;
  /** For messages: `redis://host:port/db`, no credentials. */
  readonly display: string;
  /** The option the URL came from (`redis`), for messages about it. */
  readonly option?: string;
}

/** TLS settings beside a `rediss://` URL. */
export interface RedisTlsOptions {
  /**
   * A PEM file with the CA certificate(s) that signed the server's certificate, for a Redis whose
   * certificate is not signed by a CA Node trusts already (a private CA, a self-signed one).
   */
  readonly ca?: string;
}

/**
 * Parses `redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS).
 *
 * @param tls - `ca`: a CA file for `rediss://` (option `redisCa`, the `--redis-ca` flag).
 * @throws InvalidOptionError for a bad URL, a CA without `rediss://`, or a CA file that cannot be read.
 */
export function parseRedisUrl(
  url: string,
  option = 'redis',
  tls: RedisTlsOptions = {},
): RedisTarget {
  const flag = `options.${option}`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidOptionError(
      `${flag} must be a URL like redis://host:6379 or rediss://user:password@host:6380/0, got ${JSON.stringify(url)}`,
    );
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new InvalidOptionError(
      `${flag} must start with redis:// or rediss:// (TLS), got ${JSON.stringify(url)}`,
    );
  }
  if (!u.hostname) throw new InvalidOptionError(`${flag} names no host: ${JSON.stringify(url)}`);
  const port = u.port === '' ? 6379 : Number(u.port);
  if (port < 1 || port > 65535)
    throw new InvalidOptionError(`${flag}: the port must be from 1 to 65535, got ${u.port}`);
  if (u.search !== '' || u.hash !== '')
    throw new InvalidOptionError(
      `${flag}: a Redis URL takes no query or fragment (${JSON.stringify(u.search + u.hash)}); give the user and password before the host and the database as the path`,
    );
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : /^\d{1,9}$/.test(dbText) ? Number(dbText) : NaN;
  if (!Number.isInteger(db) || db < 0)
    throw new InvalidOptionError(
      `${flag}: the database (the URL's path) must be a number, got ${JSON.stringify(dbText)}`,
    );
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const options: RedisOptions = {
    host,
    port,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:' ? tlsOptions(host, tls, flag) : undefined,
  };
  if (tls.ca !== undefined && u.protocol !== 'rediss:') {
    throw new InvalidOptionError(
      `${flag}Ca is for TLS: give a rediss:// URL with it, got ${JSON.stringify(`${u.protocol}//${u.host}`)}`,
    );
  }
  const bullmq: BullmqRedisOptions = { host, port, db };
  if (options.username !== undefined) bullmq.username = options.username;
  if (options.password !== undefined) bullmq.password = options.password;
  if (options.tls !== undefined) bullmq.tls = options.tls;
  return { options, bullmq, display: `${u.protocol}//${u.host}/${db}`, option };
}

/** The TLS options of one host: SNI by name (never by IP address, which RFC 6066 forbids), and the CA. */
function tlsOptions(
  host: string,
  tls: RedisTlsOptions,
  flag: string,
): NonNullable<RedisOptions['tls']> {
  const options: { servername?: string; ca?: Buffer } =
    isIP(host) === 0 ? { servername: host } : {};
  if (tls.ca !== undefined) {
    try {
      options.ca = readFileSync(tls.ca);
    } catch (err) {
      throw new InvalidOptionError(
        `${flag}Ca: cannot read the CA file ${tls.ca} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        { cause: err },
      );
    }
    if (!options.ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new InvalidOptionError(
        `${flag}Ca: ${tls.ca} holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)`,
      );
    }
  }
  return options;
}

/** A client for the payload hashes: binary-safe, reconnecting forever (callers bound the wait). */
export function payloadClient(target: RedisTarget, name: string): Redis {
  const client = new Redis({ ...target.options, connectionName: name, maxRetriesPerRequest: 2 });
  client.on('error', () => undefined);
  return client;
}

/**
 * Connects once to check that Redis answers, within `timeoutMs`; rejects with
 * `RedisUnavailableError` naming the URL (without password) and the reason.
 */
export async function probeRedis(target: RedisTarget, timeoutMs = 5000): Promise<void> {
  const client = new Redis({
    ...target.options,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  client.on('error', (err) => (lastError = err));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
        await checkDatabase(client, target);
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    if (err instanceof InvalidOptionError) throw err;
    const reason = describe(lastError ?? err);
    throw new RedisUnavailableError(`cannot reach Redis at ${target.display}: ${reason}`, {
      cause: err,
    });
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/**
 * Checks that the URL's database exists: ioredis's own SELECT on connect logs a failure and goes
 * on in database 0, where the run's keys would mix with whatever else lives there.
 */
async function checkDatabase(client: Redis, target: RedisTarget): Promise<void> {
  const db = Number(target.options.db ?? 0);
  if (db === 0) return;
  try {
    await client.call('SELECT', String(db));
  } catch (err) {
    // CONFIG may be turned off (managed Redis): then the count is left out.
    const count = await client
      .call('CONFIG', 'GET', 'databases')
      .then((r) => Number((r as string[])[1]))
      .catch(() => NaN);
    throw new InvalidOptionError(
      `options.${target.option ?? 'redis'}: database ${db} does not exist on the Redis at ${target.display.replace(/\/\d+$/, '')}${Number.isInteger(count) ? ` (it has ${count}: 0 to ${count - 1}, its "databases" setting)` : ''}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
}

/**
 * Deletes every key under `prefix:` (a finished run's or sweep's queue, jobs and payloads), with
 * SCAN so that a large keyspace is never blocked by one KEYS call.
 */
export async function deleteKeysUnder(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}
