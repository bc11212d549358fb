/**
 * Malformed and pathological inference requests against a real server: each gets a 4xx with the
 * protocol's JSON error saying what was wrong (and where), a good request beside them still gets
 * its answer, and liveness answers after each.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Prng } from '../../src/model/prng.js';
import type { ModelServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers.js';
import {
  assertError,
  infer,
  inferBody,
  kFeatures,
  post,
  randomInput,
  smallModelBytes,
  startServer,
  writeModel,
} from '../serve/server/server-fixture.js';
import { assertLive } from './hostile-fixture.js';

const row = Array.from({ length: kFeatures }, (_, i) => i / 10);
const input = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'x',
  datatype: 'FP32',
  shape: [1, kFeatures],
  data: row,
  ...fields,
});
const json = { 'content-type': 'application/json' };

/** Each case: what is sent (a body and headers), the status and the message expected. */
const cases: {
  name: string;
  body: string | Buffer | object;
  headers?: Record<string, string>;
  status: number;
  message: RegExp;
}[] = [
  {
    name: '10 MB of nested brackets (refused before parsing)',
    body: Buffer.alloc(10 * 1024 * 1024, '['),
    headers: json,
    status: 400,
    message: /^body: JSON nested deeper than 64 levels \(at byte 64, depth 65\)/,
  },
  {
    name: 'nesting through objects inside the data',
    body: `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,8],"data":${'{"a":['.repeat(40)}1${']}'.repeat(40)}}]}`,
    headers: json,
    status: 400,
    message: /^body: JSON nested deeper than 64 levels/,
  },
  { name: 'an empty body', body: '', headers: json, status: 400, message: /^body: invalid JSON/ },
  {
    name: 'truncated JSON',
    body: '{"inputs": [',
    headers: json,
    status: 400,
    message: /^body: invalid JSON/,
  },
  {
    name: 'invalid UTF-8',
    body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    headers: json,
    status: 400,
    message: /^inputs: expected an array, got nothing|^body: invalid JSON/,
  },
  {
    name: 'a constructor.prototype key',
    body: '{"constructor": {"prototype": {"x": 1}}, "inputs": []}',
    headers: json,
    status: 400,
    message: /^body: invalid JSON/,
  },
  {
    name: 'a shape of a billion rows with no data',
    body: { inputs: [input({ shape: [1e9, kFeatures], data: row })] },
    status: 400,
    message: /^inputs\[0\]/,
  },
  {
    name: 'a shape whose product overflows',
    body: { inputs: [input({ shape: [2 ** 40, 2 ** 40], data: row })] },
    status: 400,
    message: /^inputs\[0\]\.shape/,
  },
  {
    name: 'a negative dimension',
    body: { inputs: [input({ shape: [-1, kFeatures] })] },
    status: 400,
    message: /^inputs\[0\]\.shape: expected an array of non-negative integers/,
  },
  {
    name: 'a fractional dimension',
    body: { inputs: [input({ shape: [1.5, kFeatures] })] },
    status: 400,
    message: /^inputs\[0\]\.shape: expected an array of non-negative integers/,
  },
  {
    name: 'a datatype that does not exist',
    body: { inputs: [input({ datatype: 'FP128' })] },
    status: 400,
    message: /^inputs\[0\]\.datatype/,
  },
  {
    name: 'the same input twice',
    body: { inputs: [input(), input()] },
    status: 400,
    message: /^inputs\[1\]/,
  },
  {
    name: '100,000 inputs',
    body: { inputs: Array.from({ length: 100_000 }, () => ({ name: 'x' })) },
    status: 400,
    message: /^inputs/,
  },
  {
    name: 'a 1 MB input name',
    body: { inputs: [input({ name: 'x'.repeat(1 << 20) })] },
    status: 400,
    message: /^inputs\[0\]\.name: unknown input "x{40}…"/,
  },
  {
    name: 'a number with 100,000 digits',
    body: `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,8],"data":[${'9'.repeat(100_000)},0,0,0,0,0,0,0]}]}`,
    headers: json,
    status: 400,
    message: /^inputs\[0\]\.data\[0\]: expected a finite number in range for FP32, got Infinity/,
  },
  (() => {
    const header = Buffer.from(
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,8],"parameters":{"binary_data_size":32}}]}',
    );
    return {
      name: 'binary data shorter than its binary_data_size',
      body: Buffer.concat([header, Buffer.alloc(8)]),
      headers: {
        'inference-header-content-length': String(header.length),
        'content-type': 'application/octet-stream',
      },
      status: 400,
      message: /binary_data_size/,
    };
  })(),
  {
    name: 'an Inference-Header-Content-Length larger than the body',
    body: '{}',
    headers: { 'inference-header-content-length': '1000000' },
    status: 400,
    message: /^Inference-Header-Content-Length: expected the JSON header's size in bytes/,
  },
  {
    name: 'a negative Inference-Header-Content-Length',
    body: '{}',
    headers: { 'inference-header-content-length': '-1' },
    status: 400,
    message: /^Inference-Header-Content-Length/,
  },
];

describe('hostile input: malformed and pathological inference bodies', () => {
  let server: ModelServer;
  let url: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir('mlscale-hostile-json-');
    cleanup = tmp.cleanup;
    await writeModel(join(tmp.dir, 'repo'), 'm', 1, smallModelBytes(41));
    ({ server, url } = await startServer({
      modelRepository: join(tmp.dir, 'repo'),
      modelOverrides: { instances: 1, maxBatchSize: 4 },
    }));
  });
  after(async () => {
    await server?.close();
    await cleanup?.();
  });

  for (const c of cases) {
    test(`${c.name}: ${c.status}`, async () => {
      const body =
        typeof c.body === 'string' || Buffer.isBuffer(c.body) ? c.body : JSON.stringify(c.body);
      const answer = await post(url, '/v2/models/m/infer', body, { ...json, ...c.headers });
      assertError(answer, c.status, c.message);
      // A good request still gets its answer.
      const good = await infer(url, 'm', inferBody(randomInput(new Prng(7), 1)));
      assert.equal(good.status, 200, good.text);
      await assertLive(url);
    });
  }
});
