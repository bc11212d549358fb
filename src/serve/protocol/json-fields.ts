/**
 * Safe reads of untrusted JSON objects: own properties only, and parameter objects copied onto
 * null-prototype objects so that no request key can reach a prototype.
 *
 * @module
 */
import { InferenceRequestError } from '../../errors.js';
import { formatValue } from './format.js';

/** A JSON object from the request, read only through {@link own}. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** `object[key]` when it is an own property; undefined otherwise (inherited keys are never read). */
export function own(object: object, key: string): unknown {
  return Object.hasOwn(object, key) ? (object as JsonObject)[key] : undefined;
}

/** `value` as a JSON object, or an InferenceRequestError naming `path`. */
export function expectObject(value: unknown, path: string): JsonObject {
  if (
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    ArrayBuffer.isView(value)
  ) {
    throw new InferenceRequestError(`${path}: expected an object, got ${formatValue(value)}`);
  }
  return value as JsonObject;
}

// The keys that secure-json-parse refuses in request text; refused here too for objects parsed elsewhere.
const forbiddenKeys: ReadonlySet<string> = new Set(['__proto__', 'constructor']);

/**
 * A `parameters` object copied onto a null-prototype object, or undefined when absent.
 *
 * Values are kept as given: the protocol allows strings, numbers and booleans, but some clients
 * (MLServer's, for one) send objects, and mlscale reads only the parameters it knows.
 */
export function readParameters(value: unknown, path: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  const source = expectObject(value, path);
  const copy = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    if (forbiddenKeys.has(key))
      throw new InferenceRequestError(`${path}: the key ${formatValue(key)} is not allowed`);
    copy[key] = source[key];
  }
  return copy;
}

/** An optional boolean parameter: undefined when absent, else true/false or an error naming `path`. */
export function readBooleanParameter(
  parameters: Record<string, unknown> | undefined,
  key: string,
  path: string,
): boolean | undefined {
  const value = parameters?.[key];
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InferenceRequestError(
    `${path}.${key}: expected true or false, got ${formatValue(value)}`,
  );
}
