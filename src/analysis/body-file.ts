/**
 * Request bodies from a JSON Lines file (`mlscale load --body-file`, `mlscale sweep serve
 * --body-file`): one Open Inference Protocol request per line, e.g.
 *
 *   {"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[0.1,0.2,0.3,0.4]}]}
 *
 * Each line is checked as the server would check its shape (an object with a non-empty `inputs`
 * array, each input with a name, a datatype, a shape of non-negative integers and data whose
 * length is the shape's product), so that a mistake shows as `file:line: what` before the run
 * instead of as thousands of 400 answers. Blank lines are skipped.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { InvalidOptionError } from '../errors.js';

/** The largest body file read (bytes): the bodies are held in memory, each request serialised once. */
const kMaxBodyFileBytes = 256 * 1024 ** 2;

/** Reads and checks a body file; each line's bytes, in file order. */
export async function readBodyFile(path: string, flag = '--body-file'): Promise<Buffer[]> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > kMaxBodyFileBytes)
      throw Object.assign(new Error(`larger than ${kMaxBodyFileBytes / 1024 ** 2} MiB`), {
        code: 'EFBIG',
      });
    text = bytes.toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a folder'
          : (err as Error).message;
    throw new InvalidOptionError(`${flag} ${path}: cannot read the file: ${why}`, { cause: err });
  }
  const bodies: Buffer[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const where = `${flag} ${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new InvalidOptionError(`${where}: not valid JSON (${(err as Error).message})`, {
        cause: err,
      });
    }
    const problem = inferenceRequestProblem(value);
    if (problem !== undefined) throw new InvalidOptionError(`${where}: ${problem}`);
    bodies.push(Buffer.from(line));
  }
  if (bodies.length === 0)
    throw new InvalidOptionError(
      `${flag} ${path}: no request in the file; expected one JSON object per line, e.g. {"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}`,
    );
  return bodies;
}

/** What makes `value` not an inference request (with its JSON path), or undefined. */
export function inferenceRequestProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return `expected a JSON object (an inference request), got ${kind(value)}`;
  const inputs = (value as { inputs?: unknown }).inputs;
  if (!Array.isArray(inputs) || inputs.length === 0)
    return `$.inputs must be a non-empty array of input tensors, got ${kind(inputs)}`;
  for (let k = 0; k < inputs.length; k++) {
    const at = `$.inputs[${k}]`;
    const t = inputs[k] as Record<string, unknown> | null;
    if (t === null || typeof t !== 'object' || Array.isArray(t))
      return `${at} must be an object, got ${kind(t)}`;
    if (typeof t.name !== 'string' || t.name === '')
      return `${at}.name must be a non-empty string, got ${kind(t.name)}`;
    if (typeof t.datatype !== 'string')
      return `${at}.datatype must be a string such as "FP32", got ${kind(t.datatype)}`;
    const shape = t.shape;
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)
    )
      return `${at}.shape must be an array of non-negative integers, got ${JSON.stringify(shape) ?? 'nothing'}`;
    if (!Array.isArray(t.data)) return `${at}.data must be an array, got ${kind(t.data)}`;
    const want = (shape as number[]).reduce((a, b) => a * b, 1);
    const flat = (t.data as unknown[]).flat(Infinity).length;
    if (flat !== want)
      return `${at}.data has ${flat} values but shape ${JSON.stringify(shape)} holds ${want}`;
  }
  return undefined;
}

function kind(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
