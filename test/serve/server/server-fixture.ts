/**
 * Shared fixtures for the server integration tests: model repositories on disk, a slow model,
 * servers on 127.0.0.1 port 0, HTTP helpers, and a small Prometheus text parser.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { OnnxGraph } from '../../../src/model/onnx-graph.js';
import { resolveServeOptions, type ServeOptions } from '../../../src/serve/options.js';
import { createServer, type ModelServer, type ServerSetup } from '../../../src/serve/server.js';
import { kFeatures } from '../instances/model-fixture.js';

export { kFeatures, randomInput, smallModelBytes } from '../instances/model-fixture.js';

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `bytes` as `<repo>/<name>/<version>/model.onnx`. */
export async function writeModel(
  repo: string,
  name: string,
  version: string | number,
  bytes: Uint8Array,
): Promise<string> {
  const dir = join(repo, name, String(version));
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'model.onnx');
  await writeFile(path, bytes);
  return path;
}

/**
 * A model whose run takes a fixed, input-independent while: `x` FP32 [N, 8] → `y` FP32 [N, 8].
 * The input's sum scales a `size`×`size` identity matrix, which is then multiplied by the identity
 * `depth` times; the input flows into the chain, so onnxruntime cannot fold it away at load.
 * y = x + mean(sum(x)·I) = x + sum(x)/size.
 */
export function slowModelBytes(size = 384, depth = 8): Uint8Array {
  const g = new OnnxGraph('slow');
  g.input('x', 'float', ['N', kFeatures]);
  const eye = new Float32Array(size * size);
  for (let i = 0; i < size; i++) eye[i * size + i] = 1;
  const identity = g.floatConstant('identity', eye, [size, size]);
  const sum = g.op('ReduceSum', ['x'], { keepdims: { int: 0 } });
  let m = g.op('Mul', [identity, sum]);
  for (let i = 0; i < depth; i++) m = g.op('MatMul', [m, identity]);
  const mean = g.op('ReduceMean', [m], { keepdims: { int: 0 } });
  const y = g.op('Add', ['x', mean], {}, 'y');
  g.output(y, 'float', ['N', kFeatures]);
  return g.toBytes();
}

/** A server on 127.0.0.1, port 0, quiet, with `options` (a repository or a model must be given) and `setup` (plugins). */
export async function startServer(
  options: ServeOptions,
  setup: ServerSetup = {},
): Promise<{ server: ModelServer; url: string }> {
  const server = await createServer(
    resolveServeOptions({ host: '127.0.0.1', port: 0, logLevel: 'silent', ...options }),
    setup,
  );
  try {
    return { server, url: await server.listen() };
  } catch (err) {
    await server.close();
    throw err;
  }
}

/** A fetch answer, read: status, headers, and the body as text and (when it parses) JSON. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: any;
}

async function read(response: Response): Promise<Answer> {
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** GET `url + path`. */
export async function get(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return read(await fetch(url + path, { headers }));
}

/** POST `body` (an object is sent as JSON) to `url + path`. */
export async function post(
  url: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const raw =
    body === undefined || typeof body === 'string' || body instanceof Uint8Array
      ? body
      : JSON.stringify(body);
  const contentType: Record<string, string> =
    body === undefined
      ? {}
      : {
          'content-type':
            typeof body === 'object' && !(body instanceof Uint8Array)
              ? 'application/json'
              : 'application/octet-stream',
        };
  return read(
    await fetch(url + path, {
      method: 'POST',
      body: raw as RequestInit['body'],
      headers: { ...contentType, ...headers },
    }),
  );
}

/** A JSON inference request for the fixture models' input `x` ([rows, 8] FP32, flat data). */
export function inferBody(
  x: Float32Array,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    inputs: [
      {
        name: 'x',
        datatype: 'FP32',
        shape: [x.length / kFeatures, kFeatures],
        data: Array.from(x),
      },
    ],
    ...extra,
  };
}

/** POSTs an inference request for `model` (and `version`) and reads the answer. */
export function infer(
  url: string,
  model: string,
  body: unknown,
  options: { version?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const path = `/v2/models/${model}${options.version === undefined ? '' : `/versions/${options.version}`}/infer`;
  return post(url, path, body, options.headers);
}

/** Asserts a 4xx/5xx answer with exactly the body `{"error": "..."}` whose message matches `message`. */
export function assertError(answer: Answer, status: number, message: RegExp): void {
  assert.equal(answer.status, status, `expected ${status}, got ${answer.status}: ${answer.text}`);
  assert.ok(
    answer.json !== null && typeof answer.json === 'object',
    `not a JSON object: ${answer.text}`,
  );
  assert.deepEqual(Object.keys(answer.json), ['error'], answer.text);
  assert.equal(typeof answer.json.error, 'string');
  assert.match(answer.json.error, message);
}

/** An output of a JSON inference response, by name. */
export function outputOf(
  json: any,
  name: string,
): { name: string; datatype: string; shape: number[]; data: unknown[] } {
  const output = (json.outputs as { name: string }[]).find((o) => o.name === name);
  assert.ok(output, `no output ${name} in ${JSON.stringify(json).slice(0, 300)}`);
  return output as never;
}

/** The FP32 bytes of JSON numbers (each was a float32 written in shortest form, so this is exact). */
export function float32Bytes(values: readonly unknown[]): Buffer {
  const f = Float32Array.from(values as number[]);
  return Buffer.from(f.buffer);
}

/** Splits a binary-extension response into its JSON header and the binary data after it. */
export function splitBinary(body: Buffer, headerLength: number): { json: any; binary: Buffer } {
  return {
    json: JSON.parse(body.subarray(0, headerLength).toString('utf8')),
    binary: body.subarray(headerLength),
  };
}

/** One sample of a Prometheus text exposition: name, labels, value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text format (comments skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    assert.ok(m, `unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return samples;
}

/** Samples named `name` whose labels include `labels`. */
export function findSamples(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one sample named `name` with `labels`, or undefined. */
export function metricValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = findSamples(samples, name, labels);
  assert.ok(found.length <= 1, `${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Scrapes `/metrics`. */
export async function scrape(url: string): Promise<Sample[]> {
  const answer = await get(url, '/metrics');
  assert.equal(answer.status, 200);
  return parseMetrics(answer.text);
}

/** A raw HTTP/1.1 request through `agent` (to control connection reuse), read to the end. */
export function rawRequest(
  url: string,
  path: string,
  options: {
    method?: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
    agent?: Agent;
  } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url + path,
      { method: options.method ?? 'GET', headers: options.headers, agent: options.agent },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
