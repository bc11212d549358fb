/**
 * The artifact format's one owner: the names of an artifact's files and its variants', the
 * metadata beside a lone .onnx file, and how metadata is read.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactError } from '../../src/errors.js';
import {
  fileVariantPaths,
  metadataIdentity,
  metadataPathOf,
  readArtifactMetadata,
  variantFiles,
} from '../../src/model/artifact.js';
import { tempDir } from '../helpers.js';

describe('artifact format', () => {
  test("should name a variant's files in an artifact folder, and a lone .onnx file's metadata and variants", () => {
    assert.deepEqual(variantFiles('int8'), {
      model: 'model.int8.onnx',
      metadata: 'model.int8.metadata.json',
    });
    assert.equal(metadataPathOf(join('dir', 'm.onnx')), join('dir', 'm.metadata.json'));
    assert.equal(metadataPathOf(join('dir', 'm.ONNX')), join('dir', 'm.metadata.json'));
    assert.deepEqual(fileVariantPaths(join('dir', 'm.onnx'), 'fp16'), {
      model: join('dir', 'm.fp16.onnx'),
      metadata: join('dir', 'm.fp16.metadata.json'),
    });
    assert.deepEqual(fileVariantPaths(join('dir', 'm.onnx'), 'fp16', 'out'), {
      model: join('out', 'm.fp16.onnx'),
      metadata: join('out', 'm.fp16.metadata.json'),
    });
  });

  test('should read metadata: undefined when there is none, an ArtifactError naming the file when it is not JSON', async () => {
    const tmp = await tempDir('mlscale-artifact-');
    try {
      assert.equal(await readArtifactMetadata(join(tmp.dir, 'missing.json')), undefined);
      await writeFile(
        join(tmp.dir, 'ok.json'),
        JSON.stringify({
          format: 'mlscale-model/1',
          task: 'classification',
          metrics: { accuracy: 0.9 },
        }),
      );
      assert.deepEqual(await readArtifactMetadata(join(tmp.dir, 'ok.json')), {
        format: 'mlscale-model/1',
        task: 'classification',
        metrics: { accuracy: 0.9 },
      });
      await writeFile(join(tmp.dir, 'bad.json'), '{ nope');
      await assert.rejects(
        readArtifactMetadata(join(tmp.dir, 'bad.json')),
        (err: unknown) =>
          err instanceof ArtifactError && /bad\.json: invalid JSON/.test((err as Error).message),
      );
    } finally {
      await tmp.cleanup();
    }
  });

  test('should pick the facts that say which model it is', () => {
    assert.deepEqual(
      metadataIdentity({
        format: 'mlscale-model/1',
        task: 'regression',
        label: 'price',
        metrics: { r2: 0.5 },
        variant: 'int8',
      }),
      { format: 'mlscale-model/1', task: 'regression', label: 'price', variant: 'int8' },
    );
    assert.equal(metadataIdentity({ metrics: {} }), undefined);
  });
});
