/**
 * Whether an address binds only the loopback interface: the repository API's guard (and the
 * dashboard's view of it) answer without a token only there.
 *
 * @module
 */
import { isIP } from 'node:net';

/** Whether a host binds only the loopback interface. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
