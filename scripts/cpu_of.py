"""Runs a command and prints its wall time and the CPU time every core spent meanwhile (Linux, /proc/stat).

usage: python scripts/cpu_of.py make test

getrusage counts only the processes a command waits for; a build that tests/test_interrupted_builds.py kills dies
before it waits for its workers, so `time make test` misses part of the suite's CPU. The machine-wide count does
not, provided nothing else runs meanwhile. CPU seconds over wall seconds is the cores kept busy; CPU seconds over the
cores is the least wall time any schedule of the same work could take.
"""
import os
import subprocess
import sys
import time


def busy_seconds():
    """CPU seconds spent by all cores since boot outside idle and I/O wait."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.strip().splitlines()[2])
    cpu, wall = busy_seconds(), time.perf_counter()
    code = subprocess.call(sys.argv[1:])
    cpu, wall = busy_seconds() - cpu, time.perf_counter() - wall
    cores = os.cpu_count() or 1
    print(f"{' '.join(sys.argv[1:])}: exit {code}, {wall:.1f} s wall, {cpu:.1f} CPU-seconds on {cores} cores "
          f"(busy {cpu / wall:.2f} of {cores}; no schedule of this work takes under {cpu / cores:.1f} s)", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
