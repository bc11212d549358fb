/**
 * A load-generator process for `bench:grpc`: keeps `concurrency` inference requests in flight for
 * `seconds` over one transport and prints one JSON line `{ requests, errors, seconds, cpuMicros }`
 * (its own CPU time over the run). The same
 * closed loop drives REST (undici, keep-alive) and gRPC (@grpc/grpc-js, a client generated from
 * the .proto), so that the ratio between them is the servers', not two load generators'.
 *
 * argv[2]: JSON `{ transport: 'rest' | 'grpc-typed' | 'grpc-raw', target, model, width, rows,
 * concurrency, seconds }`.
 */
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Pool } from 'undici';
import { kProtoLoaderOptions, protoDir } from '../src/serve/grpc/proto-files.js';

interface Plan {
  transport: 'rest' | 'grpc-typed' | 'grpc-raw';
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
  const client = new root.inference.GRPCInferenceService(plan.target, credentials.createInsecure());
  const input = { name: 'x', datatype: 'FP32', shape: [plan.rows, plan.width] };
  const request =
    plan.transport === 'grpc-raw'
      ? {
          model_name: plan.model,
          inputs: [input],
          raw_input_contents: [Buffer.from(Float32Array.from(values).buffer)],
        }
      : { model_name: plan.model, inputs: [{ ...input, contents: { fp32_contents: values } }] };
  send = () =>
    new Promise<void>((resolve, reject) =>
      client.ModelInfer(request, (err: Error | null) => (err ? reject(err) : resolve())),
    );
  close = async () => client.close();
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
