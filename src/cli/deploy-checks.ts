/**
 * `mlscale deploy nginx|haproxy`: the checks made on the running replicas before a configuration
 * is written — that each answers, and, with the repository API exposed, that each requires a token.
 *
 * @module
 */
import { request } from 'node:http';
import { formatAddress, type ReplicaAddress } from '../deploy/configs.js';
import { InvalidOptionError } from '../errors.js';

/**
 * With the repository API exposed: checks that no replica answers it without a token (an
 * unauthenticated POST /v2/repository/index must not get 200); names the ones that do.
 */
export async function checkTokens(replicas: readonly ReplicaAddress[]): Promise<void> {
  const open = (
    await Promise.all(
      replicas.map(async (r) =>
        (await ask(r, 'POST', '/v2/repository/index')) === 200 ? r : undefined,
      ),
    )
  ).filter((r): r is ReplicaAddress => r !== undefined);
  if (open.length > 0) {
    throw new InvalidOptionError(
      `--expose-repository-api: ${open.map(formatAddress).join(', ')} answer${open.length === 1 ? 's' : ''} the repository API without a token, so anyone who reaches the balancer could load and unload models; start the replicas with --admin-token (or MLSCALE_ADMIN_TOKEN), or leave the API blocked`,
    );
  }
}

/** The status a replica answers to an empty request, or undefined when it does not answer within 2 s. */
function ask(r: ReplicaAddress, method: string, path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: r.host, port: r.port, method, path, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Checks that every replica answers GET /v2/health/live within 2 s; names the ones that do not. */
export async function checkReplicas(replicas: readonly ReplicaAddress[]): Promise<void> {
  const failures = (
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise<string | undefined>((resolve) => {
            const req = request(
              { host: r.host, port: r.port, path: '/v2/health/live', timeout: 2000 },
              (res) => {
                res.resume();
                resolve(
                  res.statusCode === 200
                    ? undefined
                    : `${formatAddress(r)} answered ${res.statusCode} to GET /v2/health/live (is it mlscale serve?)`,
                );
              },
            );
            req.on('timeout', () => req.destroy(new Error('no answer within 2 s')));
            req.on('error', (err: NodeJS.ErrnoException) =>
              resolve(`${formatAddress(r)} is unreachable (${err.code ?? err.message})`),
            );
            req.end();
          }),
      ),
    )
  ).filter((f): f is string => f !== undefined);
  if (failures.length > 0) {
    throw new InvalidOptionError(
      `--replicas: ${failures.join('; ')}; start the replicas first, or pass --no-check to write the configuration anyway`,
    );
  }
}
