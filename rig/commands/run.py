"""`rig run`: run the conformance plans and write the report under reports/<run-id>/.

pytest runs as a child process (`python -m pytest`), so its assertion rewriting sees our
packages fresh; Ctrl-C reaches it with the terminal's process group and SIGTERM is passed
on, and the plugin puts the bench back either way. The run directory gets `report.html`
(self-contained), `junit.xml` and, from the plugin, `results.jsonl`; `reports/LATEST` names
the newest run.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rig.session import default_run_id

PLANS = Path(__file__).resolve().parent.parent.parent / "testplans"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"rig run: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rig run",
                     description="Run the conformance plans against a bench (the emulated one "
                                 "by default) and write the report under reports/<run-id>/.",
                     epilog="Other arguments go to pytest (e.g. -k relay, -x, a plan file).")
    parser.add_argument("--bench", metavar="FILE",
                        help="bench TOML (default: the emulated bench)")
    parser.add_argument("--speed", type=float, metavar="N",
                        help="emulated bench clock speed (default: the bench file's)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="switch on an emulator fault (repeatable; `rig emulate "
                             "--list-faults` lists them)")
    parser.add_argument("--allow-expired-calibration", action="store_true",
                        help="use instruments past their calibration due date")
    parser.add_argument("--reports", default="reports", metavar="DIR",
                        help="where run directories go (default: reports/)")
    return parser


def pytest_args(args: argparse.Namespace, extra: list[str], run_dir: Path) -> list[str]:
    """The pytest command line of one run."""
    cmd = ["-p", "no:cacheprovider", "-o", "addopts=", "-rfEs",
           f"--rootdir={PLANS.parent}",
           f"--html={run_dir / 'report.html'}", "--self-contained-html",
           f"--junitxml={run_dir / 'junit.xml'}",
           f"--rig-report-dir={run_dir.parent}", f"--rig-run-id={run_dir.name}"]
    if args.bench:
        cmd.append(f"--bench={args.bench}")
    if args.speed is not None:
        cmd.append(f"--speed={args.speed:g}")
    cmd += [f"--fault={fault}" for fault in args.fault]
    if args.allow_expired_calibration:
        cmd.append("--allow-expired-calibration")
    if not any(_is_path(a) for a in extra):
        cmd.append(str(PLANS))
    return cmd + extra


def _is_path(arg: str) -> bool:
    return not arg.startswith("-") and (Path(arg.split("::")[0]).exists() or "::" in arg)


def unique_run_dir(base: Path, faults: list[str]) -> Path:
    run_id = default_run_id(faults)
    run_dir, n = base / run_id, 2
    while run_dir.exists():
        run_dir, n = base / f"{run_id}-{n}", n + 1
    return run_dir


def run_pytest(args: list[str]) -> int:
    """`python -m pytest ARGS` in a child; SIGTERM is passed on, Ctrl-C waits for it."""
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args])

    def forward(signum: int, frame: Any) -> None:
        proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # the child got the same SIGINT: let it clean up
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if args.speed is not None and args.speed <= 0:
        print(f"rig run: --speed must be a positive number, got {args.speed:g}", file=sys.stderr)
        return 2
    run_dir = unique_run_dir(Path(args.reports).resolve(), args.fault)
    run_dir.mkdir(parents=True)
    started = time.monotonic()
    code = run_pytest(pytest_args(args, extra, run_dir))
    print(f"rig run: {time.monotonic() - started:.1f} s, pytest exit code {code}")
    for name, what in (("report.html", "report"), ("results.jsonl", "results"),
                       ("junit.xml", "JUnit")):
        path = run_dir / name
        if path.exists():
            print(f"  {what:<8} {path}")
    return code
