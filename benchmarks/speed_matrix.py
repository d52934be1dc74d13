"""The same verdict at every clock speed: the plan against the clean emulated bench and against
each timing- or energy-dependent fault, at several emulated clock speeds.

A conformance plan must pass a compliant meter and fail a broken one whatever the emulated
clock's speed; a limit built from host-side timing widens with the speed and lets a fault
through at 200x that it catches at 10x. This script runs `python -m rig run` for each
(profile, speed, case) and prints a table of verdicts and durations.

Run by hand (a whole plan at 10x takes about a quarter of an hour, too long for CI):

    .venv/bin/python benchmarks/speed_matrix.py                       # everything, 10/50/200x
    .venv/bin/python benchmarks/speed_matrix.py --speeds 200 --faults fast-energy,late-relay
    .venv/bin/python benchmarks/speed_matrix.py --profiles pln_minimal --no-clean
    .venv/bin/python benchmarks/speed_matrix.py --speeds 200 --faults all \
        --bench rig/benches/emulated-keysight-itech-rigol.toml   # every fault, real models

A faulted run is limited to the plan tests marked to catch the fault (`--rig-only-faults`)
unless `--whole-plan` is given; the clean run is always the whole plan. Exit status 1 when
any verdict is not the expected one (clean: every test passed; fault: at least one failed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the faults whose detection depends on time or energy measured over time
TIMING_FAULTS = (
    "late-relay", "marginal-relay", "slow-reaction", "short-entry-timeout", "short-trip-delay",
    "early-reconnect", "endless-lockout", "clear-credit-ignored", "fast-energy",
    "credit-drift")
DEFAULT_SPEEDS = (10.0, 50.0, 200.0)
DEFAULT_PROFILES = ("pln_default", "pln_minimal")


@dataclass(frozen=True)
class Outcome:
    """One `rig run`: what its results file says, and how long it took on this host."""

    profile: str
    speed: float
    case: str  # "clean" or a fault name
    passed: int
    failed: int
    other: int  # errors, interruptions, a run past its time bound
    skipped: int
    seconds: float
    exit_code: int
    failing: tuple[str, ...]

    @property
    def verdict(self) -> str:
        if self.passed + self.failed + self.other + self.skipped == 0:
            return "NO TESTS"
        if self.case == "clean":
            return "PASS" if self.failed == 0 and self.other == 0 else "FAIL"
        return "CAUGHT" if self.failed else "MISSED"

    @property
    def expected(self) -> bool:
        return self.verdict == ("PASS" if self.case == "clean" else "CAUGHT")


def read_results(reports: Path) -> list[dict]:
    """The `test` lines of the one run directory under `reports`."""
    runs = [p for p in reports.iterdir() if p.is_dir()]
    if len(runs) != 1:
        return []
    path = runs[0] / "results.jsonl"
    if not path.is_file():
        return []
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [x for x in lines if x.get("kind") == "test"]


def tally(tests: list[dict]) -> tuple[int, int, int, int, tuple[str, ...]]:
    """(passed, failed, other, skipped, failing test names) per test, its worst phase
    counting."""
    worst: dict[str, str] = {}
    rank = {"passed": 0, "skipped": 1, "failed": 3, "error": 2}
    for t in tests:
        outcome = t.get("outcome", "error")
        if t.get("phase") != "call" and outcome == "passed":
            continue
        if outcome == "failed" and t.get("phase") != "call":
            outcome = "error"
        name = t["test"]
        if rank.get(outcome, 2) >= rank.get(worst.get(name, "passed"), 0):
            worst[name] = outcome
    passed = sum(1 for o in worst.values() if o == "passed")
    skipped = sum(1 for o in worst.values() if o == "skipped")
    failed = tuple(sorted(n.split("::")[-1] for n, o in worst.items() if o == "failed"))
    return passed, len(failed), len(worst) - passed - len(failed) - skipped, skipped, failed


def run_once(profile: str, speed: float, case: str, *, whole_plan: bool,
             timeout_s: float, keep: Path | None = None, bench: Path | None = None) -> Outcome:
    """`python -m rig run` for one cell of the matrix, in a fresh reports folder: a temporary
    one, or DIR/<profile>-<speed>x-<case>[-n] under `keep`, left there to look at."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="speed-matrix-") as tmp:
            return _run_into(Path(tmp), profile, speed, case, whole_plan, timeout_s, bench)
    base = keep / f"{profile}-{speed:g}x-{case}"
    reports, n = base, 1
    while reports.exists():
        n += 1
        reports = base.with_name(f"{base.name}-{n}")
    reports.mkdir(parents=True)
    return _run_into(reports, profile, speed, case, whole_plan, timeout_s, bench)


def _run_into(reports: Path, profile: str, speed: float, case: str, whole_plan: bool,
              timeout_s: float, bench: Path | None) -> Outcome:
    cmd = [sys.executable, "-m", "rig", "run", "--reports", str(reports), "--speed",
           f"{speed:g}", "--profile", profile]
    if bench is not None:
        cmd += ["--bench", str(bench.resolve())]
    if case != "clean":
        cmd += ["--fault", case]
        if not whole_plan:
            cmd += ["--rig-only-faults", case]
    cmd += ["--rig-progress=off"]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = -1  # the run outlived its bound: counted as not passing
    seconds = time.monotonic() - start
    passed, failed, other, skipped, failing = tally(read_results(reports))
    if code == -1:
        other += 1
    return Outcome(profile, speed, case, passed, failed, other, skipped, seconds, code,
                   failing)


def table(outcomes: list[Outcome]) -> str:
    """A markdown table: one row per (profile, case), one verdict/duration cell per speed."""
    speeds = sorted({o.speed for o in outcomes})
    head = "| profile | case | " + " | ".join(f"{s:g}x" for s in speeds) + " |"
    rows = [head, "|" + "---|" * (2 + len(speeds))]
    keys = list(dict.fromkeys((o.profile, o.case) for o in outcomes))
    for profile, case in keys:
        cells = []
        for s in speeds:
            found = [o for o in outcomes if (o.profile, o.case, o.speed) == (profile, case, s)]
            if not found:
                cells.append("")
                continue
            o = found[0]
            mark = "" if o.expected else " (!)"
            cells.append(f"{o.verdict}{mark} {o.passed}p/{o.failed}f/{o.other}e/"
                         f"{o.skipped}s {o.seconds:.0f} s")
        rows.append(f"| {profile} | {case} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def parse_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speeds", default=",".join(f"{s:g}" for s in DEFAULT_SPEEDS),
                        help="comma-separated clock speeds (default: 10,50,200)")
    parser.add_argument("--faults", default=",".join(TIMING_FAULTS),
                        help="comma-separated faults (default: the timing/energy ones; "
                             "'all': every fault of `rig emulate --list-faults`)")
    parser.add_argument("--bench", type=Path, metavar="FILE",
                        help="an emulated bench file (default: the emulated bench), e.g. "
                             "one with every role a real instrument model")
    parser.add_argument("--profiles", default=",".join(DEFAULT_PROFILES),
                        help="comma-separated meter profiles (default: both shipped ones)")
    parser.add_argument("--no-clean", action="store_true", help="skip the clean-bench runs")
    parser.add_argument("--whole-plan", action="store_true",
                        help="run the whole plan for each fault, not only its marked tests")
    parser.add_argument("--keep", metavar="DIR", type=Path,
                        help="keep each run's reports under DIR/<profile>-<speed>x-<case>")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds one run may take before it counts as not passing")
    args = parser.parse_args(argv)
    try:
        speeds = [float(s) for s in parse_list(args.speeds)]
    except ValueError:
        parser.error(f"--speeds must be numbers, got {args.speeds!r}")
    if not speeds or any(s <= 0 for s in speeds):
        parser.error("--speeds must be positive")
    sys.path.insert(0, str(ROOT))
    from emulator.faults import FAULTS

    faults = sorted(FAULTS) if args.faults == "all" else parse_list(args.faults)
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        parser.error(f"unknown fault {unknown[0]!r} (known: {', '.join(FAULTS)})")
    cases = ([] if args.no_clean else ["clean"]) + faults
    outcomes: list[Outcome] = []
    for profile in parse_list(args.profiles):
        for speed in speeds:
            for case in cases:
                o = run_once(profile, speed, case, whole_plan=args.whole_plan,
                             timeout_s=args.timeout, keep=args.keep, bench=args.bench)
                outcomes.append(o)
                print(f"{profile:12} {speed:>6g}x {case:22} {o.verdict:9} "
                      f"{o.passed:3d} passed {o.failed:3d} failed {o.other:2d} other "
                      f"{o.skipped:2d} skipped "
                      f"{o.seconds:7.1f} s  exit {o.exit_code}"
                      + (f"  failing: {', '.join(o.failing)}" if o.failing else ""),
                      flush=True)
    print()
    print(table(outcomes))
    return 0 if all(o.expected for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
