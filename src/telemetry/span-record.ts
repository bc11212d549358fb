/**
 * The server's spans as plain records, cheap to make on the request path: ids are numbers drawn
 * from a pool of random bytes, times are `performance.now()` readings, attributes that repeat
 * (model, version, route) are one shared object encoded once. They become OTLP only when a batch
 * of them is exported (otlp-encode.ts), off the request's path.
 *
 * Why not the SDK's spans: with every request traced, making and exporting the SDK's span objects
 * took 40 µs of server CPU per request on the light model (103 → 143 µs), a quarter of its
 * throughput; these records keep the same spans, ids, parents, links and attributes.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';

/** A trace: its 16-byte id as four 32-bit words (big-endian order), and what W3C carries with it. */
export interface TraceIdentity {
  readonly t0: number;
  readonly t1: number;
  readonly t2: number;
  readonly t3: number;
  /** The caller's `tracestate`, kept as given (already validated by the propagator). */
  readonly state: string | undefined;
}

/** An attribute value: strings, integers and doubles are all the server's spans carry. */
export type AttributeValue = string | number;

/** Attributes shared by many spans (a model's, a transport's): keys and values, listed once. */
export interface SharedAttributes {
  readonly keys: readonly string[];
  readonly values: readonly AttributeValue[];
  /** Encoded once by the exporter (protobuf KeyValue fields), then reused. */
  encoded?: Uint8Array;
}

/** OTLP span kinds (the proto's values). */
export const enum Kind {
  Internal = 1,
  Server = 2,
}

/** A failure recorded on a span: status ERROR with the message, and an `exception` event. */
export interface SpanError {
  readonly type: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** When it was recorded (ms, performance.now()). */
  readonly at: number;
}

/** One span. Mutable while it runs; handed to the exporter when it ends. */
export class SpanRecord {
  /** The span's own id, two 32-bit words. */
  readonly s0: number;
  readonly s1: number;
  /** Parent span id (0, 0 with `parent` Parent.None). */
  readonly p0: number;
  readonly p1: number;
  readonly parent: Parent;
  endTime = 0;
  /** Attributes shared with other spans, then this span's own (key, value pairs). */
  shared: SharedAttributes | undefined = undefined;
  own: AttributeValue[] | undefined = undefined;
  /** Spans this one links to (a batch's requests). */
  links: readonly SpanRecord[] | undefined = undefined;
  error: SpanError | undefined = undefined;
  /**
   * A child that runs within this span and is exported with it (a request's wait in the queue, a
   * batch's instance run): its name (undefined: none), id, times, attributes and error, held here
   * rather than in a record of its own, one object less per request on the serving thread.
   */
  inner: string | undefined = undefined;
  i0 = 0;
  i1 = 0;
  innerStart = 0;
  /** 0 until the child ends; a child that never ends is not exported. */
  innerEnd = 0;
  innerOwn: AttributeValue[] | undefined = undefined;
  innerError: SpanError | undefined = undefined;

  constructor(
    readonly trace: TraceIdentity,
    readonly name: string,
    readonly kind: Kind,
    readonly startTime: number,
    parent: Parent,
    p0: number,
    p1: number,
  ) {
    this.s0 = ids.next();
    this.s1 = ids.nextNonZero();
    this.parent = parent;
    this.p0 = p0;
    this.p1 = p1;
  }

  /** A child span of this one, starting now, as a record of its own. */
  child(name: string, start: number = now()): SpanRecord {
    return new SpanRecord(this.trace, name, Kind.Internal, start, Parent.Local, this.s0, this.s1);
  }

  /** Starts the inner child span (see `inner`). */
  startInner(name: string, start: number = now()): void {
    this.inner = name;
    this.i0 = ids.next();
    this.i1 = ids.nextNonZero();
    this.innerStart = start;
  }

  set(key: string, value: AttributeValue): void {
    (this.own ??= []).push(key, value);
  }

  fail(error: unknown): void {
    this.error = spanError(error);
  }
}

/** What a span records of `error`: as the SDK's recordException, the code or name as its type. */
export function spanError(error: unknown): SpanError {
  const e = error instanceof Error ? error : undefined;
  const code = (e as { code?: unknown } | undefined)?.code;
  return {
    type: typeof code === 'string' ? code : (e?.name ?? 'Error'),
    message: e ? e.message : String(error),
    stack: e?.stack,
    at: now(),
  };
}

/** Where a span's parent is: none (a root), in this process, or in the caller (`traceparent`). */
export const enum Parent {
  None = 0,
  Local = 1,
  Remote = 2,
}

/** The time now, ms since `performance.timeOrigin` (the exporter adds the origin). */
export const now = (): number => performance.now();

/**
 * Random 32-bit words for ids, 16 KiB of the OS's randomness at a time (crypto.randomFillSync:
 * ids from distinct processes and restarts must not collide, so not Math.random).
 */
class IdPool {
  readonly #words = new Uint32Array(4096);
  #next = this.#words.length;

  next(): number {
    if (this.#next === this.#words.length) {
      randomFillSync(this.#words);
      this.#next = 0;
    }
    return this.#words[this.#next++]!;
  }

  /** A word that is not 0: the last word of an id, so that no id is all zeros (invalid in W3C). */
  nextNonZero(): number {
    let w = this.next();
    while (w === 0) w = this.next();
    return w;
  }
}

export const ids = new IdPool();

/** A new trace, with no caller. */
export function newTrace(): TraceIdentity {
  return {
    t0: ids.next(),
    t1: ids.next(),
    t2: ids.next(),
    t3: ids.nextNonZero(),
    state: undefined,
  };
}

/** Reads 8 hex digits at `at` of `hex` as a 32-bit word. */
export const word = (hex: string, at: number): number => parseInt(hex.slice(at, at + 8), 16) >>> 0;

/** The hex of a 32-bit word, 8 digits. */
export const hex8 = (w: number): string => (w >>> 0).toString(16).padStart(8, '0');
