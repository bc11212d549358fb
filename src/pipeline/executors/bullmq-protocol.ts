/**
 * What the `bullmq` executor (the driver) and `mlscale worker` processes agree on: the queue, the
 * job data, the Redis keys that hold inputs and results, and the binary codec.
 *
 * Why the payloads are not in the job data: BullMQ job data is JSON, and JSON has no binary type.
 * Weights and batches are typed arrays; as JSON number arrays a float32 takes 10-20 characters, as
 * base64 it still grows by a third and is parsed as one big string by BullMQ's Lua scripts and
 * copied into its event stream. So the driver packs each call's input with msgpack (which keeps
 * Float32Array, Int32Array, Float64Array as raw little-endian bytes) into one Redis hash per
 * round, `…:in`, field = batch id; the job itself carries only names and ids. The worker writes its
 * packed output the same way to `…:out` with HSETNX, so a batch that runs twice (a stalled job
 * re-run elsewhere, a duplicate) is recorded once: results are keyed by run, round and batch id.
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
}

/** The deterministic job id: one job per run, round and batch. (BullMQ ids cannot contain ':'.) */
export function taskJobId(run: string, round: string, batch: number): string {
  return `${run}.${round}.${batch}`;
}

/** The counter of a run's driver starts. */
export function startsKey(prefix: string, run: string): string {
  return `${prefix}:${kTaskQueue}:starts:${run}`;
}

/** The hashes of a round's inputs and outputs, field = batch id. */
export function payloadKeys(prefix: string, run: string, round: string): { inputs: string; outputs: string } {
  const base = `${prefix}:${kTaskQueue}:payload:${run}:${round}`;
  return { inputs: `${base}:in`, outputs: `${base}:out` };
}

const packr = new Packr({ useRecords: false, moreTypes: true, structuredClone: false });

/** Packs a task input or output; typed arrays stay binary. */
export function encodePayload(value: unknown): Buffer {
  return packr.pack(value);
}

/** Unpacks what `encodePayload` packed; typed arrays come back as fresh, owned copies. */
export function decodePayload<T>(bytes: Buffer): T {
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
