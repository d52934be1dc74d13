"""`rig meter readout` and `rig meter enter`: the meter on the bench, by hand.

Without `--bench` (or with a bench file that says `emulated = true`) each call starts an
emulated bench of its own and stops it at the end, so its meter starts from a fresh memory
every time: a token entered by one `rig meter enter` is not remembered by the next, unless
`--state FILE` names a file for the emulated meter's non-volatile memory.

Exit status (see rig/cli.py): 0 done (the token accepted), 1 the meter or a device said no
(token rejected, no answer, a bad frame), 2 bad input (a token that is not 20 digits, a
bench file that does not load; a bench, profile or state file that is no regular file),
found before anything is started, 130 stopped by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from drivers.keypad import KeypadError
from drivers.optical import OpticalError, OpticalPort
from rig.bench.config import ConfigError, load_bench
from rig.bench.devices import BenchError, open_bench
from rig.commands.input_files import check_bench_inputs
from sts.digits import TokenTextError, token_text

PROG = "rig meter"
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
    UsageError naming what is wrong (the one token grammar: `sts.digits.token_text`)."""
    try:
        return token_text(text)
    except TokenTextError as exc:
        raise UsageError(str(exc)) from None


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
    readout.add_argument("--json", action="store_true",
                         help="a JSON list of registers (obis, value, unit, fact, meaning)")
    readout.add_argument("--profile", metavar="NAME|FILE",
                         help="the meter profile that names the registers (default: the "
                              "bench's; with --port: none, the codes are printed bare)")
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


# IEC 62056-21 addresses every mode C meter may send, whatever its profile says
_STANDARD = {"0.0.0": "device address (meter number)", "F.F": "error register"}


def register_names(profile: Any | None) -> dict[str, tuple[str | None, str]]:
    """{address: (fact name or None, meaning)} from a meter profile: its register facts
    (docs/profile.md), its declared diagnostic registers, and the IEC 62056-21 addresses."""
    names: dict[str, tuple[str | None, str]] = {a: (None, m) for a, m in _STANDARD.items()}
    if profile is None:
        return names
    from meterprofile.fact_catalogue import FACTS

    diagnostics = getattr(profile.optical, "diagnostic_registers", ())
    if diagnostics:  # only an emulated meter declares them: its emulator says what they mean
        from emulator.served_facts import DIAGNOSTIC_MEANINGS

        for address in diagnostics:
            names[address] = (None, "diagnostic: " + DIAGNOSTIC_MEANINGS.get(address,
                                                                             "rig-defined"))
    for fact_name, source in profile.register_facts().items():
        meaning = FACTS[fact_name].meaning if fact_name in FACTS else ""
        names[source.address] = (fact_name, meaning)
    return names


def _readout(port: OpticalPort, as_json: bool, profile: Any | None = None) -> int:
    registers = port.readout()
    names = register_names(profile)
    if as_json:
        print(json.dumps([{**r.as_dict(), "fact": names.get(r.obis, (None, ""))[0],
                           "meaning": names.get(r.obis, (None, ""))[1]} for r in registers],
                         indent=1))
        return 0
    values = [f"{r.value} {r.unit}".strip() for r in registers]
    width = max((len(v) for v in values), default=0)
    print(f"{'OBIS':<8} {'VALUE':<{width}}  {'FACT':<18} MEANING")
    for r, value in zip(registers, values, strict=True):
        fact, meaning = names.get(r.obis, (None, "not in the profile" if profile else ""))
        print(f"{r.obis:<8} {value:<{width}}  {fact or '-':<18} {meaning}".rstrip())
    if profile is not None:
        print(f"(names: meter profile {profile.name}; FACT is what a plan asks for)")
    return 0


def enter_token(bench: Any, profile: Any, token: str) -> Any:
    """Type the token and read the meter's answer the way the plans do: from the facts its
    profile declares (a result register, or the message on its display through the bench
    camera), never from an address the meter does not offer."""
    from rig.meter.under_test import FactNotOffered, MeterUnderTest, open_display

    meter = MeterUnderTest(bench, profile, display=open_display(bench, profile))
    try:
        return meter.enter(token)
    except FactNotOffered as exc:  # the meter offers its answer by no declared source
        raise NoAnswerSource(f"the meter's answer to the token cannot be read: {exc}") \
            from None


def _profile(config: Any, ref: str | None = None) -> Any:
    from meterprofile import load_profile

    if ref is not None:  # --profile: a name, or a path from the current folder
        return load_profile(ref)
    return load_profile(config.meter.profile, Path(config.path).parent)


def main(argv: list[str]) -> int:
    """`rig meter`; Ctrl-C or SIGTERM stops it in one line, exit 130."""
    from rig.commands.stopping import run_stoppable

    return run_stoppable("meter", lambda: _meter(argv))


def _meter(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        token = token_digits(args.token) if args.action == "enter" else ""
        port_only = args.action == "readout" and args.port
        check_bench_inputs(None if port_only else args.bench,
                           profile=getattr(args, "profile", None), state=args.state)
        if args.action == "readout" and args.port:
            if args.state:
                raise UsageError("--state is for an emulated bench, not --port")
            profile = _profile(None, args.profile) if args.profile else None
            with OpticalPort(args.port) as port:
                return _readout(port, args.json, profile)
        config = load_bench(args.bench)
        if args.state and not config.bench.emulated:
            raise UsageError(f"--state is for an emulated bench; {config.path} is a real one")
        state = Path(args.state) if args.state else None
        profile = _profile(config, getattr(args, "profile", None))
        with open_bench(config, state_path=state) as bench:
            if args.action == "readout":
                return _readout(bench.optical, args.json, profile)
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
