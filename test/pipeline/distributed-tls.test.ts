/**
 * The distributed pipeline over TLS: a private `redis-server` listening only on a TLS port, with
 * a certificate signed by a CA made for the test, and a training run over `rediss://` with that CA
 * given by `--redis-ca`, as the README says.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { InvalidOptionError, RedisUnavailableError } from '../../src/errors.js';
import { BullmqExecutor } from '../../src/pipeline/executors/bullmq/bullmq-executor.js';
import { trainModel } from '../../src/pipeline/train-model.js';
import type { TrainingOptions } from '../../src/pipeline/options.js';
import { runCli, tempDir } from '../helpers.js';
import {
  freePort,
  killWorkers,
  startWorkers,
  testPrefix,
  type WorkerProcess,
} from '../redis-helpers.js';

const { dir, cleanup } = await tempDir();
after(() => cleanup());

/** Why the TLS test cannot run here, or undefined. */
function missing(): string | undefined {
  if (spawnSync('openssl', ['version']).status !== 0)
    return 'needs openssl on PATH to make certificates';
  if (spawnSync('redis-server', ['--version']).status !== 0) return 'needs redis-server on PATH';
  return undefined;
}

/** Makes a CA and a server certificate for 127.0.0.1 signed by it. */
function makeCertificates(): { ca: string; cert: string; key: string } {
  const at = (name: string) => join(dir, name);
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  };
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=mlscale test CA',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    at('server.key'),
    '-out',
    at('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  spawnSync('sh', [
    '-c',
    `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ${JSON.stringify(at('ext.cnf'))}`,
  ]);
  run([
    'x509',
    '-req',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.pem'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-out',
    at('server.pem'),
    '-days',
    '1',
    '-extfile',
    at('ext.cnf'),
  ]);
  return { ca: at('ca.pem'), cert: at('server.pem'), key: at('server.key') };
}

/** Starts a redis-server on a TLS port only; undefined when this build has no TLS. */
async function startTlsRedis(
  port: number,
  files: { ca: string; cert: string; key: string },
): Promise<ChildProcess | undefined> {
  const args = [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--tls-cert-file',
    files.cert,
    '--tls-key-file',
    files.key,
    '--tls-ca-cert-file',
    files.ca,
    '--tls-auth-clients',
    'no',
    '--save',
    '',
    '--appendonly',
    'no',
  ];
  const server = spawn('redis-server', args, { stdio: 'ignore' });
  process.once('exit', () => server.kill('SIGKILL'));
  const ca = await readFile(files.ca);
  for (let i = 0; i < 50; i++) {
    if (server.exitCode !== null) return undefined; // a build without TLS refuses --tls-port
    const client = new Redis({
      host: '127.0.0.1',
      port,
      tls: { ca },
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return server;
    } catch {
      // not yet
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  server.kill('SIGKILL');
  return undefined;
}

const skip = missing();
if (skip) console.log(`# skipping the TLS test: ${skip}`);

describe('distributed pipeline over TLS (rediss:// with --redis-ca)', { skip }, () => {
  let server: ChildProcess | undefined;
  let url = '';
  let files: { ca: string; cert: string; key: string };
  const workers: WorkerProcess[] = [];
  before(async () => {
    files = makeCertificates();
    const port = await freePort();
    server = await startTlsRedis(port, files);
    url = `rediss://127.0.0.1:${port}`;
  });
  after(async () => {
    await killWorkers(workers);
    server?.kill('SIGKILL');
  });

  test(
    'should train over rediss:// with the CA given by --redis-ca, identical to inline',
    { timeout: 90_000 },
    async (t) => {
      if (!server) return t.skip('this redis-server was built without TLS (--tls-port refused)');
      const prefix = testPrefix('tls');
      workers.push(...(await startWorkers(url, prefix, 2, ['--redis-ca', files.ca])));
      const data: Partial<TrainingOptions> = {
        data: 'synthetic:rows=1200,features=6,classes=3,seed=5',
        batchSize: 200,
        syncEvery: 3,
        epochs: 2,
        hidden: [8],
      };
      const bullmq = await trainModel({
        ...data,
        executor: 'bullmq',
        redis: url,
        redisCa: files.ca,
        prefix,
        workers: 2,
        out: join(dir, 'tls'),
      });
      const inline = await trainModel({
        ...data,
        executor: 'inline',
        out: join(dir, 'tls-inline'),
      });
      assert.ok(
        (await readFile(join(dir, 'tls', 'model.onnx'))).equals(
          await readFile(join(dir, 'tls-inline', 'model.onnx')),
        ),
        'model.onnx differs from inline',
      );
      assert.deepEqual(bullmq.result.metrics, inline.result.metrics);
      assert.ok((bullmq.metadata.executor as { workers: number }).workers >= 1);
    },
  );

  test(
    "should fail within seconds, naming the URL, when the server's CA is not given",
    { timeout: 30_000 },
    async (t) => {
      if (!server) return t.skip('this redis-server was built without TLS (--tls-port refused)');
      const executor = new BullmqExecutor({ redis: url, connectTimeoutMs: 2000 });
      const t0 = Date.now();
      try {
        await assert.rejects(
          executor.map({ module: 'file:///nowhere.js', name: 'x' }, [{ id: 0, input: {} }]),
          (err: unknown) => {
            assert.ok(err instanceof RedisUnavailableError, String(err));
            assert.match(
              err.message,
              new RegExp(
                `cannot reach Redis at ${url.replace(/\./g, '\\.')}/0: .*(self[- ]signed|unable to (get|verify)|certificate)`,
                'i',
              ),
            );
            return true;
          },
        );
        assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
      } finally {
        await executor.close();
      }
    },
  );
});

describe('--redis-ca validation', () => {
  test('should refuse a CA file with a redis:// URL, a missing file and a file that is no certificate', async () => {
    const notPem = join(dir, 'not-a-cert.pem');
    await writeFile(notPem, 'hello\n');
    assert.throws(
      () => new BullmqExecutor({ redis: 'redis://127.0.0.1:6379', redisCa: notPem }),
      (err: unknown) =>
        err instanceof InvalidOptionError &&
        /options\.redisCa is for TLS: give a rediss:\/\/ URL/.test(err.message),
    );
    assert.throws(
      () =>
        new BullmqExecutor({ redis: 'rediss://127.0.0.1:6379', redisCa: join(dir, 'nowhere.pem') }),
      (err: unknown) =>
        err instanceof InvalidOptionError &&
        /options\.redisCa: cannot read the CA file .*nowhere\.pem \(ENOENT\)/.test(err.message),
    );
    assert.throws(
      () => new BullmqExecutor({ redis: 'rediss://127.0.0.1:6379', redisCa: notPem }),
      (err: unknown) =>
        err instanceof InvalidOptionError && /holds no PEM certificate/.test(err.message),
    );
  });

  test('should refuse --redis-ca without --executor bullmq, and name a missing file on mlscale worker', async () => {
    const train = await runCli([
      'train',
      '--data',
      'synthetic:rows=100',
      '--redis-ca',
      join(dir, 'ca.pem'),
      '--out',
      join(dir, 'x'),
    ]);
    assert.equal(train.code, 2, train.stderr);
    assert.match(train.stderr, /--redis-ca must be a PEM file, with --executor bullmq/);
    const worker = await runCli([
      'worker',
      '--redis',
      'rediss://127.0.0.1:1',
      '--redis-ca',
      join(dir, 'nowhere.pem'),
    ]);
    assert.equal(worker.code, 2, worker.stderr);
    assert.match(
      worker.stderr,
      /--redis-ca: cannot read the CA file .*nowhere\.pem \(ENOENT\) \[E_INVALID_OPTION\]/,
    );
  });
});
