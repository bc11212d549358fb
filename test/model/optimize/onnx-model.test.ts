import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelNotFoundError, NotOnnxError, OnnxCorruptError } from '../../../src/errors.js';
import { decodeModel, floatValues, readModelFile } from '../../../src/model/optimize/onnx-model.js';
import { tempDir } from '../../helpers.js';
import { gemmMlp } from './mlp-models.js';

describe('readModelFile', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('mlscale-onnx-model-')));
  after(() => cleanup());

  test('should read a model and its float weights', async () => {
    const path = join(dir, 'ok.onnx');
    await writeFile(path, gemmMlp([4, 3]));
    const { model } = await readModelFile(path);
    const w = model.graph!.initializer!.find((t) => t.name === 'W0')!;
    assert.equal(floatValues(w).length, 12);
  });

  test('should call a CSV file given as a model not ONNX, quoting how it starts', async () => {
    const path = join(dir, 'data.csv');
    await writeFile(path, 'a,b,label\n1,2,x\n3,4,y\n');
    await assert.rejects(readModelFile(path), (err: unknown) => {
      assert.ok(err instanceof NotOnnxError);
      assert.equal(err.code, 'E_NOT_ONNX');
      assert.match(
        err.message,
        /data\.csv is not an ONNX model .*it starts with "a,b,label\\n1,2,x\\n3,4,y\\n"/,
      );
      return true;
    });
  });

  test('should call a JSON file and an empty file not ONNX', async () => {
    const json = join(dir, 'm.json');
    await writeFile(json, '{"model": "not really"}');
    await assert.rejects(readModelFile(json), NotOnnxError);
    const empty = join(dir, 'empty.onnx');
    await writeFile(empty, '');
    await assert.rejects(readModelFile(empty), /empty\.onnx is empty, not an ONNX model/);
  });

  test('should call a truncated model corrupt, not foreign', async () => {
    const bytes = gemmMlp([64, 64, 10]);
    const path = join(dir, 'cut.onnx');
    await writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(readModelFile(path), (err: unknown) => {
      assert.ok(err instanceof OnnxCorruptError);
      assert.equal(err.code, 'E_ONNX_CORRUPT');
      assert.match(
        err.message,
        /cut\.onnx starts as an ONNX model but cannot be decoded .*truncated or damaged/,
      );
      return true;
    });
  });

  test('should say a missing file or a folder is not found', async () => {
    await assert.rejects(
      readModelFile(join(dir, 'nope.onnx')),
      (err: unknown) =>
        err instanceof ModelNotFoundError && /nope\.onnx: no such file/.test(err.message),
    );
    await mkdir(join(dir, 'folder'));
    await assert.rejects(readModelFile(join(dir, 'folder')), /folder is not a file/);
  });

  test('should decode bytes that are a model and hold a graph', () => {
    const model = decodeModel(gemmMlp([2, 2]), 'mem');
    assert.equal(model.graph!.node!.length, 1);
  });
});
