/**
 * The machine a sweep runs on, as the sweep file records it.
 *
 * @module
 */
import { availableParallelism, arch, cpus, platform, totalmem } from 'node:os';
import type { MachineInfo } from './sweep-schema.js';

/** CPUs, CPU model, memory, Node version and platform of this machine. */
export function machineInfo(): MachineInfo {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${platform()} ${arch()}`,
  };
}
