/**
 * A CSV file read from an HTTP URL against the same file read locally, side by side: the full
 * read (what an inline run does), the pass that finds batch byte ranges (the distributed
 * driver), and every batch read by its byte range (the workers; one Range request a batch).
 * The server is a node:http static server on 127.0.0.1, so the figures are the cost of HTTP and
 * undici on top of the parse, not of a network.
 *
 * Run: `npx tsc -p tsconfig.json && flock /tmp/mlscale-bench.lock node dist/bench/http-data.js [rows] [rounds]`
 *
 * @module
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSource } from '../src/data/open-source.js';
import type { BatchOptions, BatchSpan, DataSource, Schema } from '../src/data/types.js';
import { startStaticServer } from '../test/data/static-server.js';

const rows = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const options: BatchOptions = { batchRows: 8192, onBadRow: 'error' };

async function fullRead(source: DataSource, schema: Schema): Promise<number> {
  let n = 0;
  for await (const b of source.batches(schema, options)) n += b.rowCount;
  return n;
}

async function spans(source: DataSource, schema: Schema): Promise<BatchSpan[]> {
  const out: BatchSpan[] = [];
  for await (const s of source.byteRanges!.spans(schema, options)) out.push(s);
  return out;
}

async function rangeReads(source: DataSource, schema: Schema, found: BatchSpan[]): Promise<number> {
  const worker = openSource(source.byteRanges!.reference);
  let n = 0;
  for (const span of found)
    n += (await worker.byteRanges!.readSpan(schema, span, options)).rowCount;
  return n;
}

async function time(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

const dir = await mkdtemp(join(tmpdir(), 'mlscale-bench-http-'));
const server = await startStaticServer(dir);
try {
  const lines = ['a,b,c,city,note,y'];
  for (let i = 0; i < rows; i++) {
    lines.push(
      `${((i * 37) % 101) / 10},${((i * 53) % 97) / 7},${i % 13},${['Oslo', 'Rome', 'Lima', 'Åre'][i % 4]},"n, ${i}",${['low', 'mid', 'high'][i % 3]}`,
    );
  }
  const text = `${lines.join('\n')}\n`;
  await writeFile(join(dir, 'data.csv'), text);
  const local = openSource(join(dir, 'data.csv'));
  const remote = openSource(`${server.origin}/data.csv`);
  const schema = await local.inferSchema({ label: 'y' });
  const found = await spans(local, schema);
  const kinds = ['full read', 'byte-range pass', 'every batch by range'] as const;
  const results = new Map<string, { local: number[]; url: number[] }>(
    kinds.map((k) => [k, { local: [], url: [] }]),
  );
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so warm-up and drift fall on both.
    const order: [string, DataSource][] =
      r % 2 === 0
        ? [
            ['local', local],
            ['url', remote],
          ]
        : [
            ['url', remote],
            ['local', local],
          ];
    for (const [side, source] of order) {
      const into = (k: string) => results.get(k)![side as 'local' | 'url'];
      into('full read').push(await time(() => fullRead(source, schema)));
      into('byte-range pass').push(await time(() => spans(source, schema)));
      into('every batch by range').push(await time(() => rangeReads(source, schema, found)));
    }
  }
  console.log(
    `${rows} rows, ${(text.length / 1e6).toFixed(1)} MB, ${found.length} batches of ${options.batchRows}; ${rounds} rounds; ${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  );
  for (const k of kinds) {
    const { local: l, url: u } = results.get(k)!;
    console.log(
      `${k}: local ${median(l).toFixed(0)} ms, URL ${median(u).toFixed(0)} ms, URL/local ${(median(u) / median(l)).toFixed(2)}x (local ${l.map((x) => x.toFixed(0)).join(' ')}; URL ${u.map((x) => x.toFixed(0)).join(' ')})`,
    );
  }
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
