/**
 * `sweepServe`: for every configuration of a grid (replicas × instances × max batch size × max
 * queue delay), start the real `mlscale serve`, search for the highest request rate whose p99
 * latency meets the SLO, and record throughput, latency, the mean batch size and CPU use.
 *
 * The search: a closed-loop probe measures the saturation throughput X; open-loop points then
 * start at 0.8·X and step up (×1.25) while they pass or down (×0.5) while they fail, until one
 * passing and one failing rate bracket the answer; bisection narrows the bracket to 5% or until the
 * point budget is spent. A point passes when its p99 is within the SLO, its errors are within the
 * allowance, and the load generator kept up with the rate (a generator-bound point says nothing
 * of the server, so it counts as the upper end of the bracket).
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ServerUnreachableError } from '../errors.js';
import { requestBody } from './request-body.js';
import { runLoad, type LoadResult } from './loadgen.js';
import { machineInfo } from './machine-info.js';
import {
  histogramTotals,
  processTreeCpuSeconds,
  startServerProcess,
  type ServerProcess,
} from './server-process.js';
import { cartesian } from './sweep-grid.js';
import {
  kSweepSchemaVersion,
  type LoadPoint,
  type ServeConfig,
  type ServeConfigResult,
  type ServeSweep,
} from './sweep-schema.js';
import { sweepTargets, variantInfo } from './sweep-targets.js';
import { resolveServeSweepOptions, type ServeSweepOptions } from './sweep-serve-options.js';

export {
  kDefaultServeSweepOptions,
  resolveServeSweepOptions,
  type ServeSweepOptions,
} from './sweep-serve-options.js';

/** Bisection stops once the bracket is within this share of its upper end. */
const kBracketTolerance = 0.05;
/** Rates below this (requests/s) are not worth a point: the configuration has failed the SLO. */
const kMinRate = 1;

/**
 * Runs the serve sweep. Configurations run one after the other; each server is stopped (SIGTERM,
 * then waited for) before the next starts.
 *
 * @returns The sweep file's content (not yet written).
 * @throws InvalidOptionError for a bad grid or setting, ModelNotFoundError when the served
 *   repository has no such model, ServerUnreachableError when a server does not start or dies.
 */
export async function sweepServe(
  options: Partial<ServeSweepOptions> & { model?: string },
): Promise<ServeSweep> {
  const o = resolveServeSweepOptions(options);
  const cores = availableParallelism();
  const say = o.onProgress ?? (() => undefined);
  const grid = cartesian({
    replicas: o.replicas,
    instances: o.instances,
    maxBatchSize: o.maxBatchSize,
    maxQueueDelayMs: o.maxQueueDelayMs,
  });
  const perPointS = (o.pointDurationMs + o.warmupMs) / 1000;
  const modelCount = o.model.split(',').length + (o.variants?.length ?? 0);
  say(
    `sweep serve: ${grid.length} configuration(s)${modelCount > 1 ? ` × ${modelCount} models` : ''}, at most ${1 + o.maxPoints} points of ${perPointS} s each: about ${Math.ceil((grid.length * modelCount * (1 + o.maxPoints) * perPointS) / 60)} min at most, plus server start-ups`,
  );
  const targets = await sweepTargets(o);
  const configs: ServeConfigResult[] = [];
  const largest = Math.max(...grid.map((c) => c.replicas * c.instances));
  const intraOpThreads = o.intraOpThreads ?? Math.max(1, Math.floor(cores / largest));
  const runs = grid.length * targets.length;
  // Models vary fastest: the variants of one configuration run back to back, so a drift in the
  // machine's load between configurations does not fall between the models compared.
  for (const [i, cell] of grid.entries()) {
    for (const [j, target] of targets.entries()) {
      const config: ServeConfig = {
        ...(targets.length > 1 ? { model: target.name } : {}),
        ...cell,
        intraOpThreads,
      };
      const label = `[config ${i * targets.length + j + 1}/${runs}] ${targets.length > 1 ? `model=${target.name} ` : ''}${describeConfig(config)}`;
      say(`${label}: starting the server`);
      const server = await startServerProcess([...target.args, ...serverArgs(config)], {
        readyTimeoutMs: o.readyTimeoutMs,
        signal: o.signal,
      });
      try {
        configs.push(
          await measureConfig(o, server, target.name, config, cores, (line) =>
            say(`${label}: ${line}`),
          ),
        );
      } finally {
        await server.stop();
      }
      const last = configs[configs.length - 1]!;
      say(
        `${label}: max rate at p99 <= ${o.sloP99Ms} ms: ${last.maxRateAtSlo} req/s${last.p99AtMaxMs !== null ? ` (p99 ${last.p99AtMaxMs.toFixed(2)} ms)` : ''}`,
      );
    }
  }
  const base = targets[0]!;
  const variants = await Promise.all(targets.slice(1).map((t) => variantInfo(t, base.name)));
  return {
    kind: 'serve',
    schemaVersion: kSweepSchemaVersion,
    createdAt: new Date().toISOString(),
    machine: machineInfo(),
    model: base.name,
    modelRepository:
      o.modelRepository !== undefined
        ? resolve(o.modelRepository)
        : resolve(o.model.split(',')[0]!.trim()),
    ...(targets.length > 1 ? { models: targets.map((t) => t.name), variants } : {}),
    rowsPerRequest: o.rowsPerRequest,
    sloP99Ms: o.sloP99Ms,
    pointDurationS: o.pointDurationMs / 1000,
    configs,
  };
}

/** `replicas=2 instances=1 threads=1 max-batch-size=64 delay=auto`. */
export function describeConfig(c: ServeConfig): string {
  return `replicas=${c.replicas} instances=${c.instances} threads=${c.intraOpThreads} max-batch-size=${c.maxBatchSize} delay=${c.maxQueueDelayMs}`;
}

function serverArgs(c: ServeConfig): string[] {
  const args: string[] = [];
  args.push(
    '--instances',
    String(c.instances),
    '--intra-op-threads',
    String(c.intraOpThreads),
    '--max-batch-size',
    String(c.maxBatchSize),
    '--max-queue-delay-ms',
    String(c.maxQueueDelayMs),
    // Nothing balances across the sweep's server: no need to stay unready before stopping.
    '--unready-delay-ms',
    '0',
    '--grace-period-ms',
    '5000',
  );
  // One replica is one plain process, as a user would run it; more go under a primary, with no
  // warm spare (an idle spare would only take memory and start-up time from the measurement).
  if (c.replicas > 1) args.push('--replicas', String(c.replicas), '--spare-replicas', '0');
  return args;
}

/** The probe and the rate search of one configuration, plus its batch size and CPU use. */
async function measureConfig(
  o: Readonly<ServeSweepOptions>,
  server: ServerProcess,
  model: string,
  config: ServeConfig,
  cores: number,
  say: (line: string) => void,
): Promise<ServeConfigResult> {
  const bodies =
    o.bodies !== undefined && o.bodies.length > 0
      ? { bodies: o.bodies }
      : { body: await requestBody(server.url, model, o.rowsPerRequest) };
  const url = `${server.url}/v2/models/${encodeURIComponent(model)}/infer`;
  const metricsBefore = await scrapeMetrics(server.url);
  const cpuBefore = processTreeCpuSeconds(server.pid);
  const wallBefore = performance.now();
  const points: LoadPoint[] = [];
  const run = async (mode: 'open' | 'closed', rate?: number): Promise<LoadPoint> => {
    let result: LoadResult;
    try {
      result = await runLoad({
        url,
        method: 'POST',
        ...bodies,
        headers: { 'content-type': 'application/json' },
        mode,
        rate,
        connections: mode === 'closed' ? o.probeConnections : undefined,
        durationMs: o.pointDurationMs,
        warmupMs: o.warmupMs,
        requestTimeoutMs: Math.max(10_000, o.sloP99Ms * 20),
        signal: o.signal,
      });
    } catch (err) {
      throw serverGone(server, err) ?? err;
    }
    const died = serverGone(server);
    if (died) throw died;
    // runLoad resolves early when aborted; the sweep stops there instead of searching on.
    o.signal?.throwIfAborted();
    const point = toPoint(result, o);
    points.push(point);
    say(
      `${mode === 'closed' ? `probe (closed loop, ${o.probeConnections} connections)` : `point ${points.length - 1}: ${rate} req/s offered`}` +
        ` -> ${point.achievedRate.toFixed(1)} req/s, p99 ${point.latencyMs.p99.toFixed(2)} ms, ${point.errors} errors` +
        `${point.generatorBound ? ' (generator-bound)' : ''}${mode === 'open' ? (point.meetsSlo ? ': meets the SLO' : ': misses the SLO') : ''}`,
    );
    return point;
  };

  const probe = await run('closed');
  const saturation = probe.achievedRate;
  let passing: LoadPoint | undefined;
  let lowestFailing = Infinity;
  if (saturation >= kMinRate) {
    let rate = roundRate(saturation * 0.8);
    for (let n = 0; n < o.maxPoints; n++) {
      const point = await run('open', rate);
      if (point.meetsSlo) {
        if (!passing || rate > passing.offeredRate!) passing = point;
      } else lowestFailing = Math.min(lowestFailing, rate);
      const lo = passing?.offeredRate ?? 0;
      let next: number;
      if (lowestFailing === Infinity) {
        // Every rate so far passed: step up until one fails.
        next = roundRate(rate * 1.25);
      } else if (!passing) {
        next = roundRate(rate * 0.5);
        if (next < kMinRate) break;
      } else {
        if ((lowestFailing - lo) / lowestFailing <= kBracketTolerance) break;
        next = roundRate((lo + lowestFailing) / 2);
        if (next <= lo || next >= lowestFailing) break;
      }
      rate = next;
    }
  }
  const wall = (performance.now() - wallBefore) / 1000;
  const cpuAfter = processTreeCpuSeconds(server.pid);
  const metricsAfter = await scrapeMetrics(server.url);
  let meanBatchSize: number | null = null;
  if (metricsBefore !== undefined && metricsAfter !== undefined) {
    const a = histogramTotals(metricsBefore, 'mlscale_inference_batch_size', model);
    const b = histogramTotals(metricsAfter, 'mlscale_inference_batch_size', model);
    if (b.count > a.count) meanBatchSize = (b.sum - a.sum) / (b.count - a.count);
  }
  const cpuUtilisation =
    cpuBefore !== undefined && cpuAfter !== undefined && wall > 0
      ? Math.min(1, Math.max(0, (cpuAfter - cpuBefore) / (wall * cores)))
      : null;
  return {
    config,
    maxRateAtSlo: passing?.offeredRate ?? 0,
    p99AtMaxMs: passing ? passing.latencyMs.p99 : null,
    points,
    meanBatchSize,
    cpuUtilisation,
  };
}

/** Rates keep three significant digits: finer steps than that are noise on a 5-second point. */
function roundRate(rate: number): number {
  if (rate <= 0) return 0;
  const magnitude = 10 ** Math.max(0, Math.floor(Math.log10(rate)) - 2);
  return Math.round(rate / magnitude) * magnitude;
}

function toPoint(r: LoadResult, o: Readonly<ServeSweepOptions>): LoadPoint {
  const allowed = Math.floor(r.requests * o.errorAllowance);
  const meetsSlo =
    r.ok > 0 && r.latencyMs.p99 <= o.sloP99Ms && r.errors <= allowed && !r.generatorBound;
  return {
    offeredRate: r.offeredRate,
    achievedRate: r.achievedRate,
    requests: r.requests,
    errors: r.errors,
    errorsByKind: r.errorsByKind,
    latencyMs: r.latencyMs,
    meetsSlo,
    generatorBound: r.generatorBound,
  };
}

/** A ServerUnreachableError when the server process has exited; undefined while it runs. */
function serverGone(server: ServerProcess, cause?: unknown): ServerUnreachableError | undefined {
  if (server.child.exitCode === null && server.child.signalCode === null) return undefined;
  return new ServerUnreachableError(
    `the server at ${server.url} exited (${server.child.exitCode ?? server.child.signalCode}) during the sweep${server.stderr() ? `: ${server.stderr().trim()}` : ''}`,
    { cause },
  );
}

async function scrapeMetrics(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}
