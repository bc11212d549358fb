/**
 * What a model is: its family, sizes and the preprocessing baked into its exported graph.
 *
 * @module
 */
import type { Task } from '../data/types.js';

/** Hidden-layer non-linearity of an MLP. */
export type Activation = 'relu' | 'tanh';

/** Model family: a linear model (softmax/logistic or linear regression) or a multi-layer perceptron. */
export type ModelFamily = 'linear' | 'mlp';

/** The architecture of a model, enough to build its ONNX graphs. */
export interface ModelSpec {
  readonly family: ModelFamily;
  readonly task: Task;
  /** Width of the preprocessed feature vector. */
  readonly inputs: number;
  /** Number of classes (>= 2) for classification; 1 for regression. */
  readonly outputs: number;
  /** Hidden layer widths; empty for `linear`. */
  readonly hidden: readonly number[];
  readonly activation: Activation;
}

/**
 * Preprocessing fitted on the training data, baked into the exported graph so that it takes raw rows.
 * Preprocessed feature order: the standardised numeric columns, then for each categorical column its
 * one-hot block in vocabulary order. Unseen or missing categories give an all-zero block.
 */
export interface PreprocessingSpec {
  readonly numeric: {
    readonly names: readonly string[];
    /** Mean of each column over the training rows: missing values are imputed with it. */
    readonly mean: Float32Array;
    /** Standard deviation of each column (1 where it was 0). x' = (x - mean) / std. */
    readonly std: Float32Array;
  };
  readonly categorical: {
    readonly names: readonly string[];
    /** Vocabulary of each categorical column, in one-hot order. */
    readonly vocab: readonly (readonly string[])[];
  };
  /** Regression only: the target was standardised for training; the export undoes it. */
  readonly target?: { readonly mean: number; readonly std: number };
  /** Classification only: class names, in output order. */
  readonly classes?: readonly string[];
}
