/**
 * The real `mlscale serve` program as a child process of a sweep: started on a free loopback
 * port, waited on until `/v2/health/ready` answers 200, measured (CPU time of its whole process
 * tree, its `/metrics`), and stopped with SIGTERM.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ServerUnreachableError } from '../errors.js';
import { packageRoot } from '../util/package-root.js';
import { freePort } from '../util/free-port.js';
import { kExitWithParentEnv } from '../util/exit-with-parent.js';

/** A running `mlscale serve` child. */
export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last lines the server wrote to stderr (for error messages). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of {@link startServerProcess}. */
export interface StartServerOptions {
  /** How long to wait for readiness, in ms. */
  readonly readyTimeoutMs: number;
  readonly signal?: AbortSignal;
}

export { freePort } from '../util/free-port.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `mlscale serve <args> --port <free port>` and resolves once it is ready. Rejects with
 * `ServerUnreachableError` (its stderr or the reason it is not ready in the message) when the
 * process exits first, a model fails to load, or readiness does not come in time; the child is
 * killed before the rejection.
 */
export async function startServerProcess(
  args: readonly string[],
  options: StartServerOptions,
): Promise<ServerProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const bin = join(packageRoot(), 'bin', 'mlscale.js');
  // stdin is a pipe this process holds: when it dies, even by SIGKILL, the pipe ends and the
  // server stops itself (exit-with-parent.ts), so no orphan keeps the port and the CPU.
  const child = spawn(
    process.execPath,
    [bin, 'serve', ...args, '--port', String(port), '--host', '127.0.0.1'],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, [kExitWithParentEnv]: '1' },
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  // A model that fails to load leaves the server up but never ready: its log line says why.
  let loadFailure: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.includes('model not ready')) return;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry['msg'] === 'model not ready')
        loadFailure = `model "${String(entry['model'])}" failed to load: ${String(entry['reason'])}`;
    } catch {
      // not a log line
    }
  });
  const stop = async (graceMs = 15_000): Promise<void> => {
    if (exit) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const started = Date.now();
  const command = `mlscale serve ${args.join(' ')}`;
  let lastReason = 'no answer yet';
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      if (exit) {
        throw new ServerUnreachableError(
          `${command} exited with ${exit.code ?? exit.signal} before it was ready${stderr ? `: ${stderr.trim()}` : ''}`,
        );
      }
      if (loadFailure) throw new ServerUnreachableError(`${command}: ${loadFailure}`);
      try {
        const res = await fetch(`${url}/v2/health/ready`, { signal: AbortSignal.timeout(2000) });
        const text = await res.text();
        if (res.status === 200) break;
        lastReason = `HTTP ${res.status} ${text.slice(0, 300)}`;
      } catch (err) {
        lastReason = String(
          (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message,
        );
      }
      if (Date.now() - started > options.readyTimeoutMs) {
        throw new ServerUnreachableError(
          `${command} was not ready at ${url}/v2/health/ready within ${options.readyTimeoutMs} ms (last: ${lastReason})${stderr ? `; stderr: ${stderr.trim()}` : ''}`,
        );
      }
      await sleep(100);
    }
  } catch (err) {
    await stop(2000);
    throw err;
  }
  return { url, pid: child.pid!, child, stderr: () => stderr, stop };
}

/** Clock ticks per second of /proc/<pid>/stat's times: USER_HZ, 100 on every Linux architecture in use. */
const kClockTicks = 100;

/** Parent pid and CPU seconds (user + system) of a process, from /proc; undefined when it is gone. */
function procStat(pid: number): { ppid: number; cpuS: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after its last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the name: state(3) ppid(4) ... utime(14) stime(15), so index = field - 3.
    return {
      ppid: Number(fields[1]),
      cpuS: (Number(fields[11]) + Number(fields[12])) / kClockTicks,
    };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used so far by `pid` and every live descendant (a primary's replicas), or undefined
 * where /proc is not there (not Linux).
 */
export function processTreeCpuSeconds(pid: number): number | undefined {
  const root = procStat(pid);
  if (!root) return undefined;
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return root.cpuS;
  }
  const stats = new Map<number, { ppid: number; cpuS: number }>();
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (!stat) continue;
    stats.set(Number(name), stat);
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(name));
    children.set(stat.ppid, list);
  }
  let total = 0;
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop()!;
    total += (stats.get(p) ?? procStat(p))?.cpuS ?? 0;
    queue.push(...(children.get(p) ?? []));
  }
  return total;
}

/** `sum` and `count` of a Prometheus histogram over the series whose labels include `model="<model>"`. */
export function histogramTotals(
  metricsText: string,
  name: string,
  model: string,
): { sum: number; count: number } {
  let sum = 0;
  let count = 0;
  const label = `model="${model}"`;
  for (const line of metricsText.split('\n')) {
    if (line.startsWith('#')) continue;
    const isSum = line.startsWith(`${name}_sum`);
    const isCount = line.startsWith(`${name}_count`);
    if (!isSum && !isCount) continue;
    if (!line.includes(label)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    if (isSum) sum += value;
    else count += value;
  }
  return { sum, count };
}
