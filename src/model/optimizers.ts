/**
 * Gradient-descent optimizers (SGD with momentum, Adam) over lists of Float32Array parameters.
 *
 * State is a plain object of Float32Arrays and a step counter, so it can be transferred to and
 * from worker threads and averaged across replicas like the parameters themselves. Updates are
 * plain sequential arithmetic: the same inputs always give bitwise the same outputs.
 *
 * Parameters are in `parameterShapes` order (`W0, b0, W1, b1, ...`): even indexes are weight
 * matrices, odd indexes biases. L2 weight decay applies to the weights only.
 *
 * @module
 */
import { InvalidOptionError, ShapeError } from '../errors.js';

/** Which optimizer. */
export type OptimizerKind = 'sgd' | 'adam';

/** Hyper-parameters of an update. */
export interface OptimizerConfig {
  readonly kind: OptimizerKind;
  /** Step size. */
  readonly learningRate: number;
  /** SGD only: momentum coefficient in [0, 1); 0 is plain SGD. */
  readonly momentum: number;
  /** L2 penalty coefficient on weights (not biases): adds `l2 * W` to W's gradient. */
  readonly l2: number;
  /** SGD only: Nesterov momentum. Off when omitted. */
  readonly nesterov?: boolean;
}

/** SGD state: one velocity buffer per parameter. */
export interface SgdState {
  readonly kind: 'sgd';
  /** Updates applied so far. */
  step: number;
  readonly velocity: Float32Array[];
}

/** Adam state: first and second moment estimates per parameter. */
export interface AdamState {
  readonly kind: 'adam';
  /** Updates applied so far (drives the bias correction). */
  step: number;
  readonly m: Float32Array[];
  readonly v: Float32Array[];
}

/** State of either optimizer; transferable and averageable. */
export type OptimizerState = SgdState | AdamState;

/** Adam's fixed constants, from Kingma & Ba (2015), as in PyTorch and Keras. */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/**
 * Fresh (zeroed) optimizer state.
 * @param shapes Shape of each parameter, in parameter order.
 */
export function createOptimizerState(
  kind: OptimizerKind,
  shapes: readonly { readonly shape: readonly number[] }[],
): OptimizerState {
  const zeros = (): Float32Array[] =>
    shapes.map((p) => new Float32Array(p.shape.reduce((a, b) => a * b, 1)));
  if (kind === 'sgd') return { kind, step: 0, velocity: zeros() };
  if (kind === 'adam') return { kind, step: 0, m: zeros(), v: zeros() };
  throw new InvalidOptionError(`optimizer must be 'sgd' or 'adam', got '${String(kind)}'`);
}

function checkSizes(
  state: OptimizerState,
  params: readonly Float32Array[],
  grads: readonly Float32Array[],
): void {
  const slots = state.kind === 'sgd' ? state.velocity : state.m;
  if (params.length !== slots.length || grads.length !== slots.length) {
    throw new ShapeError(
      `optimizer state has ${slots.length} tensors, got ${params.length} parameters and ${grads.length} gradients`,
    );
  }
  for (let i = 0; i < slots.length; i++) {
    if (params[i]!.length !== slots[i]!.length || grads[i]!.length !== slots[i]!.length) {
      throw new ShapeError(
        `parameter ${i} has ${params[i]!.length} values and its gradient ${grads[i]!.length}, state expects ${slots[i]!.length}`,
      );
    }
  }
}

// One tensor per call: small monomorphic loops that V8 optimizes well. Updates are ~half of a
// train step's time for a 784-128-10 MLP, so these loops are kept tight.
function sgdTensor(
  p: Float32Array,
  g: Float32Array,
  vel: Float32Array,
  lr: number,
  mu: number,
  l2: number,
  nesterov: boolean,
): void {
  for (let k = 0; k < p.length; k++) {
    const pk = p[k]!;
    const grad = g[k]! + l2 * pk;
    // PyTorch's formulation: v = mu v + g; step along v (or along g + mu v with Nesterov).
    const v = mu * vel[k]! + grad;
    vel[k] = v;
    p[k] = pk - lr * (nesterov ? grad + mu * v : v);
  }
}

function adamTensor(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  stepSize: number,
  invSqrtBc2: number,
  l2: number,
): void {
  const c1 = 1 - BETA1;
  const c2 = 1 - BETA2;
  for (let k = 0; k < p.length; k++) {
    const pk = p[k]!;
    const grad = g[k]! + l2 * pk;
    const mk = BETA1 * m[k]! + c1 * grad;
    const vk = BETA2 * v[k]! + c2 * grad * grad;
    m[k] = mk;
    v[k] = vk;
    // p -= lr * m_hat / (sqrt(v_hat) + eps), bias corrections folded in as in PyTorch.
    p[k] = pk - (stepSize * mk) / (Math.sqrt(vk) * invSqrtBc2 + EPSILON);
  }
}

/**
 * Applies one update in place to `params` and `state` (whose `step` is incremented).
 * Adam: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g², p -= lr m̂ / (sqrt(v̂) + eps), where
 * m̂ = m / (1 - b1^t), v̂ = v / (1 - b2^t). SGD: v = mu v + g, p -= lr v.
 * @param grads Gradients of the loss, same shapes as `params`.
 */
export function applyUpdate(
  config: OptimizerConfig,
  state: OptimizerState,
  params: readonly Float32Array[],
  grads: readonly Float32Array[],
): void {
  if (config.kind !== state.kind) {
    throw new InvalidOptionError(
      `optimizer config is '${config.kind}' but its state is '${state.kind}'`,
    );
  }
  checkSizes(state, params, grads);
  state.step += 1;
  const lr = config.learningRate;
  if (state.kind === 'sgd') {
    const nesterov = config.nesterov === true;
    for (let i = 0; i < params.length; i++) {
      sgdTensor(
        params[i]!,
        grads[i]!,
        state.velocity[i]!,
        lr,
        config.momentum,
        i % 2 === 0 ? config.l2 : 0,
        nesterov,
      );
    }
    return;
  }
  const t = state.step;
  const stepSize = lr / (1 - BETA1 ** t);
  const invSqrtBc2 = 1 / Math.sqrt(1 - BETA2 ** t);
  for (let i = 0; i < params.length; i++) {
    adamTensor(
      params[i]!,
      grads[i]!,
      state.m[i]!,
      state.v[i]!,
      stepSize,
      invSqrtBc2,
      i % 2 === 0 ? config.l2 : 0,
    );
  }
}
