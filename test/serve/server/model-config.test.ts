import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelLoadError } from '../../../src/errors.js';
import { readModelConfig } from '../../../src/serve/model-config.js';
import { tempDir } from '../../helpers.js';

async function withConfig(text: string, check: (path: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir('mlscale-config-');
  try {
    const path = join(dir, 'config.json');
    await writeFile(path, text);
    await check(path);
  } finally {
    await cleanup();
  }
}

test('readModelConfig should read every per-model setting, the load timeout included', async () => {
  await withConfig(
    '{"maxBatchSize": 8, "maxQueueDelayMs": "auto", "instances": 1, "loadTimeoutMs": 60000}',
    async (path) => {
      assert.deepEqual(await readModelConfig(path), {
        maxBatchSize: 8,
        maxQueueDelayMs: 'auto',
        instances: 1,
        loadTimeoutMs: 60_000,
      });
    },
  );
});

test('readModelConfig should treat a missing file as an empty config', async () => {
  assert.deepEqual(await readModelConfig(join('/nonexistent', 'config.json')), {});
});

test('readModelConfig should name the file, the key and the value given for a bad setting', async () => {
  await withConfig('{"loadTimeoutMs": 5}', async (path) => {
    await assert.rejects(
      readModelConfig(path),
      (err: unknown) =>
        err instanceof ModelLoadError &&
        (err as Error).message.includes(
          `${path}: "loadTimeoutMs" must be an integer from 1000 to 86400000, got 5`,
        ),
    );
  });
  await withConfig('{"loadTimeout": 5000}', async (path) => {
    await assert.rejects(
      readModelConfig(path),
      (err: unknown) =>
        err instanceof ModelLoadError &&
        /unknown key "loadTimeout"; known keys: .*loadTimeoutMs/.test((err as Error).message),
    );
  });
});
