/**
 * `mlscale deploy`: the checks of single flag values — integers and numbers in range, names,
 * replica and listen addresses — each failing with the flag's name and what it was given.
 *
 * @module
 */
import { isIP } from 'node:net';
import {
  formatAddress,
  kDefaultBalancerOptions as b,
  type ReplicaAddress,
} from '../deploy/configs.js';
import { InvalidOptionError } from '../errors.js';

/** Parses `host:port,[v6]:port,...`; every part must have a host and a port from 1 to 65535. */
export function parseReplicas(text: string, flag = '--replicas'): ReplicaAddress[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.every((p) => p === ''))
    throw new InvalidOptionError(`${flag} must list at least one HOST:PORT, got ""`);
  const seen = new Set<string>();
  return parts.map((part) => {
    const address = parseAddress(part, flag);
    const key = formatAddress(address);
    if (seen.has(key)) throw new InvalidOptionError(`${flag} lists ${key} twice`);
    seen.add(key);
    return address;
  });
}

function parseAddress(part: string, flag: string): ReplicaAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/]+)):(\d+)$/.exec(part);
  if (!m)
    throw new InvalidOptionError(
      `${flag} must be HOST:PORT (or [IPv6]:PORT) addresses, comma-separated; got ${JSON.stringify(part)}`,
    );
  const host = m[1] ?? m[2]!;
  if (m[1] !== undefined && isIP(host) !== 6)
    throw new InvalidOptionError(
      `${flag}: ${JSON.stringify(host)} in brackets is not an IPv6 address`,
    );
  const port = Number(m[3]);
  if (!(port >= 1 && port <= 65535))
    throw new InvalidOptionError(
      `${flag}: the port must be from 1 to 65535, got ${m[3]} in ${JSON.stringify(part)}`,
    );
  return { host, port };
}

export function parseListen(text: string | undefined): { host?: string; port: number } {
  if (text === undefined) return { port: b.listenPort };
  if (/^\d+$/.test(text)) return { port: integer('--listen', Number(text), 1, 65535) };
  const address = parseAddress(text, '--listen');
  return { host: address.host, port: address.port };
}
export function integer(flag: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidOptionError(
      `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

export function positive(flag: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new InvalidOptionError(`${flag} must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

export function nonEmpty(flag: string, v: string): string {
  if (v.trim() === '') throw new InvalidOptionError(`${flag} must not be empty`);
  return v;
}

export function dnsName(v: string, flag = '--name'): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v)) {
    throw new InvalidOptionError(
      `${flag} must be a DNS label (lower-case letters, digits and '-', at most 63), got ${JSON.stringify(v)}`,
    );
  }
  return v;
}
