"""`rig run`: run the conformance plans and write the report under reports/<run-id>/."""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

PLANS = Path(__file__).resolve().parent.parent.parent / "testplans"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"rig run: {message}", file=sys.stderr)
        sys.exit(2)


def build_command(args: argparse.Namespace, extra: list[str], run_dir: Path) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "testpaths=",
           "--rootdir", str(PLANS.parent), "-q", "-rfEs",
           f"--html={run_dir / 'report.html'}", "--self-contained-html",
           f"--junitxml={run_dir / 'junit.xml'}",
           f"--rig-report-dir={run_dir.parent}", f"--rig-run-id={run_dir.name}"]
    if args.bench:
        cmd.append(f"--bench={args.bench}")
    if args.speed:
        cmd.append(f"--speed={args.speed:g}")
    for fault in args.fault:
        cmd.append(f"--fault={fault}")
    if args.allow_expired_calibration:
        cmd.append("--allow-expired-calibration")
    if not any(Path(a.split("::")[0]).exists() for a in extra if not a.startswith("-")):
        cmd.append(str(PLANS))  # no plan file named: the whole plan
    return cmd + extra


def main(argv: list[str]) -> int:
    parser = _Parser(prog="rig run", description="Run the conformance plans against a bench "
                     "(the emulated one by default) and write the report.",
                     epilog="Other arguments go to pytest (e.g. -k relay, -x).")
    parser.add_argument("--bench", help="bench TOML (default: the emulated bench)")
    parser.add_argument("--speed", type=float, help="emulated bench clock speed")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="switch on an emulator fault (repeatable)")
    parser.add_argument("--allow-expired-calibration", action="store_true")
    parser.add_argument("--reports", default="reports", help="report directory (reports/)")
    args, extra = parser.parse_known_args(argv)
    run_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.fault:
        run_id += "-" + "-".join(args.fault)
    run_dir = Path(args.reports).resolve() / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    code = subprocess.call(build_command(args, extra, run_dir))
    print(f"rig run: {time.monotonic() - started:.1f} s; report {run_dir / 'report.html'}, "
          f"results {run_dir / 'results.jsonl'}, JUnit {run_dir / 'junit.xml'}")
    return code
