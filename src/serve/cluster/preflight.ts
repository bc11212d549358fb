/**
 * Checks the primary makes before it forks anything: a fault every replica would hit (unreadable
 * models, a port in use) fails once, clearly, instead of as a crash loop.
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { InvalidOptionError, ModelLoadError } from '../../errors.js';
import type { FilledServeOptions } from '../options.js';

/** Fails when the models cannot be read at all (each replica would die). */
export async function checkModelsReadable(options: Readonly<FilledServeOptions>): Promise<void> {
  try {
    if (options.modelRepository !== undefined) await readdir(options.modelRepository);
    else if (options.model !== undefined) await stat(options.model);
  } catch (err) {
    const flag =
      options.modelRepository !== undefined
        ? `--model-repository ${options.modelRepository}`
        : `--model ${options.model}`;
    throw new ModelLoadError(`${flag}: cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Fails with a clear message when host:port is taken. */
export async function checkPortFree(
  host: string,
  port: number,
  option: 'port' | 'grpcPort' = 'port',
): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new InvalidOptionError(
              `options.${option} ${port} is already in use on ${host}; pick another, or 0 for a free one`,
              { option },
            )
          : new InvalidOptionError(
              `options.host ${host} options.${option} ${port} cannot be listened on (${err.code ?? err.message})`,
              { option: 'host' },
            ),
      );
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
