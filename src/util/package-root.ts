/**
 * The folder of mlscale's own package.json, found by walking up from this module, so that shipped
 * files (package.json, data/) are found from the TypeScript sources and from compiled output alike.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** Absolute path of the mlscale package root. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(
        'mlscale: cannot find its package.json above ' + fileURLToPath(import.meta.url),
      );
    dir = parent;
  }
  cached = dir;
  return dir;
}
