/**
 * What the `bullmq` executor (the driver) and `mlscale worker` processes agree on: the queue, the
 * job data, the Redis keys that hold inputs and results, and the binary codec.
 *
 * Payloads are packed with msgpack, which keeps Float32Array, Int32Array, Float64Array as raw
 * little-endian bytes: weights and batches stay binary, never JSON number arrays (10-20 characters
 * a float). Where they travel depends on their size, because BullMQ job data and return values are
 * JSON strings and every Redis round trip costs (about 0.4 ms on this machine's loopback):
 * - up to `kInlinePayloadBytes` (16 KB), the packed bytes ride in the job, base64 (a third larger): the
 *   input in the job data, the output as the job's return value, which reaches the driver inside
 *   the `completed` event — no extra round trip on either side;
 * - larger payloads (real weights, batches shipped by value) go to one Redis hash per round and
 *   direction, `…:in` / `…:out`, field = batch id, binary; the job carries only names and ids, and
 *   the worker writes its output with HSETNX, so a batch that runs twice is recorded once.
 * Either way results are keyed by run, round and batch id, and the driver takes the first.
 *
 * @module
 */
import { Packr } from 'msgpackr';

/** The BullMQ queue every worker listens on (inside the prefix). */
export const kTaskQueue = 'tasks';
/** Default key prefix: `mlscale worker --prefix` and the executor's `prefix` must agree. */
export const kDefaultPrefix = 'mlscale';
/** Seconds the input and result hashes outlive a driver that died before deleting them. */
export const kPayloadTtlSeconds = 24 * 3600;

/** The JSON data of one task job. */
export interface TaskJobData {
  /** mlscale version of the driver; a worker on another version refuses the job. */
  readonly version: string;
  readonly run: string;
  /**
   * `<driver start>.<map call>`: the executor's map call number within this start of the run's
   * driver (a training round, or a fit/evaluate window). The start number (1, then 2 after a
   * `--resume`, ...) keeps a resumed driver's rounds apart from the jobs a killed one left behind.
   */
  readonly round: string;
  readonly batch: number;
  /** Task module URL and export. */
  readonly module: string;
  readonly name: string;
  /** The packed input, base64, when small; otherwise it is in the round's input hash. */
  readonly input?: string;
  /** The input's other part is the round's shared input (see `splitShared`). */
  readonly shared?: boolean;
}

/**
 * Packed payloads up to this size travel inside the job (input) or its return value (output).
 * Return values are also copied into BullMQ's event stream (the `completed` event), which keeps
 * the last `kEventStreamLength` events.
 */
export const kInlinePayloadBytes = 16 * 1024;

/**
 * Events kept in the queue's event stream: BullMQ's default. A job writes about five (added,
 * waiting, active, completed, removed), and the driver reads `completed` from the stream, so the
 * stream must hold a round's burst of submissions until the driver has read past them: at 2,000
 * a 1,000-batch round could trim events before they were read (about one run in 30 of the
 * dispatch benchmark), and the lost outputs were found only by the state check, 5-10 s later.
 * Only `completed` events carry a payload (at most 16 KB as ~22 KB of base64), so the stream
 * holds at most about 2,000 of them: some 45 MB of Redis in the worst case, a few MB in practice.
 */
export const kEventStreamLength = 10_000;

/**
 * A job's return value: `i:<base64>@<worker>` is the packed output itself; `h@<worker>` means it
 * is in the output hash. `<worker>` (`host:pid`) tells the driver which workers ran its batches.
 * (Neither base64 nor a host name holds an '@'.)
 */
export type TaskReturn = string;

/** The return value of a packed output of at most `kInlinePayloadBytes`, given as base64. */
export function inlineReturn(base64: string, worker: string): TaskReturn {
  return `i:${base64}@${worker}`;
}

/** The return value of an output written to the output hash. */
export function hashReturn(worker: string): TaskReturn {
  return `h@${worker}`;
}

/** The packed output inside a return value, or undefined when it is in the output hash. */
export function returnedBytes(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || !value.startsWith('i:')) return undefined;
  const at = value.lastIndexOf('@');
  return Buffer.from(at < 0 ? value.slice(2) : value.slice(2, at), 'base64');
}

/** The worker named in a return value. */
export function returnedWorker(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const at = value.lastIndexOf('@');
  return at < 0 ? undefined : value.slice(at + 1);
}

/** The deterministic job id: one job per run, round and batch. (BullMQ ids cannot contain ':'.) */
export function taskJobId(run: string, round: string, batch: number): string {
  return `${run}.${round}.${batch}`;
}

/** The counter of a run's driver starts. */
export function startsKey(prefix: string, run: string): string {
  return `${prefix}:${kTaskQueue}:starts:${run}`;
}

/** The key of a run's progress (JSON, `RunProgressReport`), written by the driver for the dashboard. */
export function progressKey(prefix: string, run: string): string {
  return `${prefix}:${kTaskQueue}:progress:${run}`;
}

/** The key of a run's checkpoint (msgpack), read by a resumed driver and by the dashboard. */
export function checkpointKey(prefix: string, run: string): string {
  return `${prefix}:${kTaskQueue}:checkpoint:${run}`;
}

/** The hashes of a round's inputs and outputs (field = batch id), and its shared input. */
export function payloadKeys(
  prefix: string,
  run: string,
  round: string,
): { inputs: string; outputs: string; shared: string } {
  const base = `${prefix}:${kTaskQueue}:payload:${run}:${round}`;
  return { inputs: `${base}:in`, outputs: `${base}:out`, shared: `${base}:shared` };
}

/**
 * Splits the inputs of one round into what every call shares and what is each call's own: the
 * top-level properties whose value is the very same object in every input (the round's weights,
 * the schema, the model spec) travel once per round, in one Redis key that each worker process
 * reads once; each job carries only the rest (its batch or batch reference, its seed). A worker
 * rebuilds `{ ...shared, ...own }`, equal property by property to the input the driver was given.
 * Inputs that are not plain objects, or a round of one call, are not split.
 */
export function splitShared(inputs: readonly unknown[]): {
  shared: Record<string, unknown> | undefined;
  own: unknown[];
} {
  const plain = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
  const first = inputs[0];
  if (inputs.length < 2 || !inputs.every(plain) || !plain(first))
    return { shared: undefined, own: [...inputs] };
  const keys = Object.keys(first).filter((k) => {
    const v = first[k];
    return (
      typeof v === 'object' &&
      v !== null &&
      inputs.every((input) => Object.hasOwn(input, k) && input[k] === v)
    );
  });
  if (keys.length === 0) return { shared: undefined, own: [...inputs] };
  const shared = Object.fromEntries(keys.map((k) => [k, first[k]]));
  const sharedKeys = new Set(keys);
  const own = inputs.map((input) =>
    Object.fromEntries(Object.entries(input).filter(([k]) => !sharedKeys.has(k))),
  );
  return { shared, own };
}

const packr = new Packr({ useRecords: false, moreTypes: true, structuredClone: false });

/** Packs a task input or output; typed arrays stay binary. */
export function encodePayload(value: unknown): Buffer {
  return packr.pack(value);
}

/** Unpacks what `encodePayload` packed; typed arrays come back as fresh, owned copies. */
export function decodePayload<T>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}

/**
 * A task failure as BullMQ stores it (`failedReason` is a string): `<ErrorClass>: <message>`,
 * so the driver can rebuild a coded error of the same class.
 */
export function formatFailure(name: string, message: string): string {
  return `${name}: ${message}`;
}

/** Reverses `formatFailure`. */
export function parseFailure(reason: string): { name: string; message: string } {
  const m = /^([A-Za-z_$][\w$]*): ([\s\S]*)$/.exec(reason);
  return m ? { name: m[1]!, message: m[2]! } : { name: 'Error', message: reason };
}
