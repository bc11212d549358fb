/**
 * Accuracy (classification) or R² (regression) of a model on labelled rows, so that a variant's
 * cost is measured, not assumed.
 *
 * For mlscale's own models the rows are the held-out rows of the training run: the metadata's
 * schema, label, classes and split (seed and fraction: `isHeldOut`, the same test the pipeline
 * used), so the variant is scored on rows the model never trained on. For any other model all
 * rows are used, since no split is known: its one float32 input takes the data's numeric
 * columns in file order, and class labels must be the output indices 0..C−1.
 *
 * @module
 */
import ort from 'onnxruntime-node';
import { openSource } from '../../data/open-source.js';
import { isHeldOut } from '../../data/split.js';
import type { BadRowPolicy, RawBatch, Schema, Task } from '../../data/types.js';
import { InvalidOptionError } from '../../errors.js';
import { argmaxRows, runRows } from './agreement.js';
import type { Feeds, InputSpec } from './model-inputs.js';

/** Labelled rows ready to run. */
export interface LabelledRows {
  readonly feeds: Feeds;
  readonly rows: number;
  readonly task: Task;
  /** Class index per row, or the target value. */
  readonly labels: Int32Array | Float32Array;
  /** Which rows these are, in words. */
  readonly split: string;
}

/** A model's score on labelled rows. */
export interface DataScore {
  readonly metric: 'accuracy' | 'r2';
  /** Accuracy in 0..1, or R². */
  readonly value: number;
}

/** What an mlscale artifact's metadata.json says about its data, as far as scoring needs. */
interface ArtifactData {
  schema: { label: string; columns: { name: string; kind: 'numeric' | 'categorical' }[] };
  task: Task;
  classes?: string[];
  training: { seed: number; holdout: number; onBadRow?: BadRowPolicy };
}

function artifactData(metadata: Record<string, unknown> | undefined): ArtifactData | undefined {
  const m = metadata as Partial<ArtifactData> | undefined;
  const ok =
    m !== undefined &&
    Array.isArray(m.schema?.columns) &&
    typeof m.schema?.label === 'string' &&
    (m.task === 'classification' || m.task === 'regression') &&
    typeof m.training?.seed === 'number' &&
    typeof m.training?.holdout === 'number';
  return ok ? (m as ArtifactData) : undefined;
}

/**
 * Reads labelled rows from `data` for this model, at most `maxRows` of them.
 * @param metadata The model's metadata.json, when it has one.
 * @throws InvalidOptionError when the data does not fit the model; the data errors of the source.
 */
export async function loadLabelledRows(
  data: string,
  label: string | undefined,
  metadata: Record<string, unknown> | undefined,
  inputs: readonly InputSpec[],
  maxRows: number,
): Promise<LabelledRows> {
  const source = openSource(data);
  const own = artifactData(metadata);
  if (own) {
    if (label !== undefined && label !== own.schema.label) {
      throw new InvalidOptionError(
        `--label ${label}: this model was trained to predict "${own.schema.label}"; leave --label out or give that column`,
      );
    }
    const columns = own.schema.columns;
    const schema: Schema = {
      columns,
      numeric: columns.filter((c) => c.kind === 'numeric').map((c) => c.name),
      categorical: columns.filter((c) => c.kind === 'categorical').map((c) => c.name),
      label: own.schema.label,
      task: own.task,
    };
    const { seed, holdout } = own.training;
    // A model trained with no held-out rows has none to score: every row is used, and the report says so.
    const keep = holdout > 0 ? (row: number) => isHeldOut(row, seed, holdout) : () => true;
    const stages = (metadata as { stages?: { module?: string } }).stages?.module;
    // A stages module's preprocess ran before the model in training; it is not in the graph, so
    // rows are scored as read, and the report says so.
    const caveat = stages
      ? `; the model was trained with the stages module ${stages}, whose preprocess stage (if it has one) is not applied here`
      : '';
    const split =
      (holdout > 0
        ? `the held-out rows of the training split (seed ${seed}, fraction ${holdout})`
        : 'all rows (the model was trained with no held-out split)') + caveat;
    return collect(
      source.batches(schema, { batchRows: 8192, onBadRow: own.training.onBadRow ?? 'error' }),
      schema,
      keep,
      own.classes,
      maxRows,
      split,
    );
  }
  if (label === undefined)
    throw new InvalidOptionError(
      '--label is required with --data for a model mlscale did not train (its metadata names no label)',
    );
  const schema = await source.inferSchema({ label });
  const input = inputs.length === 1 ? inputs[0]! : undefined;
  const width = typeof input?.shape[1] === 'number' ? input.shape[1] : undefined;
  if (
    !input ||
    input.type !== 'float32' ||
    input.shape.length !== 2 ||
    schema.categorical.length > 0 ||
    width !== schema.numeric.length
  ) {
    throw new InvalidOptionError(
      `--data ${data}: the model takes ${inputs.map((i) => `${i.name} ${i.type} [${i.shape.join(', ')}]`).join(', ')}, but the data has ${schema.numeric.length} numeric and ${schema.categorical.length} categorical feature columns besides ${label}; for a model mlscale did not train, the data must be one numeric column per input feature, in order`,
    );
  }
  return collect(
    source.batches(schema, { batchRows: 8192, onBadRow: 'error' }),
    schema,
    () => true,
    undefined,
    maxRows,
    'all rows (no held-out split is known for this model)',
    input.name,
  );
}

async function collect(
  batches: AsyncIterable<RawBatch>,
  schema: Schema,
  keep: (row: number) => boolean,
  classes: readonly string[] | undefined,
  maxRows: number,
  split: string,
  numericInput = 'x',
): Promise<LabelledRows> {
  const numCols = schema.numeric.length;
  const catCols = schema.categorical.length;
  const x: number[] = [];
  const xCat: string[] = [];
  const labels: number[] = [];
  const classIndex = classes ? new Map(classes.map((c, i) => [c, i])) : undefined;
  let rows = 0;
  outer: for await (const batch of batches) {
    for (let r = 0; r < batch.rowCount; r++) {
      if (!keep(batch.rowIndex[r]!)) continue;
      let y: number | undefined;
      if (batch.labels.kind === 'categorical') {
        const name = batch.labels.dict[batch.labels.codes[r]!]!;
        y = classIndex ? classIndex.get(name) : classLabel(name);
        // A class the model never saw cannot be predicted: such a row is left out.
        if (y === undefined) continue;
      } else {
        y = batch.labels.values[r]!;
      }
      for (let c = 0; c < numCols; c++) x.push(batch.numeric[r * numCols + c]!);
      for (let c = 0; c < catCols; c++) {
        const code = batch.catCodes[r * catCols + c]!;
        xCat.push(code < 0 ? '' : batch.catDict[code]!);
      }
      labels.push(y);
      if (++rows >= maxRows) break outer;
    }
  }
  if (rows === 0)
    throw new InvalidOptionError(`the data has no rows to score the model on (${split})`);
  const feeds: Feeds = {};
  if (numCols > 0)
    feeds[numericInput] = new ort.Tensor('float32', Float32Array.from(x), [rows, numCols]);
  if (catCols > 0) feeds['x_cat'] = new ort.Tensor('string', xCat, [rows, catCols]);
  const task = schema.task;
  return {
    feeds,
    rows,
    task,
    labels: task === 'classification' ? Int32Array.from(labels) : Float32Array.from(labels),
    split,
  };
}

/** A foreign model's class label: the output index it names ("3" → 3). */
function classLabel(name: string): number {
  const n = Number(name);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidOptionError(
      `label value ${JSON.stringify(name)} is not a class index: for a model mlscale did not train, class labels must be the output indices 0, 1, 2, ...`,
    );
  return n;
}

/**
 * The model's accuracy or R² on the rows. Classification reads an int64 output of one value per
 * row (a predicted label) when there is one, else the argmax of the first float32 output.
 */
export async function scoreModel(
  session: ort.InferenceSession,
  rows: LabelledRows,
  chunk: number,
): Promise<DataScore> {
  const outputs = session.outputMetadata.filter((m) => m.isTensor);
  if (rows.task === 'classification') {
    const labelOut = outputs.find((m) => m.isTensor && m.type === 'int64' && m.shape.length === 1);
    const probOut = outputs.find((m) => m.isTensor && m.type === 'float32');
    const name = labelOut?.name ?? probOut?.name;
    if (name === undefined)
      throw new InvalidOptionError(
        'the model has no output to read a class from (an int64 label or float32 scores)',
      );
    const { values, width } = await runRows(session, rows.feeds, rows.rows, name, 256);
    const predicted =
      values instanceof BigInt64Array ? Int32Array.from(values, Number) : argmaxRows(values, width);
    let right = 0;
    const truth = rows.labels as Int32Array;
    for (let r = 0; r < rows.rows; r++) if (predicted[r] === truth[r]) right++;
    return { metric: 'accuracy', value: right / rows.rows };
  }
  const name = outputs.find((m) => m.isTensor && m.type === 'float32')?.name;
  if (name === undefined)
    throw new InvalidOptionError('the model has no float32 output to read a prediction from');
  const { values, width } = await runRows(session, rows.feeds, rows.rows, name, 256);
  if (width !== 1)
    throw new InvalidOptionError(
      `the data's label is numeric (regression), but the model's output ${name} has ${width} values per row`,
    );
  const truth = rows.labels as Float32Array;
  let mean = 0;
  for (const t of truth) mean += t;
  mean /= truth.length;
  let sse = 0;
  let sst = 0;
  for (let r = 0; r < rows.rows; r++) {
    sse += (Number(values[r]) - truth[r]!) ** 2;
    sst += (truth[r]! - mean) ** 2;
  }
  return { metric: 'r2', value: sst > 0 ? 1 - sse / sst : NaN };
}
