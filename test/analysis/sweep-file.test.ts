import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSweepFile, writeSweepFile } from '../../src/analysis/sweep-file.js';
import { jsonErrorOffset, lineColumn } from '../../src/analysis/json-position.js';
import type { PipelineSweep, ServeSweep } from '../../src/analysis/sweep-schema.js';
import { SweepFileError, SweepVersionError } from '../../src/errors.js';
import { packageRoot } from '../../src/util/package-root.js';
import { tempDir } from '../helpers.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'sweeps');

describe('sweep files', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('mlscale-sweep-file-'));
  });
  afterEach(() => cleanup());

  const serve = async (): Promise<ServeSweep> =>
    JSON.parse(await readFile(join(fixtures, 'serve-2cpu', 'sweep.json'), 'utf8')) as ServeSweep;
  const pipeline = async (): Promise<PipelineSweep> =>
    JSON.parse(
      await readFile(join(fixtures, 'pipeline-2cpu', 'sweep.json'), 'utf8'),
    ) as PipelineSweep;
  const writeRaw = async (text: string, name = 'raw'): Promise<string> => {
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, 'sweep.json'), text);
    return join(dir, name, 'sweep.json');
  };

  test('should write atomically and read back the same sweep, from the folder or the file', async () => {
    const sweep = await serve();
    const path = await writeSweepFile(join(dir, 'out'), sweep);
    assert.equal(path, join(dir, 'out', 'sweep.json'));
    assert.deepEqual(await readdir(join(dir, 'out')), ['sweep.json']);
    assert.deepEqual(await readSweepFile(join(dir, 'out')), sweep);
    assert.deepEqual(await readSweepFile(path), sweep);
    assert.equal((await readSweepFile(join(fixtures, 'pipeline-2cpu'))).kind, 'pipeline');
  });

  test('should say a path does not exist, and that a folder holds no sweep.json', async () => {
    await assert.rejects(
      readSweepFile(join(dir, 'nowhere')),
      (err: unknown) =>
        err instanceof SweepFileError && /nowhere: no such file or folder/.test(err.message),
    );
    await mkdir(join(dir, 'empty'));
    await assert.rejects(
      readSweepFile(join(dir, 'empty')),
      (err: unknown) =>
        err instanceof SweepFileError &&
        /the folder .*empty holds no sweep\.json/.test(err.message),
    );
  });

  test('should name line and column of bad JSON', async () => {
    const path = await writeRaw('{\n  "kind": "serve",\n  "schemaVersion": 1,\n}\n');
    await assert.rejects(
      readSweepFile(path),
      (err: unknown) =>
        err instanceof SweepFileError && err.message.startsWith(`${path}:4:1: not valid JSON`),
    );
    const path2 = await writeRaw('{"kind": tru}', 'raw2');
    await assert.rejects(
      readSweepFile(path2),
      (err: unknown) =>
        err instanceof SweepFileError && err.message.startsWith(`${path2}:1:13: not valid JSON`),
    );
  });

  test('should refuse another schema version, naming the file and both versions', async () => {
    const sweep = { ...(await serve()), schemaVersion: 3 };
    const path = await writeRaw(JSON.stringify(sweep), 'v2');
    await assert.rejects(
      readSweepFile(join(dir, 'v2')),
      (err: unknown) =>
        err instanceof SweepVersionError &&
        err.message ===
          `${path} has schema version 3; this mlscale reads versions 1 and 2 (and writes 2)`,
    );
  });

  test('should refuse a wrong kind and a field of the wrong type with its JSON path', async () => {
    await assert.rejects(
      readSweepFile(await writeRaw(JSON.stringify({ ...(await serve()), kind: 'train' }), 'kind')),
      /kind must be "serve" or "pipeline", got "train"/,
    );
    const s = await serve();
    const bad = {
      ...s,
      configs: s.configs.map((c, i) => (i === 1 ? { ...c, maxRateAtSlo: 'fast' } : c)),
    };
    await assert.rejects(
      readSweepFile(await writeRaw(JSON.stringify(bad), 'type')),
      /\$\.configs\[1\]\.maxRateAtSlo must be a number ≥ 0, got "fast"/,
    );
    const p = await pipeline();
    const noSeconds = {
      ...p,
      points: p.points.map((q, i) => (i === 2 ? { ...q, seconds: undefined } : q)),
    };
    await assert.rejects(
      readSweepFile(await writeRaw(JSON.stringify(noSeconds), 'missing')),
      /\$\.points\[2\]\.seconds must be a number ≥ 0, got nothing \(the field is missing\)/,
    );
    await assert.rejects(
      readSweepFile(await writeRaw(JSON.stringify({ ...p, statistic: 'mean' }), 'statistic')),
      /\$\.statistic must be "median" or "fastest", got "mean"/,
    );
    const badRun = {
      ...p,
      points: p.points.map((q, i) => (i === 0 ? { ...q, runSeconds: [1.2, -1] } : q)),
    };
    await assert.rejects(
      readSweepFile(await writeRaw(JSON.stringify(badRun), 'runs')),
      /\$\.points\[0\]\.runSeconds\[1\] must be a number > 0, got -1/,
    );
  });

  test('should refuse an empty or inconsistent grid', async () => {
    await assert.rejects(
      readSweepFile(
        await writeRaw(JSON.stringify({ ...(await serve()), configs: [] }), 'empty-serve'),
      ),
      /\$\.configs is empty: the sweep measured nothing/,
    );
    await assert.rejects(
      readSweepFile(
        await writeRaw(JSON.stringify({ ...(await pipeline()), points: [] }), 'empty-pipeline'),
      ),
      /\$\.points is empty/,
    );
    const s = await serve();
    const dup = { ...s, configs: [...s.configs, s.configs[0]] };
    await assert.rejects(
      readSweepFile(await writeRaw(JSON.stringify(dup), 'dup')),
      /\$\.configs\[7\] measures the same configuration as \$\.configs\[0\] \(digits-mlp: 1 replica × 1 instance × 1 thread, batch ≤ 32, auto delay\)/,
    );
    const p = await pipeline();
    const rows = {
      ...p,
      points: p.points.map((q, i) => (i === 0 ? { ...q, rows: q.rows * 10 } : q)),
    };
    await assert.rejects(
      readSweepFile(await writeRaw(JSON.stringify(rows), 'rows')),
      /more rows than the batches hold/,
    );
  });

  test('should keep a sweep it would not read on disk and say why', async () => {
    const file = join(dir, 'w', 'sweep.json');
    await assert.rejects(
      writeSweepFile(join(dir, 'w'), { ...(await pipeline()), points: [] }),
      (err: unknown) =>
        err instanceof SweepFileError &&
        err.message ===
          `${file} was written, but will not read back: $.points is empty: the sweep measured nothing`,
    );
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')).points, []);
  });
});

describe('jsonErrorOffset', () => {
  test('should find where a text stops being JSON', () => {
    for (const [text, line, column] of [
      ['{"a": [1, 2,]}', 1, 13],
      ['{"a": 1', 1, 8],
      ['[1]\n x', 2, 2],
      ['{"a": "b\u0001"}', 1, 9],
    ] as const) {
      assert.deepEqual(lineColumn(text, jsonErrorOffset(text)), { line, column }, text);
    }
    const valid = '{"a": [true, null, -1.5e3, "x\\n", {}]}';
    assert.equal(jsonErrorOffset(valid), valid.length);
  });
});
