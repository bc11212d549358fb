/**
 * The real `mlscale serve` program: graceful shutdown on SIGTERM (in-flight requests finish, the
 * process exits 0, new connections are refused), and bad flags (exit 2, naming the flag).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { Prng } from '../../../src/model/prng.js';
import { runCli, tempDir } from '../../helpers.js';
import { serveProcess, type Served } from '../serve-process.js';
import {
  get,
  inferBody,
  randomInput,
  rawRequest,
  sleep,
  slowModelBytes,
  smallModelBytes,
  writeModel,
} from './server-fixture.js';

/** Starts `mlscale serve` with `args` and waits for its "listening" log line (pino JSON with `url`). */
const serve = (args: string[], timeoutMs = 30_000): Promise<Served> =>
  serveProcess(args, { timeoutMs });

/** Resolves with the exit, or rejects after `ms`. */
async function exitWithin(
  served: Served,
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`mlscale serve did not exit within ${ms} ms; stderr: ${served.stderr()}`)),
      ms,
    );
  });
  try {
    return await Promise.race([served.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('mlscale serve (command line)', () => {
  let repo: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-serve-cli-');
    cleanup = tmp.cleanup;
    repo = tmp.dir;
    await writeModel(repo, 'slow', 1, slowModelBytes(512, 20));
  });

  after(async () => cleanup?.());

  test('SIGTERM drains: in-flight requests finish with 200, the process exits 0, new connections are refused', async () => {
    const served = await serve([
      '--model-repository',
      repo,
      '--port',
      '0',
      '--instances',
      '1',
      '--max-batch-size',
      '0',
      '--grace-period-ms',
      '20000',
    ]);
    // A client that keeps its connections open, as load balancers do: the drain must not wait on them.
    const agent = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    try {
      const { url } = served;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await get(url, '/v2/health/ready')).status, 200);

      const body = JSON.stringify(inferBody(randomInput(new Prng(1), 1)));
      const inFlight = Array.from({ length: 4 }, () =>
        rawRequest(url, '/v2/models/slow/infer', {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          agent,
        }),
      );
      // Wait until the server has accepted all four (one runs, three queue).
      for (let i = 0; ; i++) {
        const stats = (await get(url, '/v2/models/slow/stats')).json.model_stats[0];
        if (stats.batcher.inFlight + stats.inference_stats.success.count >= 4) break;
        assert.ok(i < 500, 'the requests never reached the server');
        await sleep(10);
      }

      served.child.kill('SIGTERM');
      const answers = await Promise.all(inFlight);
      for (const answer of answers) {
        assert.equal(answer.status, 200, answer.text);
        assert.equal(JSON.parse(answer.text).model_name, 'slow');
      }
      const exit = await exitWithin(served, 15_000);
      assert.deepEqual(exit, { code: 0, signal: null }, served.stderr());

      await assert.rejects(
        fetch(`${url}/v2/health/live`),
        (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ECONNREFUSED',
      );
      const messages = served.logs.map((l) => l['msg']);
      assert.ok(
        messages.includes('shutting down: draining in-flight requests'),
        JSON.stringify(messages),
      );
      assert.ok(messages.includes('shut down cleanly'), JSON.stringify(messages));
    } finally {
      agent.destroy();
      served.child.kill('SIGKILL');
    }
  });

  test('a second signal exits at once with code 1, without waiting for the drain', async () => {
    const served = await serve([
      '--model-repository',
      repo,
      '--port',
      '0',
      '--instances',
      '1',
      '--max-batch-size',
      '0',
      '--grace-period-ms',
      '60000',
    ]);
    try {
      const { url } = served;
      const body = JSON.stringify(inferBody(randomInput(new Prng(2), 1)));
      // Twelve runs of the slow model queue up far more work than the test waits for.
      const inFlight = Array.from({ length: 12 }, () =>
        rawRequest(url, '/v2/models/slow/infer', {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        }).then(
          (a) => a.status,
          () => 'cut',
        ),
      );
      for (let i = 0; ; i++) {
        const stats = (await get(url, '/v2/models/slow/stats')).json.model_stats[0];
        if (stats.batcher.inFlight + stats.inference_stats.success.count >= 12) break;
        assert.ok(i < 500, 'the requests never reached the server');
        await sleep(10);
      }
      served.child.kill('SIGTERM');
      await sleep(50);
      served.child.kill('SIGTERM');
      const exit = await exitWithin(served, 15_000);
      assert.deepEqual(exit, { code: 1, signal: null }, served.stderr());
      const outcomes = await Promise.all(inFlight);
      // The running batch finishes; the queued requests are cut (503 or a closed connection) rather than run.
      assert.ok(
        outcomes.filter((o) => o === 200).length < 12,
        `the process waited for every queued request: ${outcomes.join(', ')}`,
      );
      assert.ok(
        outcomes.every((o) => o === 200 || o === 503 || o === 'cut'),
        outcomes.join(', '),
      );
      assert.ok(served.logs.some((l) => l['msg'] === 'second signal: exiting without waiting'));
    } finally {
      served.child.kill('SIGKILL');
    }
  });

  test('serves a single model with --model', async () => {
    const model = await writeModel(repo, 'single', 1, smallModelBytes(51));
    const served = await serve([
      '--model',
      model,
      '--port',
      '0',
      '--instances',
      '1',
      '--log-level',
      'info',
    ]);
    try {
      const metadata = await get(served.url, '/v2/models/model');
      assert.equal(metadata.status, 200, metadata.text);
      served.child.kill('SIGINT');
      assert.deepEqual(await exitWithin(served, 15_000), { code: 0, signal: null });
    } finally {
      served.child.kill('SIGKILL');
    }
  });

  const bad: { name: string; args: () => string[]; message: RegExp }[] = [
    {
      name: '--port abc',
      args: () => ['--model-repository', repo, '--port', 'abc'],
      message: /--port must be an integer from 0 to 65535, got "abc"/,
    },
    {
      name: '--port 70000',
      args: () => ['--model-repository', repo, '--port', '70000'],
      message: /--port must be an integer from 0 to 65535, got 70000/,
    },
    {
      name: '--max-queue-delay-ms soon',
      args: () => ['--model-repository', repo, '--max-queue-delay-ms', 'soon'],
      message:
        /--max-queue-delay-ms must be a number of milliseconds from 0 to 60000, or "auto", got "soon"/,
    },
    {
      name: '--instances 0',
      args: () => ['--model-repository', repo, '--instances', '0'],
      message: /--instances must be an integer from 1 to 256, got 0/,
    },
    {
      name: '--load-timeout-ms 0',
      args: () => ['--model-repository', repo, '--load-timeout-ms', '0'],
      message: /--load-timeout-ms must be an integer from 1000 to 86400000, got 0/,
    },
    {
      name: '--model and --model-repository',
      args: () => ['--model', join(repo, 'slow', '1', 'model.onnx'), '--model-repository', repo],
      message: /give exactly one of --model .* and --model-repository/,
    },
    {
      name: 'neither --model nor --model-repository',
      args: () => ['--port', '0'],
      message: /give exactly one of --model .* and --model-repository/,
    },
    {
      name: 'an unknown flag',
      args: () => ['--model-repository', repo, '--colour'],
      message: /--colour/,
    },
    {
      name: '--log-level loud',
      args: () => ['--model-repository', repo, '--log-level', 'loud'],
      message: /--log-level must be one of .*, got "loud"/,
    },
  ];
  for (const c of bad) {
    test(`${c.name} exits 2 with a message naming the flag`, async () => {
      const r = await runCli(['serve', ...c.args()], { timeoutMs: 30_000 });
      assert.equal(r.code, 2, `exit ${r.code}; stderr: ${r.stderr}`);
      assert.match(r.stderr, c.message);
      assert.match(r.stderr, /\[E_INVALID_OPTION\]/);
      assert.equal(r.stdout, '', 'nothing started');
    });
  }
});
