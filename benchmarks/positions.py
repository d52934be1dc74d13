"""Wall time of `rig run --positions N` against one position, and meters per day at real speed.

Runs the whole plan on 1, 2, 4 and 8 emulated positions (one `rig run --positions N` each,
at the emulated bench's speed, 200x by default) and prints each wall time as a ratio to one
position (target: 4 positions at most 1.5x one). Then it estimates, for a bench of 24
positions at real speed (speed 1), how long one batch takes and how many meters a lab tests
in an 8-hour day:

- the plan's bench-time b (its waits in bench time: lock-outs, depletion, relay and trip
  delays) and its host time h (what does not scale with the clock: the rig's and the
  emulator's work, and the optical link, paced in real time at its baud rate) come from one
  position at two speeds: wall = h + b / speed at both (`--second-speed S2`, 50 by default;
  0 estimates h from the CPU time of the one-position run instead, a rougher figure);
- the overlap: the extra wall time each added position costs, the least-squares slope d of
  wall over N. Waits overlap whole (each position has its own supply switch, nothing waits
  for another position), so a batch of 24 takes about b + h + 23 d at real speed.

Run by hand, not in CI (8 positions on a 2-core machine take a while):

    nice .venv/bin/python benchmarks/positions.py
    nice .venv/bin/python benchmarks/positions.py --counts 1,2,4 --second-speed 50
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAY_S = 8 * 3600.0
BENCH_POSITIONS = 24


@dataclass
class Timing:
    positions: int
    speed: float
    wall_s: float
    cpu_s: float
    exit_code: int
    verdicts: list[str]


def run(positions: int, speed: float, extra: list[str]) -> Timing:
    """One `rig run --positions N` in a temp reports folder (kept, and named, when a
    position did not pass): its wall and CPU time."""
    tmp = tempfile.mkdtemp(prefix="rig-positions-bench-")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "rig", "run", "--positions", str(positions),
                           "--speed", f"{speed:g}", "--progress", "off", "--reports", tmp,
                           *extra], cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    verdicts = [line.split("  ")[3].split(" (")[0] for line in done.stdout.splitlines()
                if line.startswith("  position ") and "  meter " in line]
    if done.returncode == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"    (exit {done.returncode}: the run folders are kept in {tmp})")
    return Timing(positions, speed, wall, cpu, done.returncode, verdicts)


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of wall time over the number of positions."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def hours(seconds: float) -> str:
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,2,4,8",
                        help="positions to run, comma-separated (default 1,2,4,8)")
    parser.add_argument("--speed", type=float, default=200.0, help="bench speed (200)")
    parser.add_argument("--second-speed", type=float, default=50.0, metavar="S2",
                        help="one more one-position run at S2 (50), to separate the plan's "
                             "bench-time from its host work; 0: estimate them from the CPU "
                             "time instead (which counts the optical link's real-time "
                             "pacing as bench waits, so it overstates the bench-time)")
    parser.add_argument("extra", nargs="*", help="more `rig run` arguments (after --)")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    if counts[0] != 1:
        parser.error("--counts must start with 1 (the ratios are to one position)")
    print(f"rig run --positions N at {args.speed:g}x on {os.cpu_count()} cores", flush=True)
    timings = []
    for n in counts:
        t = run(n, args.speed, args.extra)
        timings.append(t)
        ratio = t.wall_s / timings[0].wall_s
        print(f"  {n} position(s): {t.wall_s:7.1f} s wall, {t.cpu_s:7.1f} s CPU, "
              f"{ratio:4.2f}x one, exit {t.exit_code}, {', '.join(t.verdicts)}", flush=True)
    one = timings[0]
    if args.second_speed:
        other = run(1, args.second_speed, args.extra)
        print(f"  1 position at {args.second_speed:g}x: {other.wall_s:.1f} s wall")
        inv = 1 / args.second_speed - 1 / args.speed
        bench_s = (other.wall_s - one.wall_s) / inv
        host_s = one.wall_s - bench_s / args.speed
        how = f"two speeds ({args.speed:g}x, {args.second_speed:g}x)"
    else:
        host_s = min(one.cpu_s, one.wall_s)
        bench_s = args.speed * (one.wall_s - host_s)
        how = "CPU time of the one-position run"
    per_position = max(0.0, slope([(t.positions, t.wall_s) for t in timings]))
    batch_s = bench_s + host_s + (BENCH_POSITIONS - 1) * per_position
    print(f"plan at real speed (from {how}): bench-time {hours(bench_s)}, host work "
          f"{host_s:.0f} s; each added position costs {per_position:.1f} s here")
    print(f"a {BENCH_POSITIONS}-position bench at speed 1: a batch takes about "
          f"{hours(batch_s)}; in an 8-hour day {int(DAY_S // batch_s)} whole batch(es) = "
          f"{BENCH_POSITIONS * int(DAY_S // batch_s)} meters "
          f"({BENCH_POSITIONS * DAY_S / batch_s:.0f} meters/day at a steady rate)")
    return 0 if all(t.exit_code == 0 for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
