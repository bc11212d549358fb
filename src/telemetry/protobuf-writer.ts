/**
 * A small protobuf writer: tags, varints, fixed32/64, doubles, bytes, strings and nested
 * (length-delimited) messages, into one growing buffer. Enough for OTLP's trace messages
 * (otlp-encode.ts); nothing here knows OTLP.
 *
 * @module
 */

/** Wire types. */
export const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

export class ProtobufWriter {
  #buf: Buffer;
  #pos = 0;
  readonly #known = new Map<string, Uint8Array>();

  constructor(initial = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(initial);
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(bigger, 0, 0, this.#pos);
    this.#buf = bigger;
  }

  /**
   * Makes room for `n` more bytes, for a caller that then writes a run of fixed-size fields
   * straight into `buffer` from `position` (and sets `position` past them): no check per byte.
   */
  reserve(n: number): void {
    this.#room(n);
  }

  get buffer(): Buffer {
    return this.#buf;
  }

  get position(): number {
    return this.#pos;
  }

  set position(p: number) {
    this.#pos = p;
  }

  tag(field: number, wire: Wire): void {
    this.varint(field * 8 + wire);
  }

  /** A non-negative integer below 2^53. */
  varint(value: number): void {
    this.#room(10);
    const b = this.#buf;
    let v = value;
    while (v >= 0x80) {
      b[this.#pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[this.#pos++] = v;
  }

  /** An int64 field's value: negative numbers as 10-byte two's complement, as protobuf writes them. */
  int64(value: number): void {
    if (value >= 0) return this.varint(value);
    this.#room(10);
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.#buf[this.#pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buf[this.#pos++] = Number(v);
  }

  fixed32(value: number): void {
    this.#room(4);
    this.#le32(value, this.#pos);
    this.#pos += 4;
  }

  /** A fixed64 from its two 32-bit halves. */
  fixed64(lo: number, hi: number): void {
    this.#room(8);
    this.#le32(lo, this.#pos);
    this.#le32(hi, this.#pos + 4);
    this.#pos += 8;
  }

  // Byte stores: Buffer's writeUInt32LE checks its arguments on every call.
  #le32(w: number, p: number): void {
    const b = this.#buf;
    b[p] = w;
    b[p + 1] = w >>> 8;
    b[p + 2] = w >>> 16;
    b[p + 3] = w >>> 24;
  }

  double(value: number): void {
    this.#room(8);
    this.#buf.writeDoubleLE(value, this.#pos);
    this.#pos += 8;
  }

  /** A 32-bit word as 4 bytes, big-endian (ids: their hex reads in this order). */
  word(w: number): void {
    this.#room(4);
    const b = this.#buf;
    const p = this.#pos;
    b[p] = w >>> 24;
    b[p + 1] = w >>> 16;
    b[p + 2] = w >>> 8;
    b[p + 3] = w;
    this.#pos = p + 4;
  }

  bytes(data: Uint8Array): void {
    this.varint(data.length);
    this.raw(data);
  }

  /** Bytes as they are, no length (pre-encoded fields). */
  raw(data: Uint8Array): void {
    this.#room(data.length);
    this.#buf.set(data, this.#pos);
    this.#pos += data.length;
  }

  string(text: string): void {
    const n = Buffer.byteLength(text);
    this.varint(n);
    this.#room(n);
    this.#pos += this.#buf.write(text, this.#pos, n, 'utf8');
  }

  /**
   * A string that recurs (span names, attribute keys): its length and UTF-8 bytes are encoded
   * once and kept (a bounded cache, for strings from a fixed set).
   */
  knownString(text: string): void {
    let encoded = this.#known.get(text);
    if (encoded === undefined) {
      const bytes = Buffer.from(text, 'utf8');
      const w = new ProtobufWriter(bytes.length + 10);
      w.bytes(bytes);
      encoded = w.finish();
      if (this.#known.size < 4096) this.#known.set(text, encoded);
    }
    this.raw(encoded);
  }

  /** Opens a nested message: returns where its length goes (see close). */
  open(): number {
    this.#room(1);
    return this.#pos++;
  }

  /**
   * Opens a nested message whose length likely takes two bytes (128 B to 16 KiB, a span): its
   * body then needs no move when it closes (see closeWide).
   */
  openWide(): number {
    this.#room(2);
    const at = this.#pos;
    this.#pos += 2;
    return at;
  }

  /** Closes the message opened at `at` (1 byte reserved): writes its length, moving the body if it needs more room. */
  close(at: number): void {
    this.#closeWith(at, 1);
  }

  /** Closes a message opened with openWide. */
  closeWide(at: number): void {
    this.#closeWith(at, 2);
  }

  #closeWith(at: number, reserved: number): void {
    const length = this.#pos - at - reserved;
    let size = 1;
    for (let v = length; v >= 0x80; v = Math.floor(v / 0x80)) size++;
    if (size !== reserved) {
      this.#room(Math.max(0, size - reserved));
      this.#buf.copyWithin(at + size, at + reserved, this.#pos);
      this.#pos += size - reserved;
    }
    let p = at;
    let v = length;
    while (v >= 0x80) {
      this.#buf[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[p] = v;
  }

  /**
   * What was written; the writer starts again on a new buffer of the same size (handing this one
   * out costs no copy, which a batch of spans would otherwise pay once more).
   */
  finish(): Uint8Array {
    const out = this.#buf.subarray(0, this.#pos);
    this.#buf = Buffer.allocUnsafeSlow(this.#buf.length);
    this.#pos = 0;
    return out;
  }
}
