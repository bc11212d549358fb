#!/bin/bash
# Runs a benchmark command alone and ahead of other work on a shared machine:
#   scripts/bench-alone.sh npm run bench:pipeline -- --only csv
# - one benchmark at a time: the lock file /tmp/mlscale-bench.lock (other runs wait for it);
# - ahead of other work: as root with the cgroup v1 cpu controller, the command runs in a cgroup
#   with the largest cpu.shares (nice alone does not help when other sessions' autogroups are
#   reniced too); elsewhere, nice -n -15 if allowed, else as it is.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: scripts/bench-alone.sh COMMAND [ARGS...]" >&2
  exit 2
fi
exec 9>/tmp/mlscale-bench.lock
flock 9
group=/sys/fs/cgroup/cpu/mlscale-bench
if [ "$(id -u)" = 0 ] && [ -d /sys/fs/cgroup/cpu ] && mkdir -p "$group" 2>/dev/null &&
  echo 262144 >"$group/cpu.shares" 2>/dev/null && echo $$ >"$group/cgroup.procs" 2>/dev/null; then
  :
else
  echo "bench-alone: no cgroup v1 cpu controller (or not root): running with nice only" >&2
fi
if nice -n -15 true 2>/dev/null; then exec nice -n -15 "$@"; else exec "$@"; fi
