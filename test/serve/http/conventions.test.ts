/**
 * HTTP as Triton's and KServe's clients speak it, sent as raw HTTP on loopback: compressed request
 * bodies (`Content-Encoding: gzip`, `deflate`, `br`; RFC 9110 §8.4) with the body limit on the
 * decompressed size, compressed answers for clients that send `Accept-Encoding`, exactly
 * `Content-Type: application/json` (KServe's Python client compares it as a string), and JSON
 * `null` as a missing value for models that impute missing values.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { Prng } from '../../../src/model/prng.js';
import type { ModelServer } from '../../../src/serve/server.js';
import { tempDir } from '../../helpers.js';
import {
  inferBody,
  kFeatures,
  randomInput,
  smallModelBytes,
  startServer,
  writeModel,
} from '../server/server-fixture.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One raw HTTP/1.1 request, its answer's bytes as sent (nothing decoded). */
function raw(
  url: string,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        method,
        path,
        headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    // The server may answer (413) and close before the whole upload is sent.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    req.end(body);
  });
}

const kLimit = 1024 * 1024;

describe('HTTP conventions of Triton and KServe clients', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;
  const x = randomInput(new Prng(3), 4);
  const json = (body: unknown): Buffer => Buffer.from(JSON.stringify(body));

  before(async () => {
    const made = await tempDir('mlscale-http-');
    cleanup = made.cleanup;
    const bytes = smallModelBytes();
    await writeModel(made.dir, 'plain', 1, bytes);
    // The same graph with mlscale's metadata: its preprocessing imputes missing numbers (NaN).
    await writeModel(made.dir, 'imputes', 1, bytes);
    await writeFile(
      join(made.dir, 'imputes', '1', 'metadata.json'),
      JSON.stringify({
        format: 'mlscale-model/1',
        task: 'classification',
        preprocessing: { numeric: { missing: 'imputed with the training mean' } },
      }),
    );
    ({ server, url } = await startServer({
      modelRepository: made.dir,
      bodyLimit: kLimit,
      modelOverrides: { maxBatchSize: 1000 },
    }));
  });

  after(async () => {
    await server.close();
    await cleanup();
  });

  test('gzip, deflate and br request bodies are decoded: the answer is the uncompressed one', async () => {
    const body = json(inferBody(x, { id: 'z' }));
    const plain = await raw(url, 'POST', '/v2/models/plain/infer', body, {
      'content-type': 'application/json',
    });
    assert.equal(plain.status, 200, plain.body.toString());
    for (const [encoding, encode] of [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
      ['br', brotliCompressSync],
    ] as const) {
      const answer = await raw(url, 'POST', '/v2/models/plain/infer', encode(body), {
        'content-type': 'application/json',
        'content-encoding': encoding,
      });
      assert.equal(answer.status, 200, `${encoding}: ${answer.body.toString()}`);
      assert.deepEqual(JSON.parse(answer.body.toString()), JSON.parse(plain.body.toString()));
    }
  });

  test('a zip bomb is a 413 with a message, and the server goes on serving', async () => {
    // 64 MiB of zeros compress to about 64 KiB: under the limit compressed, far over it inflated.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    assert.ok(bomb.length < kLimit);
    const answer = await raw(url, 'POST', '/v2/models/plain/infer', bomb, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    assert.equal(answer.status, 413);
    assert.equal(answer.headers['content-type'], 'application/json');
    assert.match(
      JSON.parse(answer.body.toString()).error,
      /^request body decompresses \(Content-Encoding: gzip\) to more than the server's limit of 1048576 bytes \(--body-limit\)/,
    );
    const live = await raw(url, 'GET', '/v2/health/ready');
    assert.equal(live.status, 200);
  });

  test('a body that is not what its Content-Encoding says is a 400; an unknown encoding is a 415', async () => {
    const corrupt = await raw(
      url,
      'POST',
      '/v2/models/plain/infer',
      Buffer.from('{"not":"gzip"}'),
      {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
    );
    assert.equal(corrupt.status, 400);
    assert.match(
      JSON.parse(corrupt.body.toString()).error,
      /^body: cannot decode it as Content-Encoding gzip: /,
    );
    const unknown = await raw(url, 'POST', '/v2/models/plain/infer', Buffer.from('{}'), {
      'content-type': 'application/json',
      'content-encoding': 'zstd',
    });
    assert.equal(unknown.status, 415);
    assert.equal(
      JSON.parse(unknown.body.toString()).error,
      'Content-Encoding: expected gzip, deflate, br or identity, got "zstd"',
    );
  });

  test('large JSON answers are gzipped for a client that accepts it; small ones and other clients get them plain', async () => {
    const big = json(inferBody(randomInput(new Prng(5), 1000)));
    const asked = await raw(url, 'POST', '/v2/models/plain/infer', big, {
      'content-type': 'application/json',
      'accept-encoding': 'gzip, deflate',
    });
    const plain = await raw(url, 'POST', '/v2/models/plain/infer', big, {
      'content-type': 'application/json',
    });
    assert.equal(asked.status, 200);
    assert.equal(asked.headers['content-encoding'], 'gzip');
    assert.equal(asked.headers['content-type'], 'application/json');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(asked.body.length < plain.body.length / 2, 'compressed');
    assert.deepEqual(gunzipSync(asked.body), plain.body);
    const refused = await raw(url, 'POST', '/v2/models/plain/infer', big, {
      'content-type': 'application/json',
      'accept-encoding': 'gzip;q=0, identity',
    });
    assert.equal(refused.headers['content-encoding'], undefined);
    const small = await raw(url, 'POST', '/v2/models/plain/infer', json(inferBody(x)), {
      'content-type': 'application/json',
      'accept-encoding': 'gzip',
    });
    assert.equal(small.headers['content-encoding'], undefined);
  });

  test('other large answers (the Prometheus text) are compressed too', async () => {
    const asked = await raw(url, 'GET', '/metrics', undefined, { 'accept-encoding': 'gzip' });
    const plain = await raw(url, 'GET', '/metrics');
    assert.equal(asked.status, 200);
    if (plain.body.length >= 16 * 1024) {
      assert.equal(asked.headers['content-encoding'], 'gzip');
      assert.ok(gunzipSync(asked.body).toString().includes('mlscale_'));
    } else assert.equal(asked.headers['content-encoding'], undefined);
  });

  test('every JSON answer says exactly application/json, errors included', async () => {
    const answers = await Promise.all([
      raw(url, 'GET', '/v2'),
      raw(url, 'GET', '/v2/health/ready'),
      raw(url, 'GET', '/v2/models/plain'),
      raw(url, 'GET', '/v2/models/plain/config'),
      raw(url, 'GET', '/v2/models/nope'),
      raw(url, 'GET', '/no/such/route'),
      raw(url, 'POST', '/v2/models/plain/infer', Buffer.from('{bad'), {
        'content-type': 'application/json',
      }),
      raw(url, 'POST', '/v2/models/plain/infer', json(inferBody(x)), {
        'content-type': 'application/json',
      }),
      raw(url, 'POST', '/v2/repository/index', Buffer.from('{}'), {
        'content-type': 'application/json',
      }),
    ]);
    for (const a of answers)
      assert.equal(a.headers['content-type'], 'application/json', a.body.toString());
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 404, 404, 400, 200, 200],
    );
  });

  test('JSON null is a missing value for a model that imputes them, and its metadata says so', async () => {
    const row = Array.from(x.subarray(0, kFeatures));
    const withNull = [...row];
    withNull[2] = null as unknown as number;
    // The fixture's training mean is 0: a missing value is imputed as 0.
    const withMean = [...row];
    withMean[2] = 0;
    const ask = (data: unknown[]) =>
      raw(
        url,
        'POST',
        '/v2/models/imputes/infer',
        json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, kFeatures], data }] }),
        {
          'content-type': 'application/json',
        },
      );
    const [missing, mean] = await Promise.all([ask(withNull), ask(withMean)]);
    assert.equal(missing.status, 200, missing.body.toString());
    assert.deepEqual(
      JSON.parse(missing.body.toString()).outputs,
      JSON.parse(mean.body.toString()).outputs,
    );
    const metadata = JSON.parse((await raw(url, 'GET', '/v2/models/imputes')).body.toString());
    assert.match(metadata.parameters.missing_values, /^JSON null .* in FP inputs/);
  });

  test('JSON null is refused for a model that does not impute missing values, saying why', async () => {
    const data = Array.from(x.subarray(0, kFeatures)) as (number | null)[];
    data[5] = null;
    const answer = await raw(
      url,
      'POST',
      '/v2/models/plain/infer',
      json({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, kFeatures], data }] }),
      {
        'content-type': 'application/json',
      },
    );
    assert.equal(answer.status, 400);
    assert.match(
      JSON.parse(answer.body.toString()).error,
      /^inputs\[0\]\.data\[5\]: expected a number for FP32, got null \(null is a missing value only for models that impute missing values/,
    );
  });
});
