import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';

describe('mlscale train --optimize', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('mlscale-train-optimize-')));
  after(() => cleanup());

  test("should write the variants beside model.onnx, scored on the run's own held-out rows", async () => {
    const out = join(dir, 'digits');
    const r = await runCli([
      'train',
      '--data',
      'sample:digits',
      '--out',
      out,
      '--epochs',
      '1',
      '--hidden',
      '512,512',
      '--executor',
      'inline',
      '--optimize',
      'int8,fp16',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    const report = summary.optimize;
    assert.equal(report.model.path, join(out, 'model.onnx'));
    assert.equal(report.model.score.rows, summary.metrics.rows);
    assert.ok(Math.abs(report.model.score.value - summary.metrics.accuracy) < 1e-9);
    assert.deepEqual(
      report.variants.map((v: { variant: string }) => v.variant),
      ['int8', 'fp16'],
    );
    // Of the 64-512-512-10 MLP, only the 512 × 512 layer holds enough weights to pay.
    const int8 = report.variants[0];
    assert.equal(int8.applicable, true);
    assert.match(int8.summary, /^1 of 3 layers in INT8/);
    assert.equal(int8.quality.kind, 'data');
    const fp16 = report.variants[1];
    assert.equal(fp16.quality.kind, 'data');
    // Each is written unless this machine measured it slower or less accurate: the folder and
    // the verdict agree either way.
    const files = await readdir(out);
    for (const v of [int8, fp16]) {
      assert.equal(files.includes(`model.${v.variant}.onnx`), v.written, v.verdict);
      assert.equal(files.includes(`model.${v.variant}.metadata.json`), v.written);
      if (!v.written) assert.match(v.verdict, /^not written: it (is slower|loses)/);
    }
    if (fp16.written)
      assert.ok(
        (await stat(join(out, 'model.fp16.onnx'))).size <
          0.6 * (await stat(join(out, 'model.onnx'))).size,
      );
  });

  test('should refuse an unknown variant before it trains anything', async () => {
    const out = join(dir, 'never');
    const r = await runCli([
      'train',
      '--data',
      'sample:digits',
      '--out',
      out,
      '--optimize',
      'int4',
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /--optimize must be a comma-separated list of int8, fp16, graph, got "int4" \[E_INVALID_OPTION\]/,
    );
    await assert.rejects(stat(out));
  });
});
