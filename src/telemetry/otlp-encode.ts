/**
 * Span records (span-record.ts) as an OTLP `ExportTraceServiceRequest`, in protobuf or in OTLP/JSON,
 * with the field numbers and the JSON mapping of the OTLP trace proto
 * (opentelemetry/proto/collector/trace/v1, trace/v1, common/v1, resource/v1). One resource and one
 * instrumentation scope per process, encoded once; spans as the SDK's exporter writes them (flags
 * with the has-is-remote bit, kinds offset by one from the API's, integers as int_value).
 *
 * @module
 */
import { ProtobufWriter, Wire } from './protobuf-writer.js';
import {
  hex8,
  Kind,
  Parent,
  type AttributeValue,
  type SharedAttributes,
  type SpanError,
  type SpanRecord,
  type TraceIdentity,
} from './span-record.js';

/** A resource attribute's value, as the SDK's resources hold them. */
type ResourceValue = AttributeValue | boolean | readonly (AttributeValue | boolean)[];

/** Who sends the spans: the resource's attributes and the instrumentation scope. */
export interface Origin {
  readonly resource: Readonly<Record<string, ResourceValue | undefined>>;
  readonly scope: { readonly name: string; readonly version: string };
}

const kSampled = 0x01;
const kHasIsRemote = 0x100;
const kIsRemote = 0x200;
const kStatusError = 2;

/**
 * An absolute time as nanoseconds since the epoch, exactly, from a `performance.now()` reading:
 * split so that no step loses precision in a double (the nanoseconds exceed 2^53).
 */
export class Clock {
  readonly #originMs: number;
  readonly #originFraction: number;

  constructor(origin: number = performance.timeOrigin) {
    this.#originMs = Math.floor(origin);
    this.#originFraction = origin - this.#originMs;
  }

  /** Low and high 32 bits of the time `t` (ms since the origin) in ns; written into `out`. */
  nanos(t: number, out: [number, number]): void {
    const small = this.#originFraction + t;
    const whole = Math.floor(small);
    const ms = this.#originMs + whole;
    const fractionNs = Math.round((small - whole) * 1e6);
    // ms * 1e6 + fractionNs, by 16-bit pieces: every product and sum stays below 2^53.
    const a = Math.floor(ms / 65536);
    const b = ms - a * 65536;
    const x = a * 1e6;
    const y = b * 1e6 + fractionNs;
    const xHigh = Math.floor(x / 65536);
    const z = (x - xHigh * 65536) * 65536 + y;
    const zHigh = Math.floor(z / 4294967296);
    out[0] = z - zHigh * 4294967296;
    out[1] = xHigh + zHigh;
  }

  /** The time `t` in ns since the epoch, as a decimal string (OTLP/JSON). */
  nanosText(t: number): string {
    const out: [number, number] = [0, 0];
    this.nanos(t, out);
    return ((BigInt(out[1]) << 32n) | BigInt(out[0])).toString();
  }
}

/** Encodes batches of span records for one origin. */
export class OtlpEncoder {
  readonly #clock: Clock;
  readonly #writer = new ProtobufWriter();
  readonly #time: [number, number] = [0, 0];
  /** Resource and scope, protobuf, encoded once. */
  readonly #resource: Uint8Array;
  readonly #scope: Uint8Array;
  readonly #origin: Origin;

  constructor(origin: Origin, clock = new Clock()) {
    this.#origin = origin;
    this.#clock = clock;
    const w = this.#writer;
    for (const [key, value] of Object.entries(origin.resource))
      if (value !== undefined) keyValue(w, 1, key, value);
    this.#resource = w.finish();
    w.tag(1, Wire.Bytes);
    w.string(origin.scope.name);
    w.tag(2, Wire.Bytes);
    w.string(origin.scope.version);
    this.#scope = w.finish();
  }

  /** An ExportTraceServiceRequest in protobuf. */
  protobuf(spans: readonly SpanRecord[]): Uint8Array {
    const w = this.#writer;
    w.tag(1, Wire.Bytes); // resource_spans
    const resourceSpans = w.open();
    w.tag(1, Wire.Bytes); // resource
    w.bytes(this.#resource);
    w.tag(2, Wire.Bytes); // scope_spans
    const scopeSpans = w.open();
    w.tag(1, Wire.Bytes); // scope
    w.bytes(this.#scope);
    for (const span of spans) this.#span(w, span);
    w.close(scopeSpans);
    w.close(resourceSpans);
    return w.finish();
  }

  #span(w: ProtobufWriter, s: SpanRecord): void {
    this.#write(
      w,
      s.trace,
      s.s0,
      s.s1,
      s.parent,
      s.p0,
      s.p1,
      s.name,
      s.kind,
      s.startTime,
      s.endTime,
      s.shared,
      s.own,
      s.error,
      s.links,
    );
    if (s.inner !== undefined && s.innerEnd !== 0)
      this.#write(
        w,
        s.trace,
        s.i0,
        s.i1,
        Parent.Local,
        s.s0,
        s.s1,
        s.inner,
        Kind.Internal,
        s.innerStart,
        s.innerEnd,
        undefined,
        s.innerOwn,
        s.innerError,
        undefined,
      );
  }

  /**
   * One Span message (ScopeSpans field 2). Its fixed-size fields (ids, kind, times, flags) are
   * written straight into the buffer, their one-byte tags as constants: this runs for every span
   * a busy server exports.
   */
  #write(
    w: ProtobufWriter,
    trace: TraceIdentity,
    s0: number,
    s1: number,
    parent: Parent,
    p0: number,
    p1: number,
    name: string,
    kind: Kind,
    start: number,
    end: number,
    shared: SharedAttributes | undefined,
    own: readonly AttributeValue[] | undefined,
    error: SpanError | undefined,
    links: readonly SpanRecord[] | undefined,
  ): void {
    w.reserve(64);
    let b = w.buffer;
    let p = w.position;
    b[p++] = 0x12; // ScopeSpans.spans
    const at = p; // its length, two bytes (see closeWide)
    p += 2;
    b[p++] = 0x0a; // trace_id
    b[p++] = 16;
    p = ids32(b, p, trace.t0, trace.t1);
    p = ids32(b, p, trace.t2, trace.t3);
    b[p++] = 0x12; // span_id
    b[p++] = 8;
    p = ids32(b, p, s0, s1);
    w.position = p;
    if (trace.state) {
      w.tag(3, Wire.Bytes);
      w.string(trace.state);
    }
    if (parent !== Parent.None) {
      w.reserve(10);
      b = w.buffer;
      p = w.position;
      b[p++] = 0x22; // parent_span_id
      b[p++] = 8;
      w.position = ids32(b, p, p0, p1);
    }
    w.tag(5, Wire.Bytes);
    w.knownString(name);
    w.reserve(20);
    b = w.buffer;
    p = w.position;
    b[p++] = 0x30; // kind
    b[p++] = kind;
    b[p++] = 0x39; // start_time_unix_nano
    this.#clock.nanos(start, this.#time);
    p = le32(b, le32(b, p, this.#time[0]), this.#time[1]);
    b[p++] = 0x41; // end_time_unix_nano
    this.#clock.nanos(end, this.#time);
    w.position = le32(b, le32(b, p, this.#time[0]), this.#time[1]);
    if (shared) w.raw(encodedShared(shared));
    if (own) for (let i = 0; i < own.length; i += 2) keyValue(w, 9, own[i] as string, own[i + 1]!);
    if (error) {
      w.tag(11, Wire.Bytes); // events
      const event = w.open();
      w.tag(1, Wire.Fixed64);
      this.#fixedTime(w, error.at);
      w.tag(2, Wire.Bytes);
      w.knownString('exception');
      keyValue(w, 3, 'exception.type', error.type);
      keyValue(w, 3, 'exception.message', error.message);
      if (error.stack !== undefined) keyValue(w, 3, 'exception.stacktrace', error.stack);
      w.close(event);
    }
    if (links)
      for (const l of links) {
        w.reserve(44);
        b = w.buffer;
        p = w.position;
        b[p++] = 0x6a; // links
        const link = p++;
        b[p++] = 0x0a; // trace_id
        b[p++] = 16;
        p = ids32(b, p, l.trace.t0, l.trace.t1);
        p = ids32(b, p, l.trace.t2, l.trace.t3);
        b[p++] = 0x12; // span_id
        b[p++] = 8;
        p = ids32(b, p, l.s0, l.s1);
        w.position = p;
        if (l.trace.state) {
          w.tag(3, Wire.Bytes);
          w.string(l.trace.state);
        }
        w.tag(6, Wire.Fixed32);
        w.fixed32(kSampled | kHasIsRemote);
        w.close(link);
      }
    if (error) {
      w.tag(15, Wire.Bytes); // status
      const status = w.open();
      w.tag(2, Wire.Bytes);
      w.string(error.message);
      w.tag(3, Wire.Varint);
      w.varint(kStatusError);
      w.close(status);
    }
    w.reserve(6);
    b = w.buffer;
    p = w.position;
    b[p++] = 0x85; // flags: field 16, fixed32 (a two-byte tag)
    b[p++] = 0x01;
    w.position = le32(b, p, kSampled | kHasIsRemote | (parent === Parent.Remote ? kIsRemote : 0));
    w.closeWide(at);
  }

  #fixedTime(w: ProtobufWriter, t: number): void {
    this.#clock.nanos(t, this.#time);
    w.fixed64(this.#time[0], this.#time[1]);
  }

  /** The same request in OTLP/JSON (ids in hex, times as decimal strings). */
  json(spans: readonly SpanRecord[]): Uint8Array {
    const views: JsonSpanView[] = [];
    for (const s of spans) {
      views.push({ ...s, id: [s.s0, s.s1], start: s.startTime, end: s.endTime });
      if (s.inner !== undefined && s.innerEnd !== 0)
        views.push({
          trace: s.trace,
          id: [s.i0, s.i1],
          parent: Parent.Local,
          p0: s.s0,
          p1: s.s1,
          name: s.inner,
          kind: Kind.Internal,
          start: s.innerStart,
          end: s.innerEnd,
          shared: undefined,
          own: s.innerOwn,
          error: s.innerError,
          links: undefined,
        });
    }
    const clock = this.#clock;
    const body = {
      resourceSpans: [
        {
          resource: { attributes: jsonAttributes(Object.entries(this.#origin.resource)) },
          scopeSpans: [
            {
              scope: { name: this.#origin.scope.name, version: this.#origin.scope.version },
              spans: views.map((s) => {
                const pairs: [string, ResourceValue][] = [];
                if (s.shared)
                  s.shared.keys.forEach((k, i) => pairs.push([k, s.shared!.values[i]!]));
                const own = s.own ?? [];
                for (let i = 0; i < own.length; i += 2) pairs.push([own[i] as string, own[i + 1]!]);
                const e = s.error;
                return {
                  traceId: traceHex(s.trace),
                  spanId: hex8(s.id[0]) + hex8(s.id[1]),
                  ...(s.trace.state ? { traceState: s.trace.state } : {}),
                  ...(s.parent !== Parent.None ? { parentSpanId: hex8(s.p0) + hex8(s.p1) } : {}),
                  name: s.name,
                  kind: s.kind,
                  startTimeUnixNano: clock.nanosText(s.start),
                  endTimeUnixNano: clock.nanosText(s.end),
                  attributes: jsonAttributes(pairs),
                  events: e
                    ? [
                        {
                          timeUnixNano: clock.nanosText(e.at),
                          name: 'exception',
                          attributes: jsonAttributes([
                            ['exception.type', e.type],
                            ['exception.message', e.message],
                            ...(e.stack !== undefined
                              ? [['exception.stacktrace', e.stack] as [string, string]]
                              : []),
                          ]),
                        },
                      ]
                    : [],
                  links: (s.links ?? []).map((l) => ({
                    traceId: traceHex(l.trace),
                    spanId: hex8(l.s0) + hex8(l.s1),
                    ...(l.trace.state ? { traceState: l.trace.state } : {}),
                    flags: kSampled | kHasIsRemote,
                  })),
                  status: e ? { code: kStatusError, message: e.message } : {},
                  flags: kSampled | kHasIsRemote | (s.parent === Parent.Remote ? kIsRemote : 0),
                };
              }),
            },
          ],
        },
      ],
    };
    return Buffer.from(JSON.stringify(body));
  }
}

/** A span as the JSON encoder reads it: a record, or the inner child of one. */
interface JsonSpanView {
  readonly trace: TraceIdentity;
  readonly id: readonly [number, number];
  readonly parent: Parent;
  readonly p0: number;
  readonly p1: number;
  readonly name: string;
  readonly kind: Kind;
  readonly start: number;
  readonly end: number;
  readonly shared: SharedAttributes | undefined;
  readonly own: readonly AttributeValue[] | undefined;
  readonly error: SpanError | undefined;
  readonly links: readonly SpanRecord[] | undefined;
}

/** Two 32-bit words as 8 bytes, big-endian (an id's hex order), at `p`; returns the next position. */
function ids32(b: Uint8Array, p: number, hi: number, lo: number): number {
  b[p] = hi >>> 24;
  b[p + 1] = hi >>> 16;
  b[p + 2] = hi >>> 8;
  b[p + 3] = hi;
  b[p + 4] = lo >>> 24;
  b[p + 5] = lo >>> 16;
  b[p + 6] = lo >>> 8;
  b[p + 7] = lo;
  return p + 8;
}

/** A 32-bit word little-endian (fixed32, half a fixed64) at `p`; returns the next position. */
function le32(b: Uint8Array, p: number, w: number): number {
  b[p] = w;
  b[p + 1] = w >>> 8;
  b[p + 2] = w >>> 16;
  b[p + 3] = w >>> 24;
  return p + 4;
}

const traceHex = (t: TraceIdentity): string => hex8(t.t0) + hex8(t.t1) + hex8(t.t2) + hex8(t.t3);

/** Shared attributes, encoded on first use (as span field 9 KeyValues) and kept on the object. */
function encodedShared(shared: SharedAttributes): Uint8Array {
  if (shared.encoded) return shared.encoded;
  const w = new ProtobufWriter(256);
  shared.keys.forEach((k, i) => keyValue(w, 9, k, shared.values[i]!));
  return (shared.encoded = w.finish());
}

/** A KeyValue as field `field`. */
function keyValue(w: ProtobufWriter, field: number, key: string, value: ResourceValue): void {
  w.tag(field, Wire.Bytes);
  const at = w.open();
  w.tag(1, Wire.Bytes);
  w.knownString(key);
  w.tag(2, Wire.Bytes);
  anyValue(w, value);
  w.close(at);
}

/** An AnyValue, opened and closed here. */
function anyValue(w: ProtobufWriter, value: ResourceValue): void {
  const at = w.open();
  if (typeof value === 'string') {
    w.tag(1, Wire.Bytes);
    w.string(value);
  } else if (typeof value === 'boolean') {
    w.tag(2, Wire.Varint);
    w.varint(value ? 1 : 0);
  } else if (typeof value === 'number') {
    // As the SDK does: integers as int_value, other numbers as double_value.
    if (Number.isSafeInteger(value)) {
      w.tag(3, Wire.Varint);
      w.int64(value);
    } else {
      w.tag(4, Wire.Fixed64);
      w.double(value);
    }
  } else {
    w.tag(5, Wire.Bytes); // array_value
    const array = w.open();
    for (const v of value) {
      w.tag(1, Wire.Bytes);
      anyValue(w, v);
    }
    w.close(array);
  }
  w.close(at);
}

type JsonValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: number }
  | { doubleValue: number }
  | { arrayValue: { values: JsonValue[] } };

function jsonValue(value: ResourceValue): JsonValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number')
    return Number.isSafeInteger(value) ? { intValue: value } : { doubleValue: value };
  return { arrayValue: { values: value.map(jsonValue) } };
}

function jsonAttributes(
  pairs: readonly (readonly [string, ResourceValue | undefined])[],
): { key: string; value: JsonValue }[] {
  const out: { key: string; value: JsonValue }[] = [];
  for (const [key, value] of pairs)
    if (value !== undefined) out.push({ key, value: jsonValue(value) });
  return out;
}
