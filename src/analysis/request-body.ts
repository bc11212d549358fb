/**
 * An inference request body for any served model, built from its Open Inference Protocol metadata:
 * every input by name, datatype and shape, with seeded random values.
 *
 * @module
 */
import { ModelNotFoundError, ServerUnreachableError } from '../errors.js';
import { Prng } from '../model/prng.js';

/** One input tensor of a model's metadata (Open Inference Protocol). */
interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

/**
 * An inference request body for `model` with `rows` rows of seeded random values, built from the
 * model's metadata (input names, datatypes, shapes; -1 in the first dimension is the batch).
 */
export async function requestBody(url: string, model: string, rows: number): Promise<string> {
  const res = await fetch(`${url}/v2/models/${encodeURIComponent(model)}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status === 404) {
    let models = '';
    try {
      const index = await fetch(`${url}/v2/repository/index`, {
        method: 'POST',
        signal: AbortSignal.timeout(5000),
      });
      const list = (await index.json()) as { name: string }[];
      models = `; it serves: ${[...new Set(list.map((m) => m.name))].join(', ')}`;
    } catch {
      // the list is a courtesy
    }
    throw new ModelNotFoundError(`--model ${model}: the server has no model of that name${models}`);
  }
  if (res.status !== 200)
    throw new ServerUnreachableError(
      `GET ${url}/v2/models/${model} answered ${res.status}: ${text.slice(0, 300)}`,
    );
  const meta = JSON.parse(text) as { inputs: TensorMetadata[] };
  const rng = new Prng(42);
  const inputs = meta.inputs.map((input) => {
    const shape = input.shape.map((d, i) => (i === 0 && d === -1 ? rows : d < 0 ? 1 : d));
    const count = shape.reduce((a, b) => a * b, 1);
    const data = Array.from({ length: count }, () => randomValue(input.datatype, rng));
    return { name: input.name, shape, datatype: input.datatype, data };
  });
  return JSON.stringify({ id: 'sweep', inputs });
}

function randomValue(datatype: string, rng: Prng): number | string | boolean {
  if (datatype === 'BYTES') return '';
  if (datatype === 'BOOL') return rng.nextFloat() < 0.5;
  if (datatype.startsWith('FP')) return Math.round((rng.nextFloat() * 2 - 1) * 1000) / 100;
  if (datatype.startsWith('UINT')) return Math.floor(rng.nextFloat() * 16);
  return Math.floor(rng.nextFloat() * 16) - 8;
}
