"""The whole plan with each instrument model in its role: every registered model in turn.

For every model the rig supports (drivers/instruments/, with its emulated command set in
emulator/scpi/), a bench file like rig/benches/emulated.toml with that one role set to that
model (the others generic) runs the whole plan on each meter profile; the emulator counts
every command the selected model does not have (`--command-log`), and a run passes only
when every test passed and that count is 0. Registry-driven: a new model is in the matrix
without a line here.

Run by hand (each whole-plan run is about a minute at 200x; not for CI):

    nice .venv/bin/python benchmarks/model_matrix.py                     # every real model
    nice .venv/bin/python benchmarks/model_matrix.py --roles source,load
    nice .venv/bin/python benchmarks/model_matrix.py --models chroma-61500 --profiles pln_minimal
    nice .venv/bin/python benchmarks/model_matrix.py \
        --bench rig/benches/emulated-chroma-keysight.toml
    nice .venv/bin/python benchmarks/model_matrix.py --plan-args=--ignore=testplans/x.py

`--bench FILE` runs that bench file as it is (every role as it names it) instead of the
one-model-at-a-time matrix. Exit status 1 when any run does not pass.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from speed_matrix import read_results, tally  # noqa: E402

from drivers.instruments import all_models  # noqa: E402

EMULATED = ROOT / "rig" / "benches" / "emulated.toml"
DEFAULT_PROFILES = ("pln_default", "pln_minimal")


@dataclass(frozen=True)
class Run:
    """One whole-plan run with one bench."""

    label: str          # "role model" or the bench file's name
    profile: str
    passed: int
    failed: int
    other: int
    skipped: int
    undefined: int      # commands the selected models do not have, as the emulator counted
    seconds: float
    failing: tuple[str, ...]

    @property
    def verdict(self) -> str:
        if self.passed + self.failed + self.other == 0:
            return "NO TESTS"
        return "PASS" if self.failed == self.other == self.undefined == 0 else "FAIL"


def bench_with(role: str, model: str, folder: Path) -> Path:
    """rig/benches/emulated.toml with `[instruments.<role>] model = "<model>"`."""
    text = EMULATED.read_text()
    table = f"[instruments.{role}]\n"
    if table in text:
        start = text.index(table) + len(table)
        end = text.index("\n", start)
        text = text[:start] + f'model = "{model}"' + text[end:]
    else:
        text = text.replace("[safety]", f'{table}model = "{model}"\n\n[safety]')
    path = folder / f"{role}-{model}.toml"
    path.write_text(text)
    return path


def run_plan(bench: Path, label: str, profile: str, timeout_s: float, keep: Path | None,
             plan_args: list[str] | None = None) -> Run:
    """`python -m rig run` of the whole plan with `bench` on `profile`."""
    with tempfile.TemporaryDirectory(prefix="model-matrix-") as tmp:
        reports = (keep / f"{label.replace(' ', '-')}-{profile}") if keep else Path(tmp) / "r"
        reports.mkdir(parents=True, exist_ok=True)
        log = (reports if keep else Path(tmp)) / "undefined-commands.log"
        env = dict(os.environ, STS_EMULATOR_COMMAND_LOG=str(log))
        cmd = [sys.executable, "-m", "rig", "run", "--bench", str(bench), "--profile",
               profile, "--reports", str(reports), "--rig-progress=off", *(plan_args or [])]
        start = time.monotonic()
        try:
            code = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  timeout=timeout_s, env=env).returncode
        except subprocess.TimeoutExpired:
            code = -1
        seconds = time.monotonic() - start
        passed, failed, other, skipped, failing = tally(read_results(reports))
        if code == -1:
            other += 1
        undefined = len(log.read_text().splitlines()) if log.exists() else 0
        if undefined:
            failing += tuple(f"undefined: {line}" for line in
                             sorted(set(log.read_text().splitlines()))[:5])
    return Run(label, profile, passed, failed, other, skipped, undefined, seconds, failing)


def table(runs: list[Run]) -> str:
    """A markdown table, one row per (bench, profile)."""
    rows = ["| role / model | profile | verdict | passed | failed | other | skipped | "
            "undefined cmds | s |", "|" + "---|" * 9]
    for r in runs:
        rows.append(f"| {r.label} | {r.profile} | {r.verdict} | {r.passed} | {r.failed} | "
                    f"{r.other} | {r.skipped} | {r.undefined} | {r.seconds:.0f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roles", help="comma-separated roles (default: every role)")
    parser.add_argument("--models", help="comma-separated model names (default: every real "
                        "model of the roles)")
    parser.add_argument("--profiles", default=",".join(DEFAULT_PROFILES))
    parser.add_argument("--bench", type=Path, help="run this bench file as it is instead")
    parser.add_argument("--include-generic", action="store_true",
                        help="also the generic models (the plain emulated bench)")
    parser.add_argument("--timeout", type=float, default=900.0, help="bound of one run (s)")
    parser.add_argument("--keep", type=Path, help="keep each run's reports under DIR")
    parser.add_argument("--plan-args", default="",
                        help="extra pytest arguments for every run (e.g. a --deselect); the "
                             "table is then not of the whole plan")
    args = parser.parse_args(argv)
    profiles = [p for p in args.profiles.split(",") if p]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="model-benches-") as tmp:
        if args.bench:
            cells = [(args.bench.name, args.bench)]
        else:
            roles = set(args.roles.split(",")) if args.roles else None
            names = set(args.models.split(",")) if args.models else None
            cells = [(f"{cls.ROLE} {cls.MODEL}", bench_with(cls.ROLE, cls.MODEL, Path(tmp)))
                     for cls in all_models()
                     if (roles is None or cls.ROLE in roles)
                     and (names is None or cls.MODEL in names)
                     and (args.include_generic or cls.MODEL != "generic")]
        for label, bench in cells:
            for profile in profiles:
                run = run_plan(bench, label, profile, args.timeout, args.keep,
                               args.plan_args.split())
                runs.append(run)
                print(f"{label} {profile}: {run.verdict} ({run.seconds:.0f} s)"
                      + (f" failing: {', '.join(run.failing)}" if run.failing else ""),
                      file=sys.stderr, flush=True)
    print(table(runs))
    return 0 if all(r.verdict == "PASS" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
