/**
 * Bundled sample datasets: `sample:digits` (also plain `digits`), the UCI handwritten digits as
 * shipped by scikit-learn, stored in `data/digits.csv` (see `data/README.md` for source and
 * licence). A sample is a CSV source with a known label and task.
 *
 * @module
 */
import { join } from 'node:path';
import { InvalidOptionError } from '../errors.js';
import { CsvSource } from './csv-source.js';
import { packageRoot } from '../util/package-root.js';
import type {
  BatchOptions,
  DataSource,
  InferOptions,
  RawBatch,
  Schema,
  SpanAccess,
  Task,
} from './types.js';

/** The `sample:` prefix. */
export const kSamplePrefix = 'sample:';

interface SampleInfo {
  /** File under the package's `data/` folder. */
  readonly file: string;
  readonly label: string;
  readonly task: Task;
}

const kSamples: Readonly<Record<string, SampleInfo>> = Object.freeze({
  digits: { file: 'digits.csv', label: 'digit', task: 'classification' },
});

/** Names of the bundled samples. */
export const sampleNames: readonly string[] = Object.freeze(Object.keys(kSamples));

/**
 * A bundled sample dataset.
 *
 * @example
 * const digits = new SampleSource('digits');
 * const schema = await digits.inferSchema({ label: digits.defaultLabel }); // 64 numeric, 10 classes
 */
export class SampleSource implements DataSource {
  readonly description: string;
  readonly defaultLabel: string;
  /** Absolute path of the sample's CSV file. */
  readonly path: string;
  readonly #sample: SampleInfo;
  readonly #csv: CsvSource;

  /**
   * @param name - A sample name, e.g. `digits` (`sample:` prefix optional).
   * @throws InvalidOptionError listing the samples when the name is unknown.
   */
  constructor(name: string) {
    const bare = name.startsWith(kSamplePrefix) ? name.slice(kSamplePrefix.length) : name;
    const sample = Object.hasOwn(kSamples, bare) ? kSamples[bare] : undefined;
    if (sample === undefined) {
      throw new InvalidOptionError(
        `unknown sample '${bare}'; available: ${sampleNames.map((n) => kSamplePrefix + n).join(', ')}`,
      );
    }
    this.#sample = sample;
    this.description = kSamplePrefix + bare;
    this.defaultLabel = sample.label;
    this.path = join(packageRoot(), 'data', sample.file);
    this.#csv = new CsvSource(this.path, {
      description: this.description,
      defaultLabel: sample.label,
    });
  }

  /** The sample's CSV file read by byte range: workers parse their own batches, as for any CSV file. */
  get byteRanges(): SpanAccess {
    return this.#csv.byteRanges;
  }

  /** Infers the schema as for CSV; the task defaults to the sample's own. */
  inferSchema(options: InferOptions): Promise<Schema> {
    return this.#csv.inferSchema({ ...options, task: options?.task ?? this.#sample.task });
  }

  /** Streams the sample as for CSV. */
  batches(schema: Schema, options: BatchOptions): AsyncIterable<RawBatch> {
    return this.#csv.batches(schema, options);
  }
}
