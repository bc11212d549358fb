/**
 * Parses a chunk of CSV records (whole records, as `record-scan.ts` cuts them) straight from
 * bytes into a raw batch.
 *
 * Two paths give the same rows:
 * - **fast**, for a record with no double quote in it (the common case of machine-written
 *   tables): fields are split on commas in the bytes, numbers are read digit by digit without
 *   making strings, and only categorical values and labels become strings;
 * - **csv-parse**, for a record with a quote anywhere in it: its bytes go to csv-parse, which
 *   handles quoting (and reports invalid quotes), and its fields are decoded as text.
 *
 * Numbers read on the fast path equal `Number(text)` exactly: a decimal with at most 15
 * significant digits and a power of ten up to 22 is computed as one correctly rounded
 * multiplication or division of two exact doubles (Clinger's fast path, as in V8's own
 * `StringToDouble`); anything else goes through `Number` on the text. So both paths give the same
 * float32 values, bit for bit (tested against each other on the same files).
 *
 * @module
 */
import { parse } from 'csv-parse/sync';
import { DataParseError, DataValueError, LabelNotFoundError } from '../errors.js';
import { ChunkWriter } from './chunk-writer.js';
import { fitsFloat32 } from './field-values.js';
import type { NaValues } from './na-values.js';
import { fastNumber, numberEnd } from './csv-number.js';
import { listColumns } from './schema-inference.js';
import { hasContentBytes, quotedRecordEnd } from './record-scan.js';
import { categoryFromText, labelFromText, missingLabel, numericFromText } from './text-fields.js';
import type { BadRowPolicy, RawBatch, Schema } from './types.js';

/** What a file column is used for. */
const enum Use {
  Ignore = 0,
  Numeric = 1,
  Categorical = 2,
  Label = 3,
}

/** How a file's columns map to a schema: built once per file and schema. */
export interface CsvLayout {
  /** The file, for messages. */
  readonly path: string;
  readonly schema: Schema;
  readonly na: NaValues;
  /** Header fields: every record must have as many. */
  readonly width: number;
  /** Per file column: its use. */
  readonly uses: Uint8Array;
  /** Per file column: its index in `schema.numeric` or `schema.categorical`. */
  readonly slots: Int32Array;
  /** The line-break byte (LF, or CR for lone-CR files). */
  readonly term: number;
}

/** Where a chunk starts in its file. */
export interface ChunkStart {
  /** The batch id. */
  readonly id: number;
  /** Dataset index of the chunk's first record. */
  readonly row: number;
  /** Line number of the chunk's first byte. */
  readonly line: number;
}

export const kLf = 10;
export const kCr = 13;
export const kQuote = 34;
export const kComma = 44;

/**
 * Builds the layout of a file's columns for a schema.
 *
 * @param names - The header's column names.
 * @param schema - The schema batches follow.
 * @param path - The file, for messages.
 * @param headerLine - The header's line, for messages.
 * @throws DataParseError when a schema column is not in the header.
 */
export function csvLayout(
  names: readonly string[],
  schema: Schema,
  na: NaValues,
  path: string,
  headerLine: number,
  term = kLf,
): CsvLayout {
  const uses = new Uint8Array(names.length);
  const slots = new Int32Array(names.length).fill(-1);
  const place = (name: string, use: Use, slot: number): void => {
    const at = names.indexOf(name);
    if (at < 0) {
      throw new DataParseError(
        `${path}:${headerLine}: schema column '${name}' is not in the header; columns: ${listColumns(names)}`,
      );
    }
    uses[at] = use;
    slots[at] = slot;
  };
  if (!names.includes(schema.label)) {
    throw new LabelNotFoundError(
      `label column '${schema.label}' is not in ${path}; columns: ${listColumns(names)}`,
    );
  }
  schema.numeric.forEach((name, i) => place(name, Use.Numeric, i));
  schema.categorical.forEach((name, i) => place(name, Use.Categorical, i));
  place(schema.label, Use.Label, 0);
  return { path, schema, na, width: names.length, uses, slots, term };
}

/** The end of the field that starts at `s`: the next comma, or `end`. */
export function fieldEnd(buf: Uint8Array, s: number, end: number): number {
  let e = s;
  while (e < end && buf[e] !== kComma) e++;
  return e;
}

/** FNV-1a of the field that starts at `s`, stopping at its end (left in `hashEnd`). */
let hashEnd = 0;
function hashField(buf: Uint8Array, s: number, end: number): number {
  let h = 0x811c9dc5;
  let e = s;
  for (; e < end; e++) {
    const b = buf[e]!;
    if (b === kComma) break;
    h = Math.imul(h ^ b, 0x01000193);
  }
  hashEnd = e;
  return h;
}

function fieldCountError(layout: CsvLayout, line: number, got: number): DataParseError {
  return new DataParseError(
    `${layout.path}:${line}: expected ${layout.width} fields (as in the header), got ${got}`,
  );
}

/** Decodes a quote-free record at `buf[s, end)` into the writer's current row. */
function decodeFast(
  buf: Buffer,
  s: number,
  end: number,
  layout: CsvLayout,
  out: ChunkWriter,
  line: number,
): void {
  const { uses, slots, width, schema, na, path } = layout;
  const numeric = out.numeric;
  const base = out.rowCount * out.numericWidth;
  const regression = schema.task === 'regression';
  let field = 0;
  for (;;) {
    if (field === width) {
      // More fields than the header: count them for the message.
      let got = field + 1;
      for (let i = s; i < end; i++) if (buf[i] === kComma) got++;
      throw fieldCountError(layout, line, got);
    }
    const use = uses[field]!;
    let e: number;
    if (use === Use.Numeric || (use === Use.Label && regression)) {
      let value: number;
      if (s === end || buf[s] === kComma) {
        value = NaN;
        e = s;
      } else {
        value = fastNumber(buf, s, end);
        e = numberEnd;
        // A token such as -999 looks like a number: such fields take the text path, which knows the tokens.
        const token = na.numericTokenLength > 0 && e - s <= na.numericTokenLength + 2;
        if (token || !(value === value && (e === end || buf[e] === kComma) && fitsFloat32(value))) {
          e = fieldEnd(buf, s, end);
          const text = buf.toString('utf8', s, e);
          value =
            use === Use.Numeric
              ? numericFromText(text, path, line, schema.numeric[slots[field]!]!, na)
              : (labelFromText(text, 'regression', path, line, schema.label, na) as number);
        }
      }
      if (use === Use.Numeric) numeric[base + slots[field]!] = value;
      else if (value !== value) missingLabel(path, line, schema.label);
      else out.label(value);
    } else if (use === Use.Ignore) {
      e = fieldEnd(buf, s, end);
    } else {
      const hash = hashField(buf, s, end);
      e = hashEnd;
      if (use === Use.Categorical) {
        const values = out.categories;
        let entry = values.find(buf, s, e, hash);
        if (entry < 0)
          entry = values.add(
            s,
            e,
            hash,
            e === s ? undefined : categoryFromText(buf.toString('utf8', s, e), na),
          );
        out.categoryEntry(slots[field]!, entry);
      } else {
        const values = out.labelValues;
        let entry = values.find(buf, s, e, hash);
        // A bad label throws before it is added, so every entry is a valid class.
        if (entry < 0)
          entry = values.add(
            s,
            e,
            hash,
            labelFromText(
              buf.toString('utf8', s, e),
              'classification',
              path,
              line,
              schema.label,
              na,
            ) as string,
          );
        out.labelEntry(entry);
      }
    }
    field++;
    if (e >= end) break;
    s = e + 1;
  }
  if (field !== width) throw fieldCountError(layout, line, field);
}

/** Decodes a record's text fields (the csv-parse path) into the writer's current row. */
export function decodeTextFields(
  fields: readonly string[],
  layout: CsvLayout,
  out: ChunkWriter,
  line: number,
): void {
  const { uses, slots, width, schema, na, path } = layout;
  if (fields.length !== width) throw fieldCountError(layout, line, fields.length);
  const base = out.rowCount * out.numericWidth;
  for (let field = 0; field < width; field++) {
    const use = uses[field]!;
    if (use === Use.Numeric) {
      const slot = slots[field]!;
      out.numeric[base + slot] = numericFromText(
        fields[field]!,
        path,
        line,
        schema.numeric[slot]!,
        na,
      );
    } else if (use === Use.Categorical) {
      out.categoryText(slots[field]!, categoryFromText(fields[field]!, na));
    } else if (use === Use.Label) {
      out.label(labelFromText(fields[field]!, schema.task, path, line, schema.label, na));
    }
  }
}

/**
 * Splits one record's bytes into fields with csv-parse.
 *
 * @throws DataParseError naming the record's line when its quoting is invalid.
 */
export function parseQuotedRecord(bytes: Uint8Array, path: string, line: number): string[] {
  let records: string[][];
  try {
    records = parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      relax_column_count: true,
      bom: true,
      skip_empty_lines: true,
    });
  } catch (err) {
    const message = (err as Error).message.replace(/ at line \d+/, '');
    throw new DataParseError(`${path}:${line}: malformed CSV: ${message}`, { cause: err });
  }
  if (records.length !== 1) {
    throw new DataParseError(`${path}:${line}: malformed CSV: cannot tell where this record ends`);
  }
  return records[0]!;
}

/**
 * Parses a chunk of whole CSV records into one raw batch.
 *
 * @param data - The chunk's bytes (whole records, blank lines allowed).
 * @param layout - The file's column layout.
 * @param from - The batch id, first record index and first line.
 * @param records - Records in the chunk (from the scan): the batch's capacity.
 * @param onBadRow - Skip a bad record (counted) or fail.
 * @throws DataParseError / DataValueError naming file:line (and column) for a bad record under
 *   `error`; such errors are skipped and counted under `skip`.
 */
export function parseCsvChunk(
  data: Uint8Array,
  layout: CsvLayout,
  from: ChunkStart,
  records: number,
  onBadRow: BadRowPolicy,
): RawBatch {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const term = layout.term;
  const out = new ChunkWriter(layout.schema, records);
  const skipBad = onBadRow === 'skip';
  const n = buf.length;
  let pos = 0;
  let line = from.line;
  let rowIndex = from.row;
  let nextQuote = -1;
  while (pos < n) {
    const nl = buf.indexOf(term, pos);
    const lineEnd = nl === -1 ? n : nl;
    if (!hasContentBytes(buf, pos, lineEnd, true)) {
      pos = lineEnd + 1;
      line++;
      continue;
    }
    if (nextQuote < pos) {
      nextQuote = buf.indexOf(kQuote, pos);
      if (nextQuote === -1) nextQuote = n;
    }
    const recordLine = line;
    // Where the next record starts: set before any decoding, so a bad record can be skipped.
    let next = n;
    try {
      if (nextQuote < lineEnd) {
        const { end, lines } = quotedRecordEnd(buf, pos, n, term);
        if (end === -1)
          throw new DataParseError(
            `${layout.path}:${recordLine}: a quoted field in this record is never closed (unterminated quote)`,
          );
        next = end + 1;
        line += lines + 1;
        const fields = parseQuotedRecord(buf.subarray(pos, end), layout.path, recordLine);
        decodeTextFields(fields, layout, out, recordLine);
      } else {
        next = lineEnd + 1;
        line++;
        const end =
          term === kLf && lineEnd > pos && buf[lineEnd - 1] === kCr ? lineEnd - 1 : lineEnd;
        decodeFast(buf, pos, end, layout, out, recordLine);
      }
    } catch (err) {
      if (!(skipBad && (err instanceof DataParseError || err instanceof DataValueError))) throw err;
      out.skip();
      rowIndex++;
      pos = next;
      continue;
    }
    out.commit(rowIndex++);
    pos = next;
  }
  return out.finish(from.id);
}
