/**
 * How the cores of a host are divided between replicas: a pure function, so that every rule about
 * it is tested without a process.
 *
 * Unless the user fixed them (`instances`, `intraOpThreads` in the model overrides), each replica
 * gets cores / replicas as its share, run as one instance per four cores of the share (or the
 * autoscaler's count of instances per replica), the rest as intra-op threads: instances × threads
 * × replicas stay within the cores.
 *
 * @module
 */
import { defaultModelSettings } from '../options.js';

/** Instances per model and intra-op threads per instance a replica runs; absent: what the user fixed. */
export interface Layout {
  readonly instances?: number;
  readonly intraOpThreads?: number;
}

/** What the layout depends on. */
export interface LayoutInput {
  readonly cores: number;
  /** Replicas the primary aims to run. */
  readonly replicas: number;
  /** Settings the user fixed; those are left to the user. */
  readonly fixed: { readonly instances?: number; readonly intraOpThreads?: number };
  /** With replicas `auto`: the autoscaler's instances per replica. */
  readonly autoscalerInstances?: number;
}

/** The layout of each replica. */
export function replicaLayout({
  cores,
  replicas,
  fixed,
  autoscalerInstances,
}: LayoutInput): Layout {
  const share = Math.max(1, Math.floor(cores / Math.max(1, replicas)));
  const instances = fixed.instances ?? autoscalerInstances ?? defaultModelSettings(share).instances;
  return {
    ...(fixed.instances === undefined ? { instances } : {}),
    ...(fixed.intraOpThreads === undefined
      ? { intraOpThreads: Math.max(1, Math.floor(share / instances)) }
      : {}),
  };
}

const kInstancesEnv = 'MLSCALE_INSTANCES';
const kThreadsEnv = 'MLSCALE_INTRA_OP_THREADS';

/** The environment a replica is forked with, to start with its layout. */
export function layoutEnv(l: Layout): Record<string, string> {
  return {
    ...(l.instances !== undefined ? { [kInstancesEnv]: String(l.instances) } : {}),
    ...(l.intraOpThreads !== undefined ? { [kThreadsEnv]: String(l.intraOpThreads) } : {}),
  };
}

/** The layout a replica was forked with (see `layoutEnv`). */
export function layoutFromEnv(env: NodeJS.ProcessEnv): Layout {
  const read = (name: string): number | undefined => {
    const v = env[name];
    const n = v === undefined ? NaN : Number(v);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };
  const instances = read(kInstancesEnv);
  const intraOpThreads = read(kThreadsEnv);
  return {
    ...(instances !== undefined ? { instances } : {}),
    ...(intraOpThreads !== undefined ? { intraOpThreads } : {}),
  };
}

/** A layout for log messages: "2 instance(s) x 1 intra-op thread(s) each per model". */
export function describeLayout(l: Layout): string {
  const parts = [
    l.instances !== undefined ? `${l.instances} instance(s)` : 'the instances given',
    l.intraOpThreads !== undefined
      ? `${l.intraOpThreads} intra-op thread(s) each`
      : 'the threads given',
  ];
  return `${parts.join(' x ')} per model`;
}
