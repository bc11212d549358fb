/**
 * The conformance suite every `DataSource` passes, as every executor passes
 * `test/pipeline/executors/executor.cases.ts`: `runSourceCases` is called from `sources.test.ts`
 * once per implementation. A skip names the case and says why it does not apply.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openSource } from '../../src/data/open-source.js';
import type { BatchOptions, DataSource, RawBatch, Schema } from '../../src/data/types.js';
import { InvalidOptionError } from '../../src/errors.js';

/** A source under test, made fresh for each case. */
export interface SourceUnderTest {
  readonly source: DataSource;
  /** Its label column. */
  readonly label: string;
  /** Rows it holds. */
  readonly rows: number;
}

/** Cases to skip, by name, with the reason. */
export type SourceSkips = Partial<Record<'identity' | 'byteRanges' | 'randomAccess', string>>;

async function all(source: DataSource, schema: Schema, options: BatchOptions): Promise<RawBatch[]> {
  const out: RawBatch[] = [];
  for await (const b of source.batches(schema, options)) out.push(b);
  return out;
}

/**
 * Runs the suite.
 *
 * @param name - The implementation, for test names.
 * @param make - Makes the source (called once per case).
 * @param skip - Cases that do not apply, with the reason.
 */
export function runSourceCases(
  name: string,
  make: () => Promise<SourceUnderTest>,
  skip: SourceSkips = {},
): void {
  const options: BatchOptions = { batchRows: 37, onBadRow: 'error' };
  describe(`DataSource conformance: ${name}`, () => {
    test('should infer a frozen schema with the label apart from the feature columns', async () => {
      const { source, label } = await make();
      const schema = await source.inferSchema({ label });
      assert.ok(Object.isFrozen(schema));
      assert.equal(schema.label, label);
      assert.ok(!schema.columns.some((c) => c.name === label));
      assert.deepEqual(
        [...schema.numeric, ...schema.categorical].sort(),
        schema.columns.map((c) => c.name).sort(),
      );
    });

    test('should stream every row once, in batches of the asked size with ids 0, 1, 2, ... and increasing row indexes', async () => {
      const { source, label, rows } = await make();
      const schema = await source.inferSchema({ label });
      const batches = await all(source, schema, options);
      assert.deepEqual(
        batches.map((b) => b.id),
        batches.map((_, i) => i),
      );
      assert.equal(
        batches.reduce((n, b) => n + b.rowCount, 0),
        rows,
      );
      assert.ok(batches.slice(0, -1).every((b) => b.rowCount === options.batchRows));
      const indexes = batches.flatMap((b) => [...b.rowIndex]);
      assert.ok(indexes.every((v, i) => i === 0 || v > indexes[i - 1]!));
      for (const b of batches) {
        assert.equal(b.numeric.length, b.rowCount * schema.numeric.length);
        assert.equal(b.catCodes.length, b.rowCount * schema.categorical.length);
      }
    });

    test('should give the same batches on a second read', async () => {
      const { source, label } = await make();
      const schema = await source.inferSchema({ label });
      assert.deepEqual(await all(source, schema, options), await all(source, schema, options));
    });

    test('should let a reader stop early and read again', async () => {
      const { source, label } = await make();
      const schema = await source.inferSchema({ label });
      for await (const batch of source.batches(schema, options)) {
        assert.equal(batch.id, 0);
        break;
      }
      assert.ok((await all(source, schema, options)).length > 1);
    });

    test('should refuse invalid batch options with InvalidOptionError naming the option', async () => {
      const { source, label } = await make();
      const schema = await source.inferSchema({ label });
      await assert.rejects(
        all(source, schema, { batchRows: 0, onBadRow: 'error' }),
        (err: unknown) =>
          err instanceof InvalidOptionError && /options\.batchRows/.test((err as Error).message),
      );
    });

    test(
      'should build each batch by id as batches() does (random access)',
      { skip: skip.randomAccess },
      async () => {
        const { source, label } = await make();
        const schema = await source.inferSchema({ label });
        assert.ok(source.randomAccess, 'no randomAccess: skip the case and say why');
        const full = await all(source, schema, options);
        assert.equal(source.randomAccess.batchCount(options), full.length);
        for (const b of full)
          assert.deepEqual(await source.randomAccess.readBatch(schema, b.id, options), b);
      },
    );

    test(
      'should read each byte range, in this or a reopened source, as batches() does',
      { skip: skip.byteRanges },
      async () => {
        const { source, label } = await make();
        const schema = await source.inferSchema({ label });
        assert.ok(source.byteRanges, 'no byteRanges: skip the case and say why');
        const full = await all(source, schema, options);
        const spans = [];
        for await (const span of source.byteRanges.spans(schema, options)) spans.push(span);
        assert.equal(spans.length, full.length);
        for (let i = 1; i < spans.length; i++)
          assert.equal(spans[i]!.start, spans[i - 1]!.end, 'ranges tile the file');
        const reopened = openSource(source.byteRanges.reference);
        for (const span of spans)
          assert.deepEqual(
            await reopened.byteRanges!.readSpan(schema, span, options),
            full[span.id],
          );
      },
    );

    test('should name the same data the same way (identity)', { skip: skip.identity }, async () => {
      const { source } = await make();
      assert.ok(source.identity, 'no identity: skip the case and say why');
      assert.equal(await source.identity(), await source.identity());
    });
  });
}
