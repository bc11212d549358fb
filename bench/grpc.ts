/**
 * `npm run bench:grpc`: `mlscale serve` over gRPC against the same server over REST, in one run.
 *
 * - rows/s on a light MLP (64-256-256-10) and a heavy one (256-2048-2048-2048-10), one row per
 *   request, over REST (JSON), gRPC with typed contents (fp32_contents) and gRPC with raw contents,
 *   each driven by the same closed-loop Node load generator (bench/grpc-load.ts, its own process),
 *   and reported as a ratio to REST measured in the same repeat;
 * - `--tracing`: the cost of OpenTelemetry tracing on the light model: the same server started with
 *   the OTEL_* variables (OTLP/HTTP protobuf to a sink on loopback in this process) and without,
 *   REST and gRPC, as req/s on / off (target ≥ 0.95), with every request sampled and with 10% of
 *   them (`parentbased_traceidratio`, 0.1), three servers measured in turn.
 * - `--profile DIR`: the servers and load generators write CPU profiles (`--cpu-prof`) into DIR.
 *
 * Everything shares this machine's cores, as a load generator on the same host would. Repeats
 * (`--repeats`, default 3), interleaved, and reports medians; `--quick` runs short and once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../src/analysis/fit.js';
import { fmt, freePort, mlpBytes, root, stop, waitFor } from './serve-kit.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    repeats: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    tracing: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const seconds = args.quick ? 2 : Number(args.seconds);
const repeats = args.quick ? 1 : Number(args.repeats);
const concurrency = Number(args.concurrency);
let profiles = 0;
/** Node flags for a child: a CPU profile into --profile's directory, named after `prefix`. */
const profileFlags = (prefix: string): string[] =>
  args.profile === undefined
    ? []
    : [
        '--cpu-prof',
        '--cpu-prof-dir',
        args.profile,
        '--cpu-prof-name',
        `${String(++profiles).padStart(2, '0')}-${prefix}.cpuprofile`,
      ];

type Transport = 'rest' | 'grpc-typed' | 'grpc-raw';
interface Server {
  url: string;
  grpc: string;
  child: ChildProcess;
}

async function startServer(
  repo: string,
  env: NodeJS.ProcessEnv = {},
  label = 'server',
): Promise<Server> {
  const port = await freePort();
  const grpcPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...profileFlags(label),
      join(root, 'bin/mlscale.js'),
      'serve',
      '--model-repository',
      repo,
      '--port',
      String(port),
      '--grpc-port',
      String(grpcPort),
      '--log-level',
      'warn',
      '--no-dashboard',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/v2/health/ready`);
  return { url, grpc: `127.0.0.1:${grpcPort}`, child };
}

/** One closed-loop run; resolves with requests per second. */
function run(server: Server, transport: Transport, model: string, width: number): Promise<number> {
  const plan = {
    transport,
    target: transport === 'rest' ? server.url : server.grpc,
    model,
    width,
    rows: 1,
    concurrency,
    seconds,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...profileFlags(`load-${transport}`),
        join(root, 'dist/bench/grpc-load.js'),
        JSON.stringify(plan),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      const r = JSON.parse(out) as { requests: number; errors: number; seconds: number };
      if (r.errors > 0) console.warn(`  (${transport} ${model}: ${r.errors} errors)`);
      resolve(r.requests / r.seconds);
    });
  });
}

const models = {
  light: { width: 64, bytes: () => mlpBytes(64, [256, 256], 10) },
  heavy: { width: 256, bytes: () => mlpBytes(256, [2048, 2048, 2048], 10) },
} as const;

const repo = await mkdtemp(join(tmpdir(), 'mlscale-bench-grpc-'));
for (const [name, m] of Object.entries(models)) {
  await mkdir(join(repo, name, '1'), { recursive: true });
  await writeFile(join(repo, name, '1', 'model.onnx'), m.bytes());
}
console.log(
  `bench:grpc on ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}; ${repeats} repeat(s) of ${seconds} s, ${concurrency} requests in flight, 1 row each`,
);

try {
  if (!args.tracing) {
    const server = await startServer(repo);
    try {
      console.log(
        '\n| model | transport | rows/s (median) | vs REST (median of per-repeat ratios) |',
      );
      console.log('| --- | --- | ---: | ---: |');
      for (const [name, m] of Object.entries(models)) {
        const rates: Record<Transport, number[]> = { rest: [], 'grpc-typed': [], 'grpc-raw': [] };
        const ratios: Record<Transport, number[]> = { rest: [], 'grpc-typed': [], 'grpc-raw': [] };
        await run(server, 'rest', name, m.width); // warm-up: instances, JIT, adaptive delay
        for (let r = 0; r < repeats; r++) {
          const order: Transport[] =
            r % 2 === 0 ? ['rest', 'grpc-typed', 'grpc-raw'] : ['grpc-raw', 'grpc-typed', 'rest'];
          const got: Partial<Record<Transport, number>> = {};
          for (const t of order) got[t] = await run(server, t, name, m.width);
          for (const t of order) {
            rates[t].push(got[t]!);
            ratios[t].push(got[t]! / got.rest!);
          }
        }
        for (const t of ['rest', 'grpc-typed', 'grpc-raw'] as Transport[])
          console.log(
            `| ${name} | ${t} | ${fmt(median(rates[t]))} | ${median(ratios[t]).toFixed(2)} |`,
          );
      }
    } finally {
      await stop(server.child);
    }
  } else {
    // A sink for the OTLP exports: answers 200 to every POST, counting bytes.
    let exported = 0;
    const sink = createServer((request, response) => {
      request.on('data', (d: Buffer) => (exported += d.length));
      request.on('end', () =>
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(),
      );
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    const otlp = {
      OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    };
    const servers = {
      off: await startServer(repo, { OTEL_SDK_DISABLED: 'true' }, 'off'),
      all: await startServer(repo, { ...otlp, OTEL_TRACES_SAMPLER: 'always_on' }, 'all'),
      tenth: await startServer(
        repo,
        {
          ...otlp,
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: '0.1',
        },
        'tenth',
      ),
    };
    type Setting = keyof typeof servers;
    const settings: Setting[] = ['off', 'all', 'tenth'];
    try {
      console.log(
        '\n| transport | sampled | req/s tracing off | req/s tracing on | on / off (median of per-repeat ratios) |',
      );
      console.log('| --- | --- | ---: | ---: | ---: |');
      for (const t of ['rest', 'grpc-raw'] as Transport[]) {
        const rates: Record<Setting, number[]> = { off: [], all: [], tenth: [] };
        const ratios: Record<Setting, number[]> = { off: [], all: [], tenth: [] };
        for (const k of settings) await run(servers[k], t, 'light', 64);
        for (let r = 0; r < repeats; r++) {
          // Each setting first, second and third in turn.
          const order = settings.map((_, i) => settings[(i + r) % settings.length]!);
          if (r % 2 === 1) order.reverse();
          const got: Partial<Record<Setting, number>> = {};
          for (const k of order) got[k] = await run(servers[k], t, 'light', 64);
          for (const k of settings) {
            rates[k].push(got[k]!);
            ratios[k].push(got[k]! / got.off!);
          }
        }
        for (const [k, label] of [
          ['all', '100%'],
          ['tenth', '10% (parentbased_traceidratio)'],
        ] as const)
          console.log(
            `| ${t} | ${label} | ${fmt(median(rates.off))} | ${fmt(median(rates[k]))} | ${median(ratios[k]).toFixed(3)} |`,
          );
      }
      console.log(`\n(${fmt(exported / 1024)} KiB of OTLP exported to the sink)`);
    } finally {
      for (const k of settings) await stop(servers[k].child);
      sink.close();
    }
  }
} finally {
  await rm(repo, { recursive: true, force: true });
}
