/**
 * Simulated hosts on one machine: each a Linux network namespace of its own (`mlsh-<id>-<i>`)
 * with an address on a bridge this kit creates (10.200.0.0/24 by default; the bridge itself is
 * 10.200.0.1), and a cgroup v1 CPU quota (`cpu.cfs_quota_us`) that gives it a known size, e.g.
 * 0.6 CPU. Processes started with `wrap` run inside one host: its namespace and its cgroup.
 * Everything it creates is removed by `teardown` (also after a failed setup); only the
 * namespaces, links and cgroups it made are touched, and traffic stays on its own bridge.
 *
 * Needs root, `ip` (iproute2) with netns support and a cgroup v1 cpu hierarchy; `hostsSupport`
 * says why not when they are missing.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** CFS period of the hosts' quotas (µs): 10 ms, not the kernel's 100 ms (see createHosts). */
export const kDefaultPeriodUs = 10_000;

const kCpuRoot = ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct'];

/** Why simulated hosts cannot be made here, or undefined when they can. */
export function hostsSupport(): string | undefined {
  if (process.getuid?.() !== 0) return 'simulated hosts need root (network namespaces, cgroups)';
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return '`ip netns` is not available';
  if (spawnSync('nsenter', ['--version']).status !== 0) return 'nsenter is not on PATH';
  if (!kCpuRoot.some((d) => existsSync(join(d, 'cpu.cfs_quota_us'))))
    return 'no cgroup v1 cpu hierarchy with cpu.cfs_quota_us under /sys/fs/cgroup';
  return undefined;
}

/** One simulated host. */
export interface SimHost {
  readonly name: string;
  readonly address: string;
  /** The host's cgroup folder. */
  readonly cgroup: string;
  readonly cpus: number;
}

/** A set of simulated hosts on one bridge. */
export interface SimHosts {
  readonly hosts: readonly SimHost[];
  /** The bridge's address: reachable from every host (run shared services on it). */
  readonly gateway: string;
  /** Wraps a command so that it runs inside host `i`: [command, args]. */
  wrap(i: number, argv: readonly string[]): [string, string[]];
  /** Removes the namespaces, links and cgroups. Safe to call twice. */
  teardown(): void;
}

function run(args: string[]): void {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${args.join(' ')} failed: ${(r.stderr || r.stdout || '').trim()}`);
}

/**
 * Creates `count` hosts of `cpus` CPUs each. `id` keeps names apart from another run's (it is
 * short: interface names have 15 characters at most); `subnet` is the first three octets;
 * `periodUs` the CFS period the quota is given per.
 */
export function createHosts(
  count: number,
  cpus: number,
  id = String(process.pid % 10000),
  subnet = '10.200.0',
  periodUs = kDefaultPeriodUs,
): SimHosts {
  const bridge = `mlsbr${id}`;
  const cpuRoot = kCpuRoot.find((d) => existsSync(join(d, 'cpu.cfs_quota_us')))!;
  const group = join(cpuRoot, `mlscale-hosts-${id}`);
  const hosts: SimHost[] = [];
  const made: { ns: string[]; links: string[]; cgroups: string[] } = {
    ns: [],
    links: [],
    cgroups: [],
  };
  let down = false;
  const teardown = () => {
    if (down) return;
    down = true;
    for (const ns of made.ns) {
      // Processes still in the namespace keep it; they are the caller's to stop first.
      spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
        .stdout?.split('\n')
        .filter(Boolean)
        .forEach((pid) => {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // already gone
          }
        });
      spawnSync('ip', ['netns', 'delete', ns]);
    }
    for (const link of made.links) spawnSync('ip', ['link', 'delete', link]);
    for (const dir of made.cgroups.reverse()) {
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          rmdirSync(dir);
          break;
        } catch {
          // a process that just died may still be listed for a moment
          spawnSync('sleep', ['0.1']);
        }
      }
    }
  };
  try {
    run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
    made.links.push(bridge);
    run(['ip', 'addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
    run(['ip', 'link', 'set', bridge, 'up']);
    mkdirSync(group);
    made.cgroups.push(group);
    for (let i = 0; i < count; i++) {
      const name = `mlsh-${id}-${i + 1}`;
      const outer = `mlsv${id}o${i + 1}`;
      const inner = `mlsv${id}i${i + 1}`;
      const address = `${subnet}.${11 + i}`;
      run(['ip', 'netns', 'add', name]);
      made.ns.push(name);
      run(['ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
      made.links.push(outer);
      run(['ip', 'link', 'set', outer, 'master', bridge]);
      run(['ip', 'link', 'set', outer, 'up']);
      run(['ip', 'link', 'set', inner, 'netns', name]);
      run(['ip', '-n', name, 'addr', 'add', `${address}/24`, 'dev', inner]);
      run(['ip', '-n', name, 'link', 'set', inner, 'up']);
      run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
      const cgroup = join(group, `h${i + 1}`);
      mkdirSync(cgroup);
      made.cgroups.push(cgroup);
      // The quota is handed out per period: with the kernel's 100 ms a host of 0.4 CPU is a whole
      // core for 40 ms and stopped for 60, and a synchronous round (20 ms here) waits for the
      // unluckiest host. A short period makes it a steadily slower machine, which a host of that
      // size is.
      writeFileSync(join(cgroup, 'cpu.cfs_period_us'), String(periodUs));
      writeFileSync(join(cgroup, 'cpu.cfs_quota_us'), String(Math.round(periodUs * cpus)));
      hosts.push({ name, address, cgroup, cpus });
    }
  } catch (err) {
    teardown();
    throw err;
  }
  return {
    hosts,
    gateway: `${subnet}.1`,
    wrap(i, argv) {
      const h = hosts[i]!;
      // Into the host's cgroup first (children inherit it), then into the namespace with nsenter,
      // which (unlike `ip netns exec`, which remounts /sys) leaves the cgroup files in view, as a
      // container has them: the process reads its own quota.
      return [
        'sh',
        [
          '-c',
          `echo $$ > ${join(h.cgroup, 'cgroup.procs')} && exec nsenter --net=/var/run/netns/${h.name} "$@"`,
          'sh',
          ...argv,
        ],
      ];
    },
    teardown,
  };
}
