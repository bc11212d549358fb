/**
 * A load-generator process for `bench:grpc`: keeps `concurrency` inference requests in flight for
 * `seconds` over one transport and prints one JSON line `{ requests, errors, seconds, cpuMicros }`
 * (its own CPU time over the run). The same
 * closed loop drives REST (undici, keep-alive) and gRPC (@grpc/grpc-js, a client generated from
 * the .proto), so that the ratio between them is the servers', not two load generators'; and
 * `grpc-raw-h2` sends the same raw-contents call from a lean node:http2 client (the message encoded
 * once), whose smaller CPU share leaves more of the shared cores to the server.
 *
 * argv[2]: JSON `{ transport: 'rest' | 'grpc-typed' | 'grpc-raw' | 'grpc-raw-h2', target, model, width, rows,
 * concurrency, seconds }`.
 */
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { connect } from 'node:http2';
import { Pool } from 'undici';
import { kProtoLoaderOptions, protoDir } from '../src/serve/grpc/proto-files.js';

interface Plan {
  transport: 'rest' | 'grpc-typed' | 'grpc-raw' | 'grpc-raw-h2';
  target: string;
  model: string;
  width: number;
  rows: number;
  concurrency: number;
  seconds: number;
}
const plan = JSON.parse(process.argv[2] ?? '{}') as Plan;
const values = Array.from({ length: plan.width * plan.rows }, (_, i) => ((i * 37) % 200) / 100 - 1);

let send: () => Promise<void>;
let close: () => Promise<void>;
if (plan.transport === 'rest') {
  const pool = new Pool(plan.target, { connections: plan.concurrency, pipelining: 1 });
  const body = JSON.stringify({
    inputs: [{ name: 'x', datatype: 'FP32', shape: [plan.rows, plan.width], data: values }],
  });
  send = async () => {
    const r = await pool.request({
      path: `/v2/models/${plan.model}/infer`,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    await r.body.arrayBuffer();
    if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}`);
  };
  close = () => pool.close();
} else {
  const dir = protoDir();
  const root = loadPackageDefinition(
    loadSync(`${dir}grpc_predict_v2.proto`, kProtoLoaderOptions),
  ) as any;
  const service = root.inference.GRPCInferenceService;
  const input = { name: 'x', datatype: 'FP32', shape: [plan.rows, plan.width] };
  const request =
    plan.transport !== 'grpc-typed'
      ? {
          model_name: plan.model,
          inputs: [input],
          raw_input_contents: [Buffer.from(Float32Array.from(values).buffer)],
        }
      : { model_name: plan.model, inputs: [{ ...input, contents: { fp32_contents: values } }] };
  if (plan.transport === 'grpc-raw-h2') {
    // A lean client: the message encoded once, framed, and sent on node:http2 streams of one
    // session; the answer's status read from its trailers, its message not decoded. It measures
    // the server with less of the shared cores spent on the client than grpc-js's own.
    const message: Buffer = service.service.ModelInfer.requestSerialize(request);
    const framed = Buffer.alloc(5 + message.length);
    framed.writeUInt32BE(message.length, 1);
    message.copy(framed, 5);
    const session = connect(`http://${plan.target}`);
    // A broken session fails its streams, which count as errors.
    session.on('error', () => {});
    const headers = {
      ':method': 'POST',
      ':path': '/inference.GRPCInferenceService/ModelInfer',
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    send = () =>
      new Promise<void>((resolve, reject) => {
        const stream = session.request(headers);
        let status: unknown;
        // A trailers-only answer (an error) carries its status in the headers.
        stream.once('response', (h) => (status = h['grpc-status']));
        stream.once('trailers', (t) => (status = t['grpc-status']));
        stream.on('data', () => {});
        stream.once('end', () =>
          status === '0' ? resolve() : reject(new Error(`grpc-status ${String(status)}`)),
        );
        stream.once('error', reject);
        stream.end(framed);
      });
    close = () => new Promise<void>((resolve) => session.close(() => resolve()));
  } else {
    const client = new service(plan.target, credentials.createInsecure());
    send = () =>
      new Promise<void>((resolve, reject) =>
        client.ModelInfer(request, (err: Error | null) => (err ? reject(err) : resolve())),
      );
    close = async () => client.close();
  }
}

let requests = 0;
let errors = 0;
const end = performance.now() + plan.seconds * 1000;
const started = performance.now();
const cpuStart = process.cpuUsage();
await Promise.all(
  Array.from({ length: plan.concurrency }, async () => {
    while (performance.now() < end) {
      try {
        await send();
        requests++;
      } catch {
        errors++;
      }
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
process.stdout.write(
  JSON.stringify({ requests, errors, seconds, cpuMicros: cpu.user + cpu.system }) + '\n',
);
await close();
