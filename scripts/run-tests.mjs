#!/usr/bin/env node
// Runs the compiled tests: every `*.test.js` under dist/test, one file at a time.
//
// Node 20's `node --test <dir>` runs every .js file below a folder named `test`, helpers and
// fixtures included, and its --test flag takes no globs before Node 21; so the files are listed here.
// Arguments filter by substring of the path: `npm test -- serve/protocol`.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = 'dist/test';
const filters = process.argv.slice(2);
const files = readdirSync(root, { recursive: true })
  .map((f) => join(root, String(f)))
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error(
    `no test files under ${root} match ${filters.join(', ') || '*.test.js'}; run "npm run build" first?`,
  );
  process.exit(1);
}
const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
