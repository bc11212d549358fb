/**
 * The autoscaling policy of `mlscale serve --replicas auto`: a pure function from the signals seen
 * so far to a decision, in the spirit of Ray Serve's and Knative's autoscalers.
 *
 * Horizontal (replicas):
 *  - the target is `targetOngoingRequests` per replica: the desired count is
 *    ceil(ongoing requests / target), where ongoing requests are averaged over `smoothingWindowMs`
 *    (Knative's stable window, Ray Serve's look-back period), so one noisy sample moves nothing;
 *  - an upscale happens only once the desired count has stayed above the current one for
 *    `upscaleDelayMs`, a downscale once it has stayed below for `downscaleDelayMs` (longer: adding
 *    capacity late costs latency, removing it early costs a thrash). A signal that flaps across the
 *    target resets the clock every time it crosses, so it never scales (no thrashing);
 *  - a spike (Knative's panic mode): when the short `panicWindowMs` average asks for at least
 *    `panicThreshold` times the current replicas, scale up at once, without the delay; and while
 *    that panic lasts (one smoothing window), never scale down;
 *  - never below `minReplicas`, never above `maxReplicas`.
 *
 * Vertical (instances per replica): when replicas' CPU is mostly idle while their queues hold
 * requests and do not shrink, the
 * bottleneck is not the cores but the number of onnxruntime instances pulling from the queue (one
 * instance runs one batch at a time); another process would only split the queue further, so the
 * policy adds an instance per replica instead (up to `maxInstancesPerReplica`), and removes one
 * again after queues have stayed empty for `downscaleDelayMs`.
 *
 * Cores bound both axes together: instances × intra-op threads × replicas never exceed `cores`
 * (each instance has at least `threadsPerInstance` threads), so no instance is added past that, and
 * a scale-up that would pass it brings instances per replica down with it.
 *
 * The host bounds the replicas: never more than `cores` ÷ (threads × the fewest instances) — past
 * that, processes only share the cores and throughput falls (BENCHMARKS.md: 4 replicas on 2 cores,
 * 0.68x) — nor more than `peakReplicas`, the scaling peak a sweep measured, when given. A
 * `maxReplicas` set higher is held there (only `minReplicas` can force more). When the load asks
 * for more replicas than the host runs and it runs them all, the host is **saturated**: the
 * decision says so (`hostSaturated`, and an action `host-saturated` when it begins, `host-has-room`
 * when it ends), for the caller to export as a metric that adds machines (an HPA or KEDA rule).
 *
 * Every decision, a hold included, carries the signal that caused it; the caller logs the ones that
 * change something. Time is an input (`timeMs`), so the policy is tested on recorded or synthetic
 * traces without timers.
 *
 * @module
 */
import {
  hostLimitWords,
  hostReplicaLimit,
  instanceCap,
  replicaCeiling,
  type AutoscalerConfig,
} from './autoscaler-config.js';

export {
  hostReplicaLimit,
  instanceCap,
  kDefaultAutoscalerConfig,
  resolveAutoscalerConfig,
  type AutoscalerConfig,
} from './autoscaler-config.js';

/** One observation of the whole host (sums and means over the replicas alive at `timeMs`). */
export interface Signals {
  readonly timeMs: number;
  /** Requests accepted and not yet answered, summed over replicas. */
  readonly ongoingRequests: number;
  /** Requests waiting in model queues (not yet running), summed over replicas. */
  readonly queueDepth: number;
  /** Mean fraction of its share of the CPU that each replica left idle, 0–1. */
  readonly cpuIdle: number;
}

/** What the policy remembers between calls. Treat as opaque; start from `initialAutoscalerState`. */
export interface AutoscalerState {
  readonly replicas: number;
  readonly instancesPerReplica: number;
  /** Samples within the smoothing window, oldest first. */
  readonly samples: readonly Signals[];
  /** Since when the desired count has been above / below the current one (undefined: it is not). */
  readonly upSinceMs?: number;
  readonly downSinceMs?: number;
  /** Since when idle CPU and a growing queue have asked for another instance. */
  readonly verticalUpSinceMs?: number;
  /** Since when queues have been empty with more than the minimum instances. */
  readonly verticalDownSinceMs?: number;
  /** Until when the spike rule forbids scaling down. */
  readonly panicUntilMs?: number;
  /** Whether the last decision found the host saturated. */
  readonly hostSaturated?: boolean;
}

export type AutoscalerAction =
  | 'hold'
  | 'scale-up'
  | 'spike-scale-up'
  | 'scale-down'
  | 'add-instance'
  | 'remove-instance'
  /** The host runs all the replicas it can and the load asks for more: add machines. */
  | 'host-saturated'
  /** The load fits the host again. */
  | 'host-has-room';

/** The signal behind a decision, as the caller logs it. */
export interface DecisionSignal {
  readonly timeMs: number;
  /** Mean ongoing requests over the smoothing window, and per current replica. */
  readonly smoothedOngoing: number;
  readonly ongoingPerReplica: number;
  /** Mean ongoing requests over the short spike window. */
  readonly panicOngoing: number;
  /** ceil(smoothed ongoing / target), within min and max. */
  readonly desiredReplicas: number;
  readonly queueDepth: number;
  /** Queue depth now minus at the start of the smoothing window. */
  readonly queueGrowth: number;
  readonly cpuIdle: number;
  /** Samples in the window. */
  readonly samples: number;
  /** For how long the condition behind the decision has held, in ms. */
  readonly heldForMs: number;
}

/** A decision: the counts to run now, what changed and why. */
export interface AutoscalerDecision {
  readonly action: AutoscalerAction;
  readonly replicas: number;
  readonly instancesPerReplica: number;
  readonly reason: string;
  readonly signal: DecisionSignal;
  /** The host runs every replica it can, and the load asks for more. */
  readonly hostSaturated: boolean;
  /** The most replicas this host runs (cores ÷ (threads × fewest instances), or the measured peak). */
  readonly hostReplicas: number;
  /** Replicas the load asks for, not bounded by the host or maxReplicas. */
  readonly demandReplicas: number;
}

/** The state to start from, with the counts running now. */
export function initialAutoscalerState(
  config: AutoscalerConfig,
  replicas = config.minReplicas,
  instancesPerReplica = config.minInstancesPerReplica,
): AutoscalerState {
  const r = clamp(replicas, config.minReplicas, replicaCeiling(config));
  return {
    replicas: r,
    instancesPerReplica: clamp(
      instancesPerReplica,
      config.minInstancesPerReplica,
      instanceCap(config, r),
    ),
    samples: [],
  };
}

/**
 * Feeds one observation to the policy. Pure: the same state and signals always give the same
 * result, and neither argument is changed. Observations must come in time order.
 */
export function autoscale(
  config: AutoscalerConfig,
  state: AutoscalerState,
  signals: Signals,
): { state: AutoscalerState; decision: AutoscalerDecision } {
  const now = signals.timeMs;
  const samples = [
    ...state.samples.filter((s) => s.timeMs > now - config.smoothingWindowMs && s.timeMs <= now),
    signals,
  ];
  const recent = samples.filter((s) => s.timeMs > now - config.panicWindowMs);
  const smoothedOngoing = mean(samples.map((s) => s.ongoingRequests));
  const panicOngoing = mean(recent.map((s) => s.ongoingRequests));
  const ceiling = replicaCeiling(config);
  const hostReplicas = hostReplicaLimit(config);
  const desiredReplicas = clamp(
    Math.ceil(smoothedOngoing / config.targetOngoingRequests),
    config.minReplicas,
    ceiling,
  );
  const panicDesired = clamp(
    Math.ceil(panicOngoing / config.targetOngoingRequests),
    config.minReplicas,
    ceiling,
  );
  const queueGrowth = signals.queueDepth - samples[0]!.queueDepth;
  const cpuIdle = mean(samples.map((s) => s.cpuIdle));

  const target = config.targetOngoingRequests;
  // What the load asks for, unbounded: the smoothed load, or the spike window's when it is a spike.
  const spiking =
    samples.filter((s) => s.timeMs > now - config.panicWindowMs).length >= 2 &&
    panicOngoing / (state.replicas * target) >= config.panicThreshold;
  const demandReplicas = Math.ceil(Math.max(smoothedOngoing, spiking ? panicOngoing : 0) / target);
  let next: AutoscalerState = { ...state, samples };
  const signal = (heldForMs: number): DecisionSignal => ({
    timeMs: now,
    smoothedOngoing: round(smoothedOngoing),
    ongoingPerReplica: round(smoothedOngoing / state.replicas),
    panicOngoing: round(panicOngoing),
    desiredReplicas,
    queueDepth: signals.queueDepth,
    queueGrowth,
    cpuIdle: round(cpuIdle),
    samples: samples.length,
    heldForMs,
  });
  const decide = (
    action: AutoscalerAction,
    reason: string,
    heldForMs: number,
    changes: Partial<AutoscalerState> = {},
  ): { state: AutoscalerState; decision: AutoscalerDecision } => {
    next = { ...next, ...changes };
    // More replicas leave fewer cores each: instances per replica come down to fit.
    const cap = instanceCap(config, next.replicas);
    if (next.instancesPerReplica > cap) {
      reason += `; ${cap} instance(s) per replica (was ${next.instancesPerReplica}), so that ${next.replicas} replicas stay within ${config.cores} cores`;
      next = { ...next, instancesPerReplica: cap };
    }
    // Saturated: the host already runs all the replicas it can (not a lower maxReplicas'), and
    // the load asks for more. Judged from the count running before this decision, so a scale-up
    // to the bound is one decision and the saturation that follows another.
    const saturated =
      hostReplicas <= config.maxReplicas &&
      state.replicas >= hostReplicas &&
      next.replicas >= hostReplicas &&
      demandReplicas > hostReplicas;
    const was = state.hostSaturated ?? false;
    if (saturated !== was) {
      const words = saturated
        ? `host saturated: the load asks for ${demandReplicas} replicas (${round(spiking ? panicOngoing : smoothedOngoing)} ongoing requests at ${target} each) but this host runs at most ${hostReplicas} (${hostLimitWords(config)}); more replicas here would only share its cores — add machines`
        : `the host has room again: the load asks for ${demandReplicas} replica(s) of the ${hostReplicas} it runs`;
      if (action === 'hold') {
        action = saturated ? 'host-saturated' : 'host-has-room';
        reason = words;
      } else reason += `; ${words}`;
    }
    next = { ...next, hostSaturated: saturated };
    return {
      state: next,
      decision: {
        action,
        replicas: next.replicas,
        instancesPerReplica: next.instancesPerReplica,
        reason,
        signal: signal(heldForMs),
        hostSaturated: saturated,
        hostReplicas,
        demandReplicas,
      },
    };
  };

  // Spike: the short window alone asks for far more replicas than run now. Only a window that
  // spans at least two samples counts, so one outlier sample cannot trigger it.
  // The ratio is of raw load to capacity, not of rounded replica counts: with one replica, 9 ongoing
  // requests round up to 2 replicas, which is no spike.
  const panicRatio = panicOngoing / (state.replicas * target);
  if (recent.length >= 2 && panicDesired > state.replicas && panicRatio >= config.panicThreshold) {
    return decide(
      'spike-scale-up',
      `spike: ${round(panicOngoing)} ongoing requests over the last ${config.panicWindowMs} ms are ${round(panicRatio)}x what ${state.replicas} replicas at ${target} each hold (threshold ${config.panicThreshold}x): ${panicDesired} replicas at once`,
      0,
      {
        replicas: panicDesired,
        upSinceMs: undefined,
        downSinceMs: undefined,
        panicUntilMs: now + config.smoothingWindowMs,
      },
    );
  }
  const panicking = state.panicUntilMs !== undefined && now < state.panicUntilMs;
  if (!panicking) next = { ...next, panicUntilMs: undefined };

  // Vertical first: idle CPU with a growing queue means instances, not cores, are short; another
  // replica would not help while the ones running leave their CPU idle.
  // A queue that stays (every sample of the window held requests) and is not shrinking: work
  // waits although the CPU has room. A steady queue counts, not only a rising one.
  const queueStays = samples.every((s) => s.queueDepth > 0) && queueGrowth >= 0;
  const cpuIdleQueueGrows = cpuIdle >= config.cpuIdleThreshold && queueStays;
  if (cpuIdleQueueGrows && state.instancesPerReplica < instanceCap(config, state.replicas)) {
    const since = state.verticalUpSinceMs ?? now;
    next = {
      ...next,
      verticalUpSinceMs: since,
      verticalDownSinceMs: undefined,
      upSinceMs: undefined,
    };
    if (now - since >= config.upscaleDelayMs) {
      return decide(
        'add-instance',
        `CPU ${pct(cpuIdle)} idle while queues held ${signals.queueDepth} requests (${queueGrowth >= 0 ? '+' : ''}${queueGrowth} over the window) for ${now - since} ms: instances, not cores, are short`,
        now - since,
        {
          instancesPerReplica: state.instancesPerReplica + 1,
          verticalUpSinceMs: undefined,
        },
      );
    }
    return decide(
      'hold',
      `CPU ${pct(cpuIdle)} idle while queues hold requests, for ${now - since} ms of the ${config.upscaleDelayMs} ms upscale delay`,
      now - since,
    );
  }
  next = { ...next, verticalUpSinceMs: undefined };
  const queuesEmpty = samples.every((s) => s.queueDepth === 0);
  if (queuesEmpty && state.instancesPerReplica > config.minInstancesPerReplica) {
    const since = state.verticalDownSinceMs ?? now;
    next = { ...next, verticalDownSinceMs: since };
    if (now - since >= config.downscaleDelayMs) {
      return decide(
        'remove-instance',
        `queues empty for ${now - since} ms with ${state.instancesPerReplica} instances per replica`,
        now - since,
        {
          instancesPerReplica: state.instancesPerReplica - 1,
          verticalDownSinceMs: undefined,
        },
      );
    }
  } else {
    next = { ...next, verticalDownSinceMs: undefined };
  }

  if (desiredReplicas > state.replicas) {
    const since = state.upSinceMs ?? now;
    next = { ...next, upSinceMs: since, downSinceMs: undefined };
    if (now - since >= config.upscaleDelayMs) {
      return decide(
        'scale-up',
        `${round(smoothedOngoing / state.replicas)} ongoing requests per replica over ${config.smoothingWindowMs} ms, above the target of ${target}, for ${now - since} ms`,
        now - since,
        {
          replicas: desiredReplicas,
          upSinceMs: undefined,
        },
      );
    }
    return decide(
      'hold',
      `above target for ${now - since} ms of the ${config.upscaleDelayMs} ms upscale delay`,
      now - since,
    );
  }
  if (desiredReplicas < state.replicas) {
    if (panicking) {
      return decide(
        'hold',
        `below target, but a spike was seen less than ${config.smoothingWindowMs} ms ago`,
        0,
        { upSinceMs: undefined, downSinceMs: undefined },
      );
    }
    const since = state.downSinceMs ?? now;
    next = { ...next, downSinceMs: since, upSinceMs: undefined };
    if (now - since >= config.downscaleDelayMs) {
      return decide(
        'scale-down',
        `${round(smoothedOngoing / state.replicas)} ongoing requests per replica over ${config.smoothingWindowMs} ms, below what ${state.replicas} replicas at ${target} each need, for ${now - since} ms`,
        now - since,
        {
          replicas: desiredReplicas,
          downSinceMs: undefined,
        },
      );
    }
    return decide(
      'hold',
      `below target for ${now - since} ms of the ${config.downscaleDelayMs} ms downscale delay`,
      now - since,
    );
  }
  return decide(
    'hold',
    `${round(smoothedOngoing / state.replicas)} ongoing requests per replica fits ${state.replicas} replicas at ${target} each`,
    0,
    { upSinceMs: undefined, downSinceMs: undefined },
  );
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

function pct(v: number): string {
  return `${Math.round(v * 100)}%`;
}
