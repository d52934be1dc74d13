"""`rig run`: run the conformance plans and write the report under reports/<run-id>/.

The bench file, the faults and the speed are checked first: a mistake is one line and exit 2,
and nothing is started (no run folder, no emulator). pytest then runs as a child process in a
session of its own, tied to this one: Ctrl-C (from the terminal, or SIGINT sent to this
process alone) and SIGTERM are passed on to it once, and the plugin stops the run cleanly,
with the bench in its safe state and the report written; if this process is killed, the
child gets SIGTERM and does the same (PR_SET_PDEATHSIG). Exit codes: 0 every test judged
passed, 1 a test failed or the run judged nothing (a silent meter, everything skipped), 2 bad
input, 3 an internal error or a child killed outright, 130 stopped by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rig.bench.session import default_run_id

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
    parser.add_argument("--profile", metavar="NAME|FILE",
                        help="meter profile (default: the bench file's); an emulated bench "
                             "serves this profile's meter")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="switch on an emulator fault (repeatable; `rig emulate "
                             "--list-faults` lists them)")
    parser.add_argument("--keypad", metavar="NAME",
                        help="keypad kind: injector or a relay board (`rig emulate "
                             "--list-keypads`); default: the bench file's")
    parser.add_argument("--answers", metavar="FILE",
                        help="operator answers file for the plans that need a person")
    parser.add_argument("--allow-expired-calibration", action="store_true",
                        help="use instruments past their calibration due date")
    parser.add_argument("--operator", metavar="NAME",
                        help="who runs the tests, named in the report (default: the bench "
                             "file's [operator])")
    parser.add_argument("--reports", default="reports", metavar="DIR",
                        help="where run directories go (default: reports/ in the current "
                             "folder)")
    parser.add_argument("--progress", choices=("auto", "lines", "off"), default="auto",
                        help="run progress: a status line on a terminal, else one line per "
                             "test (auto, the default); one line per test (lines); none (off)")
    return parser


def pytest_args(args: argparse.Namespace, extra: list[str], run_dir: Path) -> list[str]:
    """The pytest command line of one run."""
    cmd = ["-p", "no:cacheprovider", "-o", "addopts=", "-rfEs",
           f"--rootdir={PLANS.parent}",
           f"--junitxml={run_dir / 'junit.xml'}",
           f"--rig-report-dir={run_dir.parent}", f"--rig-run-id={run_dir.name}"]
    if args.bench:
        cmd.append(f"--bench={args.bench}")
    if args.speed is not None:
        cmd.append(f"--speed={args.speed:g}")
    cmd += [f"--fault={fault}" for fault in args.fault]
    cmd.append(f"--rig-progress={args.progress}")
    if args.profile:
        cmd.append(f"--profile={args.profile}")
    if args.allow_expired_calibration:
        cmd.append("--allow-expired-calibration")
    if args.keypad:
        cmd.append(f"--keypad={args.keypad}")
    if args.answers:
        cmd.append(f"--answers={Path(args.answers).resolve()}")
    if args.operator:
        cmd.append(f"--rig-operator={args.operator}")
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


#: the child's environment names the program, so pytest's usage errors say `rig run`
PROG_ENV = "RIG_PROG"

#: pytest's exit codes as `rig run` gives them: the same code for the same kind of problem
#: as every rig command (2 bad input), 1 for a run that failed or judged nothing, 130 for a
#: run stopped by Ctrl-C or SIGTERM
EXIT_CODES = {0: 0, 1: 1, 2: 130, 3: 3, 4: 2, 5: 1}


def check_before_start(args: argparse.Namespace) -> str | None:
    """What is wrong with the bench file, the faults or the speed, before anything starts
    (no run folder, no emulator, no pytest), or None."""
    from emulator.faults import FAULTS
    from rig.bench.config import ConfigError, load_bench

    if args.speed is not None and not args.speed > 0:
        return f"--speed must be a positive number, got {args.speed:g}"
    unknown = [name for name in args.fault if name not in FAULTS]
    if unknown:
        return (f"--fault {unknown[0]}: no such fault (`rig emulate --list-faults` lists "
                f"them: {', '.join(FAULTS)})")
    try:
        config = load_bench(args.bench)
    except (ConfigError, ValueError, OSError) as exc:
        return str(exc)
    if args.profile:
        from meterprofile import load_profile

        try:
            load_profile(args.profile)
        except (ValueError, OSError) as exc:
            return f"--profile {args.profile}: {exc}"
    if args.answers and not Path(args.answers).is_file():
        return f"--answers {args.answers}: no such file"
    if (args.fault or args.speed is not None) and not config.bench.emulated:
        what = "--fault" if args.fault else "--speed"
        return (f"{what} applies to an emulated bench only; {config.path.name} is a real one "
                "(bench.emulated = false)")
    return None


def run_pytest(args: list[str]) -> int:
    """pytest in a child tied to this process: it dies with it (PR_SET_PDEATHSIG, SIGTERM:
    a clean stop that leaves the bench safe), and in a session of its own, so a Ctrl-C
    reaches it once, passed on from here, whether it came from the terminal or was sent to
    this process alone."""
    from rig.bench.devices import die_with_parent

    env = dict(os.environ, **{PROG_ENV: "rig run"})
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], env=env,
                            start_new_session=True, preexec_fn=die_with_parent)

    def forward(signum: int, frame: Any) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward)
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def fallback_safe_state(bench_file: str | None) -> str:
    """pytest died without putting a real bench back (it was killed): switch the AC source
    off from here. Returns what was done, in one line."""
    from rig.bench.config import load_bench
    from rig.bench.devices import Bench

    try:
        config = load_bench(bench_file)
    except Exception as exc:  # the run started with this file: a failure here is said, only
        return f"could not read the bench file to put it safe: {exc}"
    if config.bench.emulated or "source" not in config.instruments:
        return "the emulated bench stopped with it"
    bench = Bench(config, allow_expired_calibration=True)
    try:
        bench.instrument("source")
        return "AC source output switched off from rig run"
    except Exception as exc:
        return f"could not reach the AC source to switch it off: {exc}"
    finally:
        bench.close()


def run_summary(run_dir: Path) -> list[str]:
    """What the record's last line says: counts, and why the run stopped or judged nothing."""
    import json

    path = run_dir / "results.jsonl"
    if not path.exists():
        return []
    end = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if obj.get("kind") == "run_end":
            end = obj
    if end is None:
        return ["the record has no run_end line: the run was cut off (`rig report` renders "
                "what it has)"]
    counts = ", ".join(f"{n} {k}" for k, n in sorted(end.get("counts", {}).items()))
    out = [counts] if counts else []
    if end.get("stopped"):
        out.append(f"stopped by {end['stopped']}")
    if end.get("no_verdict"):
        out.append(f"NO VERDICT: {end['no_verdict']}")
    return out


def main(argv: list[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    problem = check_before_start(args)
    if problem:
        print(f"rig run: {problem}", file=sys.stderr)
        return 2
    run_dir = unique_run_dir(Path(args.reports).resolve(), args.fault)
    started = time.monotonic()
    code = run_pytest(pytest_args(args, extra, run_dir))
    if code < 0:  # killed by a signal before it could stop cleanly
        name = signal.Signals(-code).name
        print(f"rig run: pytest was killed by {name}; {fallback_safe_state(args.bench)}",
              file=sys.stderr)
        code = 3
    result = EXIT_CODES.get(code, code)
    summary = run_summary(run_dir)
    print(f"rig run: {time.monotonic() - started:.1f} s, exit code {result}"
          + (f": {'; '.join(summary)}" if summary else ""))
    for name, what in (("report.html", "report"), ("report.pdf", "PDF"),
                       ("results.jsonl", "results"), ("junit.xml", "JUnit")):
        path = run_dir / name
        if path.exists():
            print(f"  {what:<8} {path}")
    return result
