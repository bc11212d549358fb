/**
 * Serving a model's variants: a model folder's `model.int8.onnx` with `--variant`, and a
 * repository holding a model and its sibling `<model>-int8`, as `mlscale optimize` writes them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidOptionError } from '../../../src/errors.js';
import { quantizeInt8 } from '../../../src/model/optimize/quantize-int8.js';
import { resolveServeOptions } from '../../../src/serve/options.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import { gemmMlp, randomRows } from '../../model/optimize/mlp-models.js';
import {
  get,
  infer,
  inferBody,
  kFeatures,
  outputOf,
  startServer,
  writeModel,
} from './server-fixture.js';

describe('mlscale serve: model variants', () => {
  const fp32 = gemmMlp([kFeatures, 128, 4], 7);
  const int8 = quantizeInt8(fp32, 'mlp.onnx', {
    ops: 'standard',
    reduceRange: true,
    minWeights: 0,
    keepFp32: () => false,
  }).model;
  let dir: string;
  let cleanup: () => Promise<void>;
  const servers: ModelServer[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir('mlscale-serve-variant-'));
    const folder = join(dir, 'mlp');
    await mkdir(folder);
    await writeFile(join(folder, 'model.onnx'), fp32);
    await writeFile(
      join(folder, 'metadata.json'),
      JSON.stringify({ format: 'mlscale-model/1', task: 'classification' }),
    );
    await writeFile(join(folder, 'model.int8.onnx'), int8);
    await writeFile(
      join(folder, 'model.int8.metadata.json'),
      JSON.stringify({ format: 'mlscale-model/1', task: 'classification', variant: 'int8' }),
    );
    await writeModel(join(dir, 'repo'), 'mlp', 1, fp32);
    await writeModel(join(dir, 'repo'), 'mlp-int8', 1, int8);
  });
  after(async () => {
    for (const s of servers) await s.close();
    await cleanup();
  });

  test("should serve a folder's variant with --variant as <folder>-<variant>, answering like the FP32 model", async () => {
    const { server, url } = await startServer({
      model: join(dir, 'mlp'),
      variant: 'int8',
      modelOverrides: { instances: 1 },
    });
    servers.push(server);
    const meta = await get(url, '/v2/models/mlp-int8');
    assert.equal(meta.status, 200, meta.text);
    assert.equal(meta.json.parameters.variant, 'int8');
    assert.equal((await get(url, '/v2/models/mlp')).status, 404);
    const x = randomRows(4, kFeatures, 3);
    const answer = await infer(url, 'mlp-int8', inferBody(x));
    assert.equal(answer.status, 200, answer.text);
    const y = outputOf(answer.json, 'y');
    assert.deepEqual(y.shape, [4, 4]);
    const { server: plain, url: plainUrl } = await startServer({
      model: join(dir, 'mlp'),
      modelOverrides: { instances: 1 },
    });
    servers.push(plain);
    const want = outputOf((await infer(plainUrl, 'mlp', inferBody(x))).json, 'y').data as number[];
    const got = y.data as number[];
    const range = Math.max(...want.map(Math.abs));
    for (let i = 0; i < want.length; i++)
      assert.ok(
        Math.abs(got[i]! - want[i]!) <= 0.05 * range,
        `output ${i}: ${got[i]} vs ${want[i]}`,
      );
  });

  test('should serve a model and its sibling variant from one repository', async () => {
    const { server, url } = await startServer({
      modelRepository: join(dir, 'repo'),
      modelOverrides: { instances: 1 },
    });
    servers.push(server);
    const x = randomRows(2, kFeatures, 4);
    for (const name of ['mlp', 'mlp-int8']) {
      const answer = await infer(url, name, inferBody(x));
      assert.equal(answer.status, 200, `${name}: ${answer.text}`);
    }
  });

  test("should report a missing variant file as the model's load failure, naming the command that writes it", async () => {
    const { server } = await startServer({
      model: join(dir, 'mlp'),
      variant: 'fp16',
      modelOverrides: { instances: 1 },
    });
    servers.push(server);
    const [entry] = server.repository.index();
    assert.equal(entry!.name, 'mlp-fp16');
    assert.equal(entry!.state, 'UNAVAILABLE');
    assert.match(
      entry!.reason,
      /--variant fp16: .*mlp holds no model\.fp16\.onnx \(write it with 'mlscale optimize .*mlp --fp16'\)/,
    );
  });

  test('should refuse --variant without a model folder, or with a name that is not one', () => {
    assert.throws(
      () => resolveServeOptions({ modelRepository: dir, variant: 'int8' }),
      (err: unknown) =>
        err instanceof InvalidOptionError &&
        /options\.variant must be a variant name .*with options\.model a model folder/.test(
          err.message,
        ),
    );
    assert.throws(
      () => resolveServeOptions({ model: dir, variant: '../x' }),
      /options\.variant must be a variant name/,
    );
  });
});
