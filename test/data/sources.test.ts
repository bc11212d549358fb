/**
 * Every data source through the conformance suite (source.cases.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import { gzipSync } from 'node:zlib';
import { openSource } from '../../src/data/open-source.js';
import { tempDir } from '../helpers.js';
import { runSourceCases } from './source.cases.js';
import { startStaticServer } from './static-server.js';

const { dir, cleanup } = await tempDir();
const rows = 250;
const csv =
  [
    'x,city,note,y',
    ...Array.from(
      { length: rows },
      (_, i) =>
        `${(i * 0.37).toFixed(2)},${['Oslo', 'Lima', 'NA'][i % 3]},"a ""quoted"", note",${i % 3 === 0 ? 'yes' : 'no'}`,
    ),
  ].join('\n') + '\n';
const jsonl =
  Array.from({ length: rows }, (_, i) =>
    JSON.stringify({
      x: i * 0.37,
      city: ['Oslo', 'Lima', null][i % 3],
      y: i % 3 === 0 ? 'yes' : 'no',
    }),
  ).join('\n') + '\n';
await writeFile(join(dir, 't.csv'), csv);
await writeFile(join(dir, 't.csv.gz'), gzipSync(csv));
await writeFile(join(dir, 't.jsonl'), jsonl);
await writeFile(join(dir, 't.jsonl.gz'), gzipSync(jsonl));
const server = await startStaticServer(dir);
after(async () => {
  await server.close();
  await cleanup();
});

const file = (name: string) => async () => ({
  source: openSource(join(dir, name)),
  label: 'y',
  rows,
});
const noRandom = 'files are read in order or by byte range, not by batch id';
runSourceCases('CSV file', file('t.csv'), { randomAccess: noRandom });
runSourceCases('CSV file, gzip', file('t.csv.gz'), { randomAccess: noRandom });
runSourceCases('JSON Lines file', file('t.jsonl'), { randomAccess: noRandom });
runSourceCases('JSON Lines file, gzip', file('t.jsonl.gz'), { randomAccess: noRandom });
runSourceCases(
  'CSV at a URL',
  async () => ({ source: openSource(`${server.origin}/t.csv`), label: 'y', rows }),
  { randomAccess: noRandom },
);
runSourceCases(
  'synthetic',
  async () => ({
    source: openSource('synthetic:rows=250,features=4,classes=3,seed=2'),
    label: 'label',
    rows,
  }),
  {
    byteRanges: 'synthetic batches are built from their id, not read from a file',
    identity: 'its description is its content',
  },
);
runSourceCases(
  'sample:digits',
  async () => ({ source: openSource('sample:digits'), label: 'digit', rows: 1797 }),
  {
    randomAccess: noRandom,
    identity: 'its description names a file shipped with mlscale',
  },
);
