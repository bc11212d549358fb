/**
 * Parses a chunk of JSON Lines records (whole lines, as `record-scan.ts` cuts them) into a raw
 * batch: each non-blank line is one JSON object, decoded by the schema's keys.
 *
 * @module
 */
import { DataParseError, DataValueError } from '../errors.js';
import { ChunkWriter } from './chunk-writer.js';
import type { ChunkStart } from './csv-chunk.js';
import { categoryFromJson, describeJson, labelFromJson, numericFromJson } from './json-fields.js';
import type { NaValues } from './na-values.js';
import { hasContentBytes } from './record-scan.js';
import type { BadRowPolicy, RawBatch, Schema } from './types.js';

const kLf = 10;

type JsonObject = Record<string, unknown>;

/**
 * Parses one line into an object.
 *
 * @throws DataParseError (a bad row) naming file:line when the line is not JSON or not an object.
 */
export function parseJsonObject(text: string, path: string, line: number): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DataParseError(`${path}:${line}: malformed JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataParseError(`${path}:${line}: expected a JSON object, got ${describeJson(value)}`);
  }
  return value as JsonObject;
}

/** The value of an own key; inherited names such as `constructor` are absent keys. */
function own(object: JsonObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** A JSON Lines record: one line's text and its line number. */
export interface JsonlLine {
  readonly text: string;
  readonly line: number;
}

/**
 * The non-blank lines of a chunk (for schema inference).
 *
 * @param data - Whole lines.
 * @param line - The line at the chunk's start.
 * @param atFileStart - The chunk starts the file: a byte-order mark there is dropped.
 */
export function* jsonlLines(
  data: Uint8Array,
  line: number,
  atFileStart: boolean,
): Generator<JsonlLine> {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const n = buf.length;
  let pos = atFileStart && n >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  while (pos < n) {
    const nl = buf.indexOf(kLf, pos);
    const end = nl === -1 ? n : nl;
    if (hasContentBytes(buf, pos, end, false)) yield { text: buf.toString('utf8', pos, end), line };
    line++;
    pos = end + 1;
  }
}

/**
 * Parses a chunk of whole JSON Lines records into one raw batch.
 *
 * @param data - The chunk's bytes.
 * @param schema - The schema batches follow.
 * @param na - Missing-value tokens for string values.
 * @param path - The file, for messages.
 * @param from - The batch id, first record index and first line.
 * @param records - Records in the chunk (from the scan).
 * @param onBadRow - Skip a bad record (counted) or fail.
 */
export function parseJsonlChunk(
  data: Uint8Array,
  schema: Schema,
  na: NaValues,
  path: string,
  from: ChunkStart & { readonly start?: number },
  records: number,
  onBadRow: BadRowPolicy,
): RawBatch {
  const out = new ChunkWriter(schema, records);
  const { numeric, categorical, label, task } = schema;
  const width = out.numericWidth;
  const skipBad = onBadRow === 'skip';
  let rowIndex = from.row;
  for (const { text, line } of jsonlLines(data, from.line, from.start === 0)) {
    try {
      const object = parseJsonObject(text, path, line);
      const base = out.rowCount * width;
      for (let i = 0; i < numeric.length; i++) {
        out.numeric[base + i] = numericFromJson(
          own(object, numeric[i]!),
          path,
          line,
          numeric[i]!,
          na,
        );
      }
      for (let i = 0; i < categorical.length; i++) {
        const name = categorical[i]!;
        out.categoryText(i, categoryFromJson(own(object, name), path, line, name, na));
      }
      out.label(labelFromJson(own(object, label), task, path, line, label, na));
    } catch (err) {
      if (!(skipBad && (err instanceof DataParseError || err instanceof DataValueError))) throw err;
      out.skip();
      rowIndex++;
      continue;
    }
    out.commit(rowIndex++);
  }
  return out.finish(from.id);
}
