/**
 * Splits a request body into its JSON and, with the binary tensor data extension, the binary data
 * after it; parses the JSON without letting `__proto__` or `constructor.prototype` keys through.
 *
 * @module
 */
import sjson from 'secure-json-parse';
import { InferenceRequestError } from '../../errors.js';
import { formatValue } from './format.js';

/** HTTP request headers as Node (and Fastify) give them: lower-case names. */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

const headerName = 'inference-header-content-length';

/**
 * Parses request JSON with secure-json-parse, which throws on `__proto__` and `constructor.prototype`
 * keys instead of handing back an object that could pollute a prototype when merged.
 */
export function jsonText(text: string | Uint8Array): unknown {
  const source =
    typeof text === 'string' || Buffer.isBuffer(text)
      ? text
      : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  checkNesting(typeof source === 'string' ? Buffer.from(source) : source);
  try {
    return sjson.parse(source, null, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    throw new InferenceRequestError(`body: invalid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * How deep request JSON may nest. The protocol's deepest document is a tensor's nested `data`
 * (one level per dimension) inside `inputs`: 64 leaves room for any real tensor rank.
 */
export const kMaxJsonDepth = 64;

/**
 * Refuses JSON nested deeper than `kMaxJsonDepth` before it is parsed: a pathological body
 * (`[[[[...` over megabytes) would cost the parser and the decoder's walk seconds of a model
 * instance's thread. One pass over the bytes, stopping at the first level too deep; brackets
 * inside strings do not count. Malformed JSON is left for the parser to describe.
 */
function checkNesting(bytes: Uint8Array): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c)
        i++; // a backslash escapes the next byte (\" or \\)
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > kMaxJsonDepth) {
        throw new InferenceRequestError(
          `body: JSON nested deeper than ${kMaxJsonDepth} levels (at byte ${i}, depth ${depth}); no request of the protocol nests that deep`,
        );
      }
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
}

/**
 * The binary data after the JSON header when the body uses the binary extension (the
 * `Inference-Header-Content-Length` header gives the JSON's size in bytes); undefined otherwise.
 */
export function binaryRemainder(body: Uint8Array, headers: RequestHeaders): Uint8Array | undefined {
  const value = headerValue(headers);
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value) || Number(value) > body.length) {
    throw new InferenceRequestError(
      `Inference-Header-Content-Length: expected the JSON header's size in bytes, from 0 to the body's ${body.length}, got ${formatValue(value)}`,
    );
  }
  return body.subarray(Number(value));
}

function headerValue(headers: RequestHeaders): unknown {
  if (Object.hasOwn(headers, headerName)) return headers[headerName];
  // Node lower-cases header names, but callers building headers by hand may not.
  for (const key of Object.keys(headers)) if (key.toLowerCase() === headerName) return headers[key];
  return undefined;
}
