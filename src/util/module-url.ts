/**
 * Locating sibling modules at run time, whether mlscale runs from TypeScript sources (tsx) or from
 * the compiled `dist/` folder.
 *
 * @module
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The URL of a module next to (or relative to) `fromUrl`, with the same extension as `fromUrl`.
 * Worker threads and dynamic imports are given file URLs, and a `.js` name would not exist when
 * running from `.ts` sources.
 *
 * @param fromUrl - `import.meta.url` of the calling module.
 * @param relative - path without extension, e.g. `'./thread-worker'` or `'../tasks'`.
 */
export function siblingModuleUrl(fromUrl: string, relative: string): string {
  const ext = extname(fileURLToPath(fromUrl)) || '.js';
  return new URL(relative + ext, fromUrl).href;
}
