/**
 * The cores this process may use: os.availableParallelism() (the CPUs it may be scheduled on),
 * lowered by a CPU quota of its cgroup — cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` /
 * `cpu.cfs_period_us` — as a container or a Kubernetes CPU limit sets it. Node's own count ignores
 * quotas, so a pod limited to 2 CPUs on a 64-core node would otherwise count 64.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { posix } from 'node:path';

/** Where the cores figure came from. */
export interface HostCores {
  /** Whole cores to plan with: floor of the quota (at least 1), or the schedulable CPUs. */
  readonly cores: number;
  /** The quota in CPUs (e.g. 0.6), when one applies. */
  readonly quota?: number;
  /** 'cpus' or the cgroup file the quota was read from. */
  readonly source: string;
}

type Read = (path: string) => string | undefined;

const readOrUndefined: Read = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The CPU quota of a cgroup and its parents (the smallest applies), in CPUs; undefined without one.
 * `read` is the file reader (tests give a fake tree); `cgroupRoot` where the hierarchies are mounted.
 */
export function cgroupCpuQuota(
  read: Read = readOrUndefined,
  cgroupRoot = '/sys/fs/cgroup',
): { cpus: number; file: string } | undefined {
  const self = read('/proc/self/cgroup');
  if (self === undefined) return undefined;
  let best: { cpus: number; file: string } | undefined;
  const consider = (cpus: number, file: string) => {
    if (Number.isFinite(cpus) && cpus > 0 && (!best || cpus < best.cpus)) best = { cpus, file };
  };
  for (const line of self.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (path === undefined) continue;
    const levels = ancestry(path);
    if (controllers === '') {
      // cgroup v2: "<quota> <period>" or "max <period>".
      for (const dir of levels) {
        const file = posix.join(cgroupRoot, dir, 'cpu.max');
        const [quota, period] = (read(file) ?? '').trim().split(/\s+/);
        if (quota && quota !== 'max' && period) consider(Number(quota) / Number(period), file);
      }
    } else if (controllers!.split(',').includes('cpu')) {
      for (const mount of [controllers!, 'cpu', 'cpu,cpuacct']) {
        for (const dir of levels) {
          const file = posix.join(cgroupRoot, mount, dir, 'cpu.cfs_quota_us');
          const quota = Number((read(file) ?? '').trim());
          const period = Number(
            (read(posix.join(cgroupRoot, mount, dir, 'cpu.cfs_period_us')) ?? '').trim(),
          );
          if (quota > 0 && period > 0) consider(quota / period, file);
        }
      }
    }
  }
  return best;
}

/** The cores to plan with: the schedulable CPUs, lowered by a cgroup CPU quota. */
export function hostCores(
  read: Read = readOrUndefined,
  cpus = availableParallelism(),
  cgroupRoot = '/sys/fs/cgroup',
): HostCores {
  const quota = cgroupCpuQuota(read, cgroupRoot);
  if (quota && quota.cpus < cpus)
    return { cores: Math.max(1, Math.floor(quota.cpus)), quota: quota.cpus, source: quota.file };
  return { cores: cpus, source: 'cpus' };
}

/** "/a/b" → ["/a/b", "/a", "/"]: a cgroup and its parents. */
function ancestry(path: string): string[] {
  const out: string[] = [];
  let p = posix.normalize(path || '/');
  for (;;) {
    out.push(p);
    if (p === '/' || p === '.') break;
    p = posix.dirname(p);
  }
  return out;
}
