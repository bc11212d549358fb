/**
 * Scaling reports written by `mlscale sweep` (`<reports>/<name>/report.html`): the list the
 * dashboards link to, and their files served read-only.
 *
 * A file is served only when its name and its report's name are plain names (no separator, no
 * `..`), and its real path (symbolic links followed) is still inside the reports folder, so no
 * request can read anything else on the machine.
 *
 * @module
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { ReportLink } from './types.js';

/** Names allowed for a report folder or one of its files. */
const kPlainName = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Content types of the files a report holds. */
const kTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.png': 'image/png',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The reports under `dir`, newest first; an unreadable or missing folder lists none.
 *
 * @param hrefBase - URL path the links start with, e.g. `/dashboard/reports`.
 */
export async function listReports(dir: string, hrefBase: string): Promise<ReportLink[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: ReportLink[] = [];
  for (const name of names) {
    if (!kPlainName.test(name)) continue;
    try {
      const s = await stat(join(dir, name, 'report.html'));
      if (s.isFile())
        out.push({
          name,
          href: `${hrefBase}/${encodeURIComponent(name)}/report.html`,
          modifiedAt: s.mtimeMs,
        });
    } catch {
      // not a report folder
    }
  }
  return out.sort((a, b) => b.modifiedAt - a.modifiedAt);
}

/**
 * A report's file, or undefined when the names are not plain, the file does not exist, or its real
 * path leaves the reports folder.
 */
export async function readReportFile(
  dir: string,
  report: string,
  file: string,
): Promise<{ body: Buffer; type: string } | undefined> {
  if (!kPlainName.test(report) || !kPlainName.test(file)) return undefined;
  const type = kTypes[extname(file).toLowerCase()];
  if (type === undefined) return undefined;
  try {
    const root = await realpath(dir);
    const real = await realpath(join(root, report, file));
    if (!real.startsWith(root + sep)) return undefined;
    const s = await stat(real);
    if (!s.isFile()) return undefined;
    return { body: await readFile(real), type };
  } catch {
    return undefined;
  }
}
