/**
 * Files written by the tools users' data comes from (pandas, numpy, PostgreSQL, MariaDB, Excel, R:
 * see fixtures/real/README.md) read as pandas reads them: the same column kinds, the same missing
 * values, the same numbers.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { openSource } from '../../src/data/open-source.js';
import type { RawBatch, Schema } from '../../src/data/types.js';
import { packageRoot } from '../../src/util/package-root.js';
import { collect } from './data-helpers.js';

const folder = `${packageRoot()}/test/data/fixtures/real`;
type Expected = Record<
  string,
  { kind: 'numeric' | 'categorical'; missing: number; sum?: number; distinct?: number }
>;
const expected = JSON.parse(await readFile(`${folder}/expected.json`, 'utf8')) as Record<
  string,
  Expected
>;

/** What a column looks like after mlscale read it: the same summary pandas gave. */
function summarise(batches: RawBatch[], schema: Schema): Expected {
  const out: Expected = {};
  schema.numeric.forEach((name, c) => {
    let missing = 0;
    let sum = 0;
    for (const b of batches) {
      for (let r = 0; r < b.rowCount; r++) {
        const v = b.numeric[r * schema.numeric.length + c]!;
        if (Number.isNaN(v)) missing++;
        else sum += v;
      }
    }
    out[name] = { kind: 'numeric', missing, sum };
  });
  schema.categorical.forEach((name, c) => {
    let missing = 0;
    const values = new Set<string>();
    for (const b of batches) {
      for (let r = 0; r < b.rowCount; r++) {
        const code = b.catCodes[r * schema.categorical.length + c]!;
        if (code < 0) missing++;
        else values.add(b.catDict[code]!);
      }
    }
    out[name] = { kind: 'categorical', missing, distinct: values.size };
  });
  return out;
}

function assertLikePandas(file: string, got: Expected, label: string): void {
  for (const [name, want] of Object.entries(expected[file]!)) {
    if (name === label) continue;
    const have = got[name];
    assert.ok(have, `${file}: column '${name}' was not read (got ${Object.keys(got).join(', ')})`);
    assert.equal(have.kind, want.kind, `${file}: column '${name}' kind`);
    assert.equal(have.missing, want.missing, `${file}: column '${name}' missing values`);
    if (want.sum !== undefined) {
      // Batches hold float32: 7 significant digits.
      assert.ok(
        Math.abs(have.sum! - want.sum) <= 1e-6 * Math.max(1, Math.abs(want.sum)) * 40,
        `${file}: column '${name}' sums to ${have.sum}, pandas ${want.sum}`,
      );
    } else {
      assert.equal(have.distinct, want.distinct, `${file}: column '${name}' distinct values`);
    }
  }
}

describe('files written by other tools', () => {
  const cases: [file: string, label: string, naValues?: string[]][] = [
    ['pandas-default.csv', 'churned'],
    ['pandas-na-rep.csv', 'churned'],
    ['pandas-default.csv.gz', 'churned'],
    ['numpy-savetxt.csv', 'churned'],
    ['postgres-copy.csv', 'label'],
    ['mariadb-outfile.csv', 'label', ['\\N']],
    ['excel-export.csv', 'Sold'],
    ['r-write-csv.csv', 'smoker'],
  ];
  for (const [file, label, naValues] of cases) {
    test(`should read ${file} as pandas reads it${naValues ? ` (with --na-values ${naValues.join(',')})` : ''}`, async () => {
      const source = openSource(`${folder}/${file}`);
      const schema = await source.inferSchema({ label, ...(naValues ? { naValues } : {}) });
      const batches = await collect(source, schema, { batchRows: 7 });
      assert.equal(
        batches.reduce((n, b) => n + b.skippedRows, 0),
        0,
      );
      assertLikePandas(file, summarise(batches, schema), label);
    });
  }

  test('should read pandas JSON Lines (null for missing) with the same values as the CSV export', async () => {
    const csv = openSource(`${folder}/pandas-default.csv`);
    const jsonl = openSource(`${folder}/pandas-records.jsonl`);
    const csvSchema = await csv.inferSchema({ label: 'churned' });
    const jsonlSchema = await jsonl.inferSchema({ label: 'churned' });
    assert.deepEqual(jsonlSchema.numeric, csvSchema.numeric);
    const got = summarise(await collect(jsonl, jsonlSchema), jsonlSchema);
    // to_json rounds floats to 10 significant digits; the missing values and kinds are the same.
    for (const [name, want] of Object.entries(expected['pandas-default.csv']!)) {
      if (name === 'churned') continue;
      assert.equal(got[name]!.missing, want.missing, name);
      assert.equal(got[name]!.kind, want.kind, name);
    }
  });

  test("should refuse MariaDB's \\N as a number unless --na-values names it", async () => {
    const source = openSource(`${folder}/mariadb-outfile.csv`);
    const schema = await source.inferSchema({ label: 'label' });
    // One \N in six values: the column is not 99% numbers, so pandas' defaults make it text.
    assert.deepEqual(schema.categorical, ['amount', 'region']);
  });
});
