/**
 * Per-model settings on a real server: a model's config.json applies, flags override it, and a bad
 * config.json makes that model not ready with the file, key and value named, while the others serve.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import {
  get,
  metricValue,
  post,
  scrape,
  smallModelBytes,
  startServer,
  writeModel,
} from './server-fixture.js';

describe('mlscale serve: per-model settings from config.json and flags', () => {
  let repo: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-settings-');
    cleanup = tmp.cleanup;
    repo = tmp.dir;
    for (const name of ['configured', 'plain', 'misconfigured'])
      await writeModel(repo, name, 1, smallModelBytes());
    await writeFile(
      join(repo, 'configured', 'config.json'),
      JSON.stringify({ instances: 2, intraOpThreads: 1, loadTimeoutMs: 60_000 }),
    );
    await writeFile(join(repo, 'misconfigured', 'config.json'), '{"instances": 0}');
  });

  after(async () => {
    await cleanup();
  });

  async function withServer(
    overrides: Record<string, unknown>,
    check: (url: string) => Promise<void>,
  ): Promise<void> {
    let server: ModelServer | undefined;
    try {
      const started = await startServer({ modelRepository: repo, modelOverrides: overrides });
      server = started.server;
      await check(started.url);
    } finally {
      await server?.close();
    }
  }

  const instances = async (url: string, model: string): Promise<number | undefined> =>
    metricValue(await scrape(url), 'mlscale_model_instances', { model, version: '1' });

  test("should apply a model's config.json, and report a bad one with its file, key and value", async () => {
    await withServer({}, async (url) => {
      assert.equal(await instances(url, 'configured'), 2);
      assert.equal((await get(url, '/v2/models/plain/ready')).status, 200);
      const index = (await post(url, '/v2/repository/index', {})).json as {
        name: string;
        state: string;
        reason: string;
      }[];
      const bad = index.find((m) => m.name === 'misconfigured');
      assert.equal(bad?.state, 'UNAVAILABLE');
      assert.match(
        bad!.reason,
        /misconfigured[/\\]config\.json: "instances" must be an integer from 1 to 256, got 0/,
      );
      assert.equal(index.find((m) => m.name === 'configured')?.state, 'READY');
    });
  });

  test('should let flags override config.json', async () => {
    await withServer({ instances: 1 }, async (url) => {
      assert.equal(await instances(url, 'configured'), 1);
    });
  });
});
