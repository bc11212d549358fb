/**
 * CSV and JSON Lines sources at HTTP URLs, against a local static server: parsed exactly as the
 * same local file (schema, batches, errors with URL:line), read by byte range with `Range`
 * requests, checked for changes between driver and worker, and failing quickly with a coded error
 * when the URL cannot be read.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSource } from '../../src/data/open-source.js';
import type { BatchOptions, BatchSpan, DataSource, RawBatch } from '../../src/data/types.js';
import { DataNotFoundError, DataParseError, InvalidOptionError } from '../../src/errors.js';
import { trainModel } from '../../src/pipeline/train-model.js';
import { freePort } from '../redis-helpers.js';
import { tempDir } from '../helpers.js';
import { collect, rejectsWith } from './data-helpers.js';
import { startStaticServer, type StaticServer } from './static-server.js';

const { dir, cleanup } = await tempDir();
let server: StaticServer;
before(async () => {
  let csv = 'x,note,city,y\r\n';
  let jsonl = '';
  for (let i = 0; i < 300; i++) {
    if (i % 7 === 3) csv += '\r\n';
    const note = i % 5 === 0 ? '"line one\r\nline ""two"", with comma"' : 'plain';
    const city = ['Oslo', 'Rome', 'Lima', 'Åre'][i % 4]!;
    const y = ['low', 'mid', 'high'][(i * 7) % 3]!;
    csv += `${((i * 37) % 101) / 10},${note},${city},${i % 41 === 20 ? '' : y}\r\n`;
    jsonl += `${JSON.stringify({ x: ((i * 53) % 97) / 7, city, y: i % 41 === 20 ? null : y })}\n`;
  }
  await writeFile(join(dir, 'data.csv'), csv);
  await writeFile(join(dir, 'data.jsonl'), jsonl);
  await writeFile(join(dir, 'bad.csv'), 'x,y\n1,a\n2,b,3\n');
  server = await startStaticServer(dir);
});
after(async () => {
  await server.close();
  await cleanup();
});

const options: BatchOptions = { batchRows: 32, onBadRow: 'skip' };

async function spansOf(source: DataSource, label: string): Promise<BatchSpan[]> {
  const schema = await source.inferSchema({ label });
  const out: BatchSpan[] = [];
  for await (const span of source.byteRanges!.spans(schema, options)) out.push(span);
  return out;
}

/** Every batch read by its byte range, on a fresh source as a worker opens it. */
async function readByRanges(source: DataSource, label: string): Promise<RawBatch[]> {
  const schema = await source.inferSchema({ label });
  const worker = openSource(source.byteRanges!.reference);
  const out: RawBatch[] = [];
  for (const span of await spansOf(source, label))
    out.push(await worker.byteRanges!.readSpan(schema, span, options));
  return out;
}

describe('HTTP data source', () => {
  for (const [name, file, label] of [
    ['CSV', 'data.csv', 'y'],
    ['JSON Lines', 'data.jsonl', 'y'],
  ] as const) {
    test(`should read ${name} at a URL exactly as the same local file: schema, batches and byte ranges`, async () => {
      const local = openSource(join(dir, file));
      const remote = openSource(`${server.origin}/${file}`);
      assert.equal(remote.byteRanges?.shared, true, 'a URL is shared storage');
      assert.equal(
        remote.byteRanges?.reference,
        `${file.endsWith('.csv') ? 'csv' : 'jsonl'}:${server.origin}/${file}`,
      );
      const schema = await local.inferSchema({ label });
      assert.deepEqual(await remote.inferSchema({ label }), schema);
      const full = await collect(local, schema, options);
      assert.deepEqual(await collect(remote, schema, options), full);
      // Byte ranges: the same ranges as the local file's, plus the server's ETag; each range read
      // with a Range request gives the full read's batch.
      const localSpans = await spansOf(local, label);
      const remoteSpans = await spansOf(remote, label);
      assert.deepEqual(
        remoteSpans.map(({ tag, ...rest }) => rest),
        localSpans,
      );
      assert.ok(
        remoteSpans.every((s) => typeof s.tag === 'string' && s.tag.startsWith('"')),
        'spans carry the ETag',
      );
      server.requests.length = 0;
      assert.deepEqual(await readByRanges(remote, label), full);
      assert.ok(
        server.requests.some((r) => /^GET \/data\.\w+ bytes=\d+-\d+$/.test(r)),
        `no Range request among ${server.requests.join('; ')}`,
      );
    });
  }

  test('should accept the csv: and jsonl: prefixes with a URL, and a URL with a query string', async () => {
    const schema = await openSource(join(dir, 'data.jsonl')).inferSchema({ label: 'y' });
    assert.deepEqual(
      await openSource(`jsonl:${server.origin}/data.jsonl`).inferSchema({ label: 'y' }),
      schema,
    );
    assert.deepEqual(
      await openSource(`${server.origin}/data.jsonl?v=1`).inferSchema({ label: 'y' }),
      schema,
    );
    const csvSchema = await openSource(join(dir, 'data.csv')).inferSchema({ label: 'y' });
    assert.deepEqual(
      await openSource(`csv:${server.origin}/data.csv`).inferSchema({ label: 'y' }),
      csvSchema,
    );
    assert.throws(
      () => openSource(`${server.origin}/data.txt`),
      (err: unknown) =>
        err instanceof InvalidOptionError && /csv:URL or jsonl:URL/.test(err.message),
    );
  });

  test('should name the URL and the line in a parse error', async () => {
    const url = `${server.origin}/bad.csv`;
    const source = openSource(url);
    const schema = await source.inferSchema({ label: 'y' });
    await rejectsWith(collect(source, schema), DataParseError, 'E_DATA_PARSE', [
      `${url}:3`,
      'expected 2 fields',
    ]);
  });

  test(
    'should train an inline model from a URL bitwise identical to the one from the local file',
    { timeout: 60_000 },
    async () => {
      const train = async (data: string, out: string) => {
        await trainModel({
          data,
          label: 'y',
          batchSize: 64,
          epochs: 2,
          hidden: [4],
          onBadRow: 'skip',
          executor: 'inline',
          out: join(dir, out),
        });
        return readFile(join(dir, out, 'model.onnx'));
      };
      const local = await train(join(dir, 'data.csv'), 'local-model');
      const remote = await train(`${server.origin}/data.csv`, 'remote-model');
      assert.ok(remote.equals(local), "model.onnx from the URL differs from the local file's");
    },
  );

  test('should fail within seconds with DataNotFoundError on a 404 and on an unreachable port', async () => {
    const t0 = Date.now();
    await rejectsWith(
      openSource(`${server.origin}/missing.csv`).inferSchema({ label: 'y' }),
      DataNotFoundError,
      'E_DATA_NOT_FOUND',
      [`${server.origin}/missing.csv`, 'HTTP 404 Not Found'],
    );
    const port = await freePort();
    await rejectsWith(
      openSource(`http://127.0.0.1:${port}/data.csv`).inferSchema({ label: 'y' }),
      DataNotFoundError,
      'E_DATA_NOT_FOUND',
      [`http://127.0.0.1:${port}/data.csv`, 'ECONNREFUSED'],
    );
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  });

  test('should follow a few redirects and refuse more than five', async () => {
    const schema = await openSource(join(dir, 'data.csv')).inferSchema({ label: 'y' });
    assert.deepEqual(
      await openSource(`${server.origin}/redirect/2/data.csv`).inferSchema({ label: 'y' }),
      schema,
    );
    await rejectsWith(
      openSource(`${server.origin}/redirect/6/data.csv`).inferSchema({ label: 'y' }),
      DataNotFoundError,
      'E_DATA_NOT_FOUND',
      ['more than 5 redirects'],
    );
  });

  test('should read the right batches from a server that ignores Range (cutting the range out of the whole file)', async () => {
    const local = openSource(join(dir, 'data.csv'));
    const schema = await local.inferSchema({ label: 'y' });
    const full = await collect(local, schema, options);
    server.ignoreRanges = true;
    try {
      assert.deepEqual(await readByRanges(openSource(`${server.origin}/data.csv`), 'y'), full);
      assert.deepEqual(
        await readByRanges(openSource(`${server.origin}/data.jsonl`), 'y'),
        await collect(
          openSource(join(dir, 'data.jsonl')),
          await openSource(join(dir, 'data.jsonl')).inferSchema({ label: 'y' }),
          options,
        ),
      );
    } finally {
      server.ignoreRanges = false;
    }
  });

  test('should find the size by a one-byte range GET when HEAD is refused or has no Content-Length', async () => {
    const expected = await readByRanges(openSource(join(dir, 'data.csv')), 'y');
    try {
      for (const head of ['refused', 'no-length'] as const) {
        server.head = head;
        server.requests.length = 0;
        assert.deepEqual(
          await readByRanges(openSource(`${server.origin}/data.csv`), 'y'),
          expected,
          head,
        );
        assert.ok(
          server.requests.includes('GET /data.csv bytes=0-0'),
          `${head}: no size probe among ${server.requests.join('; ')}`,
        );
      }
      // No ranges either: a 200 to the range GET still carries the whole file's Content-Length.
      server.ignoreRanges = true;
      server.head = 'no-length';
      assert.deepEqual(await readByRanges(openSource(`${server.origin}/data.csv`), 'y'), expected);
      // No size anywhere (HEAD refused, the file streamed in chunks): the error says so.
      const csv = await readFile(join(dir, 'data.csv'));
      const streaming = createServer((req, res) => {
        if (req.method === 'HEAD') return void res.writeHead(405).end();
        res.write(csv); // written before the end, with no Content-Length: node:http frames it chunked
        res.end();
      });
      await new Promise<void>((resolve) => streaming.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(streaming.address() as AddressInfo).port}/data.csv`;
        await rejectsWith(spansOf(openSource(url), 'y'), DataNotFoundError, 'E_DATA_NOT_FOUND', [
          url,
          'HTTP 405 to HEAD',
          "the file's size is unknown",
        ]);
      } finally {
        streaming.closeAllConnections();
        await new Promise<void>((resolve) => streaming.close(() => resolve()));
      }
    } finally {
      server.head = 'normal';
      server.ignoreRanges = false;
    }
  });

  test('should refuse, naming --ship-rows, a range of a file that changed since the driver read it', async () => {
    const path = join(dir, 'changing.jsonl');
    await writeFile(path, '{"x":1,"y":"a"}\n{"x":2,"y":"b"}\n{"x":3,"y":"a"}\n');
    const source = openSource(`${server.origin}/changing.jsonl`);
    const schema = await source.inferSchema({ label: 'y' });
    const spans = await spansOf(source, 'y');
    // Same size, other content: only the ETag tells.
    await writeFile(path, '{"x":1,"y":"a"}\n{"x":2,"y":"b"}\n{"x":4,"y":"a"}\n');
    const worker = openSource(source.byteRanges!.reference);
    await rejectsWith(
      worker.byteRanges!.readSpan(schema, spans[0]!, options),
      DataParseError,
      'E_DATA_PARSE',
      ['changed since the driver read it', '--ship-rows'],
    );
    await writeFile(path, '{"x":1,"y":"a"}\n');
    await rejectsWith(
      worker.byteRanges!.readSpan(schema, spans[0]!, options),
      DataParseError,
      'E_DATA_PARSE',
      ['bytes now but was', '--ship-rows'],
    );
  });
});
