import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SyntheticSource } from '../../src/data/synthetic-source.js';
import { generateRows } from '../../src/data/synthetic-rows.js';
import { parseSyntheticSpec } from '../../src/data/synthetic-spec.js';
import { InvalidOptionError, LabelNotFoundError } from '../../src/errors.js';
import { classNames, collect, rejectsWith } from './data-helpers.js';

function assertInvalid(spec: string, fragments: string[]): void {
  assert.throws(
    () => parseSyntheticSpec(spec),
    (err: unknown) => {
      assert.ok(err instanceof InvalidOptionError, String(err));
      assert.equal(err.code, 'E_INVALID_OPTION');
      for (const f of fragments) assert.ok(err.message.includes(f), `${err.message} lacks ${f}`);
      return true;
    },
  );
}

describe('SyntheticSource', () => {
  test('should parse a spec and fill in the defaults', () => {
    assert.deepEqual(parseSyntheticSpec('synthetic:rows=1_000_000,features=32,classes=4,seed=7'), {
      rows: 1_000_000,
      features: 32,
      classes: 4,
      task: 'classification',
      seed: 7,
      noise: 0.1,
      informative: 8,
    });
    assert.deepEqual(parseSyntheticSpec('synthetic:rows=10,features=3,task=regression,noise=0.5'), {
      rows: 10,
      features: 3,
      classes: 0,
      task: 'regression',
      seed: 0,
      noise: 0.5,
      informative: 3,
    });
    assert.equal(parseSyntheticSpec('synthetic:classes=0').task, 'regression');
    assert.equal(parseSyntheticSpec('synthetic:').classes, 2);
  });

  test('should reject bad specs saying which key, what was expected and what was given', () => {
    assertInvalid('synthetic:rows=10,colour=red', ["'colour'", 'rows, features']);
    assertInvalid('synthetic:rows=1.5', ["'rows'", 'integer', "'1.5'"]);
    assertInvalid('synthetic:rows=0', ["'rows'", 'from 1', "'0'"]);
    assertInvalid('synthetic:features=-3', ["'features'", "'-3'"]);
    assertInvalid('synthetic:features=10001', ["'features'", '10000', "'10001'"]);
    assertInvalid('synthetic:classes=1', ["'classes'", '0 (regression)', "'1'"]);
    assertInvalid('synthetic:seed=abc', ["'seed'", "'abc'"]);
    assertInvalid('synthetic:task=ranking', [
      "'task'",
      'classification or regression',
      "'ranking'",
    ]);
    assertInvalid('synthetic:task=regression,classes=3', ["'classes'", 'task=regression', "'3'"]);
    assertInvalid('synthetic:task=classification,classes=0', ["'classes'", "'0'"]);
    assertInvalid('synthetic:noise=2', ["'noise'", '0 to 1', "'2'"]);
    assertInvalid('synthetic:features=4,informative=5', ["'informative'", 'from 1 to 4', "'5'"]);
    assertInvalid('synthetic:rows', ["'rows'", 'key=value']);
    assertInvalid('synthetic:rows=1,rows=2', ["'rows'", 'twice']);
    assert.throws(() => new SyntheticSource('synthetic:rows=x'), InvalidOptionError);
  });

  test('should generate the same rows from the same spec', () => {
    const a = generateRows(parseSyntheticSpec('rows=200,features=5,classes=3,seed=9'), 0, 200);
    const b = generateRows(parseSyntheticSpec('rows=200,features=5,classes=3,seed=9'), 0, 200);
    assert.deepEqual(a, b);
    const other = generateRows(parseSyntheticSpec('rows=200,features=5,classes=3,seed=10'), 0, 200);
    assert.notDeepEqual(a.features, other.features);
  });

  test('should generate a row the same way whatever range it is generated in', () => {
    for (const text of [
      'rows=100,features=6,classes=4,seed=3',
      'rows=100,features=6,task=regression,seed=3',
    ]) {
      const spec = parseSyntheticSpec(text);
      const whole = generateRows(spec, 0, 100);
      const first = generateRows(spec, 0, 50);
      const second = generateRows(spec, 50, 50);
      assert.deepEqual(whole.features, Float32Array.from([...first.features, ...second.features]));
      assert.deepEqual(whole.labels, Float32Array.from([...first.labels, ...second.labels]));
      assert.deepEqual(generateRows(spec, 37, 1).features, whole.features.slice(37 * 6, 38 * 6));
    }
  });

  test('should reject a row range outside the dataset', () => {
    const spec = parseSyntheticSpec('rows=10');
    assert.throws(() => generateRows(spec, 5, 6), InvalidOptionError);
    assert.throws(() => generateRows(spec, -1, 1), InvalidOptionError);
  });

  test('should stream batches equal to the generated rows, whatever the batch size', async () => {
    const source = new SyntheticSource('synthetic:rows=1000,features=4,classes=3,seed=1');
    const schema = await source.inferSchema({ label: 'label' });
    const rows = generateRows(source.spec, 0, 1000);
    for (const batchRows of [64, 1000, 4096]) {
      const batches = await collect(source, schema, { batchRows });
      assert.equal(batches.length, Math.ceil(1000 / batchRows));
      assert.deepEqual(Float32Array.from(batches.flatMap((b) => [...b.numeric])), rows.features);
      assert.deepEqual(batches.flatMap(classNames), [...rows.labels].map(String));
      assert.deepEqual(
        batches.flatMap((b) => [...b.rowIndex]),
        Array.from({ length: 1000 }, (_, i) => i),
      );
    }
  });

  test('should make a classification dataset with f0..fn-1, label and balanced classes', async () => {
    const source = new SyntheticSource('synthetic:rows=4000,features=3,classes=4,seed=2');
    assert.equal(source.defaultLabel, 'label');
    const schema = await source.inferSchema({ label: 'label' });
    assert.deepEqual(schema.numeric, ['f0', 'f1', 'f2']);
    assert.deepEqual(schema.categorical, []);
    assert.equal(schema.task, 'classification');
    const counts = new Map<string, number>();
    for (const batch of await collect(source, schema)) {
      for (const name of classNames(batch)) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ['0', '1', '2', '3']);
    for (const count of counts.values())
      assert.ok(count > 800 && count < 1200, `class count ${count}`);
  });

  test('should make a regression dataset whose target follows the features', async () => {
    const source = new SyntheticSource(
      'synthetic:rows=5000,features=4,task=regression,seed=4,noise=0',
    );
    const schema = await source.inferSchema({ label: 'label' });
    assert.equal(schema.task, 'regression');
    const [batch] = await collect(source, schema, { batchRows: 5000 });
    assert.equal(batch!.labels.kind, 'numeric');
    const y = (batch!.labels as { values: Float32Array }).values;
    // Unit-norm weights on standard normal features give about unit variance, plus the sine term.
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    const variance = y.reduce((s, v) => s + (v - mean) ** 2, 0) / y.length;
    assert.ok(variance > 0.5 && variance < 2, `variance ${variance}`);
    const n = y.length;
    let covX0 = 0;
    for (let r = 0; r < n; r++) covX0 += batch!.numeric[r * 4]! * (y[r]! - mean);
    assert.ok(Math.abs(covX0 / n) > 0.05, 'the target depends on f0');
  });

  test('should reject a label other than label, listing the columns', async () => {
    const source = new SyntheticSource('synthetic:features=2');
    await rejectsWith(source.inferSchema({ label: 'y' }), LabelNotFoundError, 'E_LABEL_NOT_FOUND', [
      'f0, f1, label',
    ]);
  });

  test('should reject a task that contradicts the spec', async () => {
    const source = new SyntheticSource('synthetic:classes=3');
    await rejectsWith(
      source.inferSchema({ label: 'label', task: 'regression' }),
      InvalidOptionError,
      'E_INVALID_OPTION',
      ['regression'],
    );
  });

  test('should stream a subset of the feature columns in the order the schema gives', async () => {
    const source = new SyntheticSource('synthetic:rows=3,features=4,seed=5');
    const schema = await source.inferSchema({ label: 'label' });
    const [batch] = await collect(source, { ...schema, numeric: ['f3', 'f0'] });
    const rows = generateRows(source.spec, 0, 3);
    const expected = [0, 1, 2].flatMap((r) => [rows.features[r * 4 + 3]!, rows.features[r * 4]!]);
    assert.deepEqual([...batch!.numeric], expected);
    await rejectsWith(
      collect(source, { ...schema, numeric: ['f4'] }),
      InvalidOptionError,
      'E_INVALID_OPTION',
      ["'f4'"],
    );
  });
});
