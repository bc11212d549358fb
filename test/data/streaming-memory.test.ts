import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { packageRoot } from '../../src/util/package-root.js';
import { siblingModuleUrl } from '../../src/util/module-url.js';
import { TempFiles } from './data-helpers.js';

const run = promisify(execFile);
const fixture = fileURLToPath(siblingModuleUrl(import.meta.url, './fixtures/stream-peak'));
const files = new TempFiles();
after(() => files.cleanup());

interface Peak {
  rows: number;
  batches: number;
  peakRss: number;
}

/** Streams a source in a fresh Node process and returns what it measured. */
async function streamPeak(spec: string, batchRows: number, label?: string): Promise<Peak> {
  const args = [fixture, spec, String(batchRows), ...(label === undefined ? [] : [label])];
  const { stdout } = await run(process.execPath, args, { cwd: packageRoot(), timeout: 60_000 });
  return JSON.parse(stdout) as Peak;
}

/** A peak may exceed the small run's by half, plus 50 MB of allocator and GC slack, no more. */
function assertFlat(small: Peak, large: Peak): void {
  const limit = small.peakRss * 1.5 + 50 * 2 ** 20;
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;
  assert.ok(
    large.peakRss <= limit,
    `peak RSS ${mb(large.peakRss)} for ${large.rows} rows exceeds ${mb(limit)} (${mb(small.peakRss)} for ${small.rows} rows)`,
  );
}

/** Writes a CSV of `rows` rows (8 numeric, 2 categorical columns, a class label) in chunks. */
async function writeCsv(rows: number): Promise<string> {
  const path = files.path('.csv');
  const out = createWriteStream(path);
  out.write('a,b,c,d,e,f,g,h,city,"quoted, name",y\n');
  let chunk = '';
  for (let r = 0; r < rows; r++) {
    chunk += `${r},${r % 7},${(r * 0.37).toFixed(3)},1.5,-2,${r % 13},0.001,${r % 2},city${r % 50},"n, ${r % 9}",${r % 3}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return path;
}

describe('Streaming memory', () => {
  test('should keep peak memory flat for synthetic rows=1,000,000 versus 100,000', async () => {
    const small = await streamPeak('synthetic:rows=100000,features=32,classes=4,seed=7', 8192);
    const large = await streamPeak('synthetic:rows=1000000,features=32,classes=4,seed=7', 8192);
    assert.equal(small.rows, 100_000);
    assert.equal(large.rows, 1_000_000);
    assert.equal(large.batches, Math.ceil(1_000_000 / 8192));
    assertFlat(small, large);
  });

  test('should keep peak memory flat for a 200,000-row CSV versus a 20,000-row one', async () => {
    const [smallPath, largePath] = await Promise.all([writeCsv(20_000), writeCsv(200_000)]);
    const small = await streamPeak(smallPath, 8192, 'y');
    const large = await streamPeak(largePath, 8192, 'y');
    assert.equal(small.rows, 20_000);
    assert.equal(large.rows, 200_000);
    assertFlat(small, large);
  });
});
