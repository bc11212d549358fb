/**
 * The dashboards' static files: the pages, their scripts and styles from the package's
 * `src/dashboard/static/` folder (listed in package.json `files`), and uPlot from its own package.
 *
 * The pages are plain HTML, CSS and ES modules, read at run time rather than compiled: tsc emits
 * only `.ts`, and keeping them as files (not string modules) lets them be edited and checked as
 * what they are. Only the names listed here are served, so a request cannot name any other file.
 * Everything is local: the pages work offline, with no CDN.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';

const require = createRequire(import.meta.url);

/** Asset name (as in the URL) → where it is read from and its content type. */
function assetTable(): Map<string, { path: string; type: string }> {
  const dir = join(packageRoot(), 'src', 'dashboard', 'static');
  const own = (name: string, type: string): [string, { path: string; type: string }] => [
    name,
    { path: join(dir, name), type },
  ];
  return new Map([
    own('serve.html', 'text/html; charset=utf-8'),
    own('runs.html', 'text/html; charset=utf-8'),
    own('dashboard.css', 'text/css; charset=utf-8'),
    own('common.js', 'text/javascript; charset=utf-8'),
    own('serve.js', 'text/javascript; charset=utf-8'),
    own('runs.js', 'text/javascript; charset=utf-8'),
    [
      'uPlot.iife.min.js',
      {
        path: require.resolve('uplot/dist/uPlot.iife.min.js'),
        type: 'text/javascript; charset=utf-8',
      },
    ],
    [
      'uPlot.min.css',
      { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
    ],
  ]);
}

let table: Map<string, { path: string; type: string }> | undefined;
const cache = new Map<string, Buffer>();

/** A static asset by name, or undefined when there is no such asset. Cached after the first read. */
export async function readAsset(name: string): Promise<{ body: Buffer; type: string } | undefined> {
  table ??= assetTable();
  const entry = table.get(name);
  if (!entry) return undefined;
  let body = cache.get(name);
  if (!body) {
    body = await readFile(entry.path);
    cache.set(name, body);
  }
  return { body, type: entry.type };
}
