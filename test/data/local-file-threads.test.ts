/**
 * A worker thread reads a byte range of a local file with blocking calls (no trips to libuv's
 * pool); it reads the same bytes as the main thread's async read and fails the same ways: a
 * missing file, a directory, a file whose size changed since the driver read it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LocalFile } from '../../src/data/data-file.js';
import { tempDir } from '../helpers.js';

const moduleUrl = pathToFileURL(join(import.meta.dirname, '../../src/data/data-file.js')).href;

/** LocalFile.read in a worker thread: the bytes, or the error's code and message. */
function readInWorker(
  path: string,
  range: { start: number; end: number },
  expect?: { size: number; modified: number },
): Promise<{ bytes?: string; code?: string; message?: string }> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.moduleUrl).then(async ({ LocalFile }) => {
      try {
        const bytes = await new LocalFile(workerData.path).read(workerData.range, workerData.expect);
        parentPort.postMessage({ bytes: Buffer.from(bytes).toString('utf8') });
      } catch (err) {
        parentPort.postMessage({ code: err.code, message: err.message });
      }
    });`;
  const worker = new Worker(code, { eval: true, workerData: { moduleUrl, path, range, expect } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('LocalFile.read in a worker thread', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let path: string;
  const text = 'a,b\n1,2\n3,4\n5,6\n';

  before(async () => {
    dir = await tempDir('mlscale-local-file-');
    path = join(dir.dir, 'data.csv');
    await writeFile(path, text);
    await mkdir(join(dir.dir, 'folder'));
  });
  after(async () => dir?.cleanup());

  test('reads the same bytes as the main thread', async () => {
    const range = { start: 4, end: 12 };
    const main = Buffer.from(await new LocalFile(path).read(range)).toString('utf8');
    assert.equal(main, '1,2\n3,4\n');
    const expect = { size: text.length, modified: 0 };
    assert.deepEqual(await readInWorker(path, range, expect), { bytes: main });
  });

  test('a file whose size changed since the driver read it is an E_DATA_PARSE naming both sizes', async () => {
    const got = await readInWorker(path, { start: 4, end: 12 }, { size: 99, modified: 0 });
    assert.equal(got.code, 'E_DATA_PARSE');
    assert.match(got.message!, /is 16 bytes here but was 99 bytes where the driver read it/);
  });

  test('a range past the end, a missing file and a directory get coded errors', async () => {
    const past = await readInWorker(path, { start: 4, end: 40 });
    assert.equal(past.code, 'E_DATA_PARSE');
    assert.match(past.message!, /ends before byte 40/);
    const missing = await readInWorker(join(dir.dir, 'nope.csv'), { start: 0, end: 4 });
    assert.equal(missing.code, 'E_DATA_NOT_FOUND');
    assert.match(missing.message!, /data file not found: .*nope\.csv/);
    const folder = await readInWorker(join(dir.dir, 'folder'), { start: 0, end: 4 });
    assert.equal(folder.code, 'E_DATA_NOT_FOUND');
    assert.match(folder.message!, /is a directory, not a data file/);
  });
});
