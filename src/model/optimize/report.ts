/**
 * What `optimizeModel` reports: per variant, what was made, measured and decided.
 *
 * @module
 */
import type { Agreement } from './agreement.js';
import type { VariantDetails } from './make-variant.js';
import type { SpeedPoint, SpeedTable, TimedModel } from './measure-speed.js';
import type { VariantTarget } from './model-location.js';
import type { OptimizeOptions, VariantKind } from './options.js';

/** Accuracy or R² of a variant on labelled rows, against the original's. */
export interface DataQuality {
  readonly kind: 'data';
  readonly metric: 'accuracy' | 'r2';
  readonly original: number;
  readonly value: number;
  /** (original − variant) × 100: percentage points of accuracy, or of R². */
  readonly drop: number;
  readonly rows: number;
  readonly split: string;
}

/** How a variant's outputs compare with the original's: measured on data, or agreement without it. */
export type Quality = DataQuality | (Agreement & { readonly drop?: number });

/** What was made, measured and decided for one variant. */
export interface VariantReport {
  readonly variant: VariantKind;
  readonly description: string;
  readonly applicable: boolean;
  /** What was done, in a few words. */
  readonly summary?: string;
  readonly written: boolean;
  /** The decision in words: written, or why not (and how to force it). */
  readonly verdict: string;
  readonly sizeBytes?: number;
  /** Variant size ÷ original size. */
  readonly sizeRatio?: number;
  readonly speed?: readonly SpeedPoint[];
  /** Median milliseconds to create a session of it. */
  readonly loadMs?: number;
  readonly quality?: Quality;
  readonly target?: VariantTarget;
  readonly details?: VariantDetails;
}

/** Everything `optimizeModel` measured and did. */
export interface OptimizeReport {
  readonly model: {
    readonly path: string;
    readonly name: string;
    readonly kind: 'file' | 'folder' | 'repository';
    readonly sha256: string;
    readonly sizeBytes: number;
    readonly speed: readonly SpeedPoint[];
    readonly loadMs: number;
    readonly score?: {
      readonly metric: 'accuracy' | 'r2';
      readonly value: number;
      readonly rows: number;
      readonly split: string;
    };
  };
  readonly variants: readonly VariantReport[];
  readonly measurement: {
    readonly batchSizes: readonly number[];
    readonly repeats: number;
    readonly measureMs: number;
    readonly threads: number;
    readonly onnxruntime: string;
    readonly machine: {
      readonly cpus: number;
      readonly cpuModel: string;
      readonly platform: string;
      readonly u8s8Saturates: boolean;
    };
  };
  readonly options: Readonly<OptimizeOptions>;
}

/** Parts `optimizeModel` lets a caller replace (tests inject speeds; no test may time anything). */
export interface OptimizeHooks {
  readonly measureSpeeds?: (
    models: readonly TimedModel[],
    batchSizes: readonly number[],
  ) => Promise<SpeedTable>;
  /** One line per step, for a progress display. */
  readonly onProgress?: (line: string) => void;
}
