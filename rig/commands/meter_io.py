"""`rig meter readout` and `rig meter enter`: the meter on the bench, by hand.

Without `--bench` (or with a bench file that says `emulated = true`) each call starts an
emulated bench of its own and stops it at the end, so its meter starts from a fresh memory
every time: a token entered by one `rig meter enter` is not remembered by the next, unless
`--state FILE` names a file for the emulated meter's non-volatile memory.

Exit status (see rig/cli.py): 0 done (the token accepted), 1 the meter or a device said no
(token rejected, no answer, a bad frame), 2 bad input (a token that is not 20 digits, a
bench file that does not load), found before anything is started.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from drivers.keypad import KeypadError
from drivers.optical import OpticalError, OpticalPort
from rig.bench.config import ConfigError, load_bench
from rig.bench.devices import BenchError, open_bench

PROG = "rig meter"
TOKEN_DIGITS = 20
_SEPARATORS = re.compile(r"[ \-]")
FRESH = ("an emulated bench starts afresh for each command: its meter forgets what an "
         "earlier command did unless --state names a file to keep it in")


class UsageError(Exception):
    """Bad input, found before anything is opened; the message is the stderr line."""


class NoAnswerSource(Exception):
    """The meter's profile declares no way to read its answer on this bench (no result
    register, and no camera for its display)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: {message}", file=sys.stderr)
        sys.exit(2)


def token_digits(text: str) -> str:
    """The 20 digits of a token typed with or without separators (spaces, dashes), or a
    UsageError naming what is wrong (the first non-digit and its position, or the count)."""
    for position, char in enumerate(text, start=1):
        if not ("0" <= char <= "9" or _SEPARATORS.fullmatch(char)):
            raise UsageError(f"token has {char!r} at position {position}: only digits, "
                             "spaces and dashes")
    digits = _SEPARATORS.sub("", text)
    if len(digits) != TOKEN_DIGITS:
        raise UsageError(f"token has {len(digits)} digits, expected {TOKEN_DIGITS}")
    return digits


def build_parser() -> argparse.ArgumentParser:
    """The `rig meter` argument parser."""
    parser = _Parser(prog=PROG, description="Read the meter or type a token into it.",
                     epilog=f"Without --bench, {FRESH}.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    readout = sub.add_parser("readout", help="print the meter's registers",
                             description="Print the meter's registers (an IEC 62056-21 "
                                         "readout over the optical port).",
                             epilog=f"Without --bench or --port, {FRESH}.")
    where = readout.add_mutually_exclusive_group()
    where.add_argument("--bench", metavar="FILE",
                       help="bench TOML (default: the emulated bench, started for this read)")
    where.add_argument("--port", help="the optical head's serial port or pyserial URL "
                                      "(instead of a bench file)")
    readout.add_argument("--json", action="store_true", help="a JSON list of registers")
    readout.add_argument("--state", metavar="FILE",
                         help="emulated bench only: the file keeping its meter's memory")
    enter = sub.add_parser("enter", help="type a token and print the meter's answer",
                           description="Type a token through the keypad injector and print "
                                       "the meter's answer (its outcome and display).",
                           epilog=f"Without --bench, {FRESH}.")
    enter.add_argument("token", metavar="TOKEN",
                       help="the 20-digit token (4-4-4-4-4 groups, spaces or dashes, allowed)")
    enter.add_argument("--bench", metavar="FILE",
                       help="bench TOML (default: the emulated bench, started for this token)")
    enter.add_argument("--state", metavar="FILE",
                       help="emulated bench only: the file keeping its meter's memory (TID "
                            "store, credit) from one `rig meter enter` to the next")
    return parser


def _readout(port: OpticalPort, as_json: bool) -> int:
    registers = port.readout()
    if as_json:
        print(json.dumps([r.as_dict() for r in registers], indent=1))
    else:
        for r in registers:
            print(f"{r.obis:<8} {r.value} {r.unit}".rstrip())
    return 0


def enter_token(bench: Any, profile: Any, token: str) -> Any:
    """Type the token and read the meter's answer the way the plans do: from the facts its
    profile declares (a result register, or the message on its display through the bench
    camera), never from an address the meter does not offer."""
    import pytest

    from rig.meter.under_test import MeterUnderTest, open_display

    meter = MeterUnderTest(bench, profile, display=open_display(bench, profile))
    try:
        return meter.enter(token)
    except pytest.skip.Exception as exc:  # the meter offers its answer by no declared source
        raise NoAnswerSource(f"the meter's answer to the token cannot be read: {exc}") \
            from None


def _profile(config: Any) -> Any:
    from meterprofile import load_profile

    ref = config.meter.profile
    beside = Path(config.path).parent / ref
    return load_profile(str(beside) if beside.suffix == ".toml" and beside.exists() else ref)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        token = token_digits(args.token) if args.action == "enter" else ""
        if args.action == "readout" and args.port:
            if args.state:
                raise UsageError("--state is for an emulated bench, not --port")
            with OpticalPort(args.port) as port:
                return _readout(port, args.json)
        config = load_bench(args.bench)
        if args.state and not config.bench.emulated:
            raise UsageError(f"--state is for an emulated bench; {config.path} is a real one")
        state = Path(args.state) if args.state else None
        profile = _profile(config)
        with open_bench(config, state_path=state) as bench:
            if args.action == "readout":
                return _readout(bench.optical, args.json)
            result = enter_token(bench, profile, token)
            print(f"{result.seen} ({result.display}) [{result.how}]")
            if not (result.accepted or result.seen == result.want("KCT_HELD")):
                print(f"{PROG}: the meter did not accept the token: {result.seen} "
                      f"({result.display})", file=sys.stderr)
                return 1
            return 0
    except (UsageError, ConfigError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except (OpticalError, KeypadError, BenchError, NoAnswerSource) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
