"""`rig bench check`: open every device of the bench, print who answered, leave all safe.

Each device gets one line: `ok` (it answered), `FAIL` (silent or not understood) or
`REFUSED` (it answered, but it is past its calibration due date, so a run would not use it).
Exit status (see rig/cli.py): 0 all answered and usable, 1 a device silent or refused, 2 a
bench file that does not load (or is no regular file: a FIFO, /dev/zero), 130 stopped by
Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass, field
from typing import NoReturn

from rig.bench.config import BenchConfig, ConfigError, load_bench
from rig.bench.devices import Bench, BenchError, open_bench
from rig.commands.input_files import InputFileError, check_bench_inputs

PROG = "rig bench"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    """The `rig bench` argument parser."""
    parser = _Parser(prog=PROG, description="Check the devices of a bench.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="open every device and print its identity",
                           description="Open every device of the bench, print its identity "
                                       "and leave every instrument in its safe state.")
    check.add_argument("--bench", metavar="FILE",
                       help="bench TOML (default: the emulated bench, started for this check)")
    check.add_argument("--allow-expired-calibration", action="store_true",
                       help="count an instrument past its calibration due date as ok (as "
                            "`rig run --allow-expired-calibration` would use it)")
    return parser


@dataclass
class CheckResult:
    """Who was silent and who answered but is refused for its calibration date."""

    silent: list[str] = field(default_factory=list)
    refused: dict[str, dt.date] = field(default_factory=dict)

    def summary(self) -> str:
        """The one stderr line; empty when every device answered and is usable."""
        parts = []
        if self.silent:
            parts.append(f"no answer from: {', '.join(self.silent)}")
        if self.refused:
            parts.append("refused for calibration (past the due date; "
                         "--allow-expired-calibration to use it anyway): " + ", ".join(
                             f"{role} (due {due.isoformat()})"
                             for role, due in self.refused.items()))
        return "; ".join(parts)


def check_instruments(bench: Bench, config: BenchConfig, *, allow_expired: bool,
                      today: dt.date, result: CheckResult) -> None:
    """Ask each instrument who it is (even one past its due date: it is only put in its
    safe state), then judge its calibration date."""
    for role in config.instruments:
        due = config.instruments[role].calibration_due
        try:
            inst = bench.instrument(role)
            inst.safe_state()
        except Exception as exc:
            result.silent.append(role)
            print(f"{role:<8} FAIL {exc}")
            continue
        if due is not None and due < today and not allow_expired:
            result.refused[role] = due
            print(f"{role:<8} REFUSED {inst.idn} answered, but its calibration was due "
                  f"{due.isoformat()}: recalibrate it, or pass --allow-expired-calibration")
        elif due is not None and due < today:
            print(f"{role:<8} ok  {inst.idn} (calibration due {due.isoformat()}, past: "
                  "allowed by --allow-expired-calibration)")
        else:
            print(f"{role:<8} ok  {inst.idn}"
                  + (f" (calibration due {due.isoformat()})" if due else ""))


def main(argv: list[str]) -> int:
    """`rig bench check`; Ctrl-C or SIGTERM stops it in one line, exit 130."""
    from rig.commands.stopping import run_stoppable

    return run_stoppable("bench", lambda: _check(argv))


def _check(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_bench_inputs(args.bench)
        config = load_bench(args.bench)
    except (ConfigError, InputFileError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    result = CheckResult()
    try:
        # every instrument is opened, the expired ones too, to tell "refused" from "silent"
        with open_bench(config, allow_expired_calibration=True) as bench:
            print(f"bench: {config.bench.name} ({config.path})"
                  + (f", emulated at {bench.speed:g}x" if bench.emulated else ""))
            try:
                ident = bench.optical.identify()
                drn = bench.optical.read("C.1.0").value
                bench.optical.close()
                print(f"meter    ok  {ident.manufacturer} {ident.ident} "
                      f"(baud char {ident.baud_char}), meter number {drn}")
            except Exception as exc:
                result.silent.append("meter")
                print(f"meter    FAIL {exc}")
            if bench.has("keypad"):
                try:
                    print(f"keypad   ok  {bench.keypad.identify()}")
                except Exception as exc:
                    result.silent.append("keypad")
                    print(f"keypad   FAIL {exc}")
            check_instruments(bench, config, allow_expired=args.allow_expired_calibration,
                              today=dt.date.today(), result=result)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except BenchError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    if result.summary():
        print(f"{PROG}: {result.summary()}", file=sys.stderr)
        return 1
    print("all devices answered; instruments left in their safe state")
    return 0
