/**
 * A free TCP port on the loopback, for servers that tests, sweeps and benchmarks start.
 *
 * @module
 */
import { createServer } from 'node:net';

/** A TCP port that was free a moment ago on 127.0.0.1 (another process may take it before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}
