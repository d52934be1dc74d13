"""`rig meter readout` and `rig meter enter`: the meter on the bench, by hand."""

from __future__ import annotations

import argparse
import json
import sys
import time

from drivers.keypad import KeypadError
from drivers.optical import OpticalError, OpticalPort
from rig.bench import BenchError, open_bench
from rig.config import ConfigError, load_bench


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"rig meter: {message}", file=sys.stderr)
        sys.exit(2)


def _readout(port: OpticalPort, as_json: bool) -> int:
    registers = port.readout()
    if as_json:
        print(json.dumps([r.as_dict() for r in registers], indent=1))
    else:
        for r in registers:
            print(f"{r.obis:<8} {r.value} {r.unit}".rstrip())
    return 0


def wait_result(port: OpticalPort, before: str, timeout_s: float = 30.0) -> tuple[str, str]:
    """Wait for the meter's entry counter (C.52.2) to move; its outcome and display."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if port.read("C.52.2").value != before:
            return port.read("C.52.0").value, port.read("C.56.0").value
        time.sleep(0.05)
    raise OpticalError("result", f"the meter showed no new result within {timeout_s:g} s")


def main(argv: list[str]) -> int:
    parser = _Parser(prog="rig meter", description="Read the meter or type a token into it.")
    sub = parser.add_subparsers(dest="action", required=True)
    readout = sub.add_parser("readout", help="print the meter's registers")
    where = readout.add_mutually_exclusive_group()
    where.add_argument("--bench", help="bench TOML (default: the emulated bench)")
    where.add_argument("--port", help="the optical head's serial port or pyserial URL")
    readout.add_argument("--json", action="store_true", help="a JSON list of registers")
    enter = sub.add_parser("enter", help="type a token and print the meter's answer")
    enter.add_argument("token")
    enter.add_argument("--bench", help="bench TOML (default: the emulated bench)")
    args = parser.parse_args(argv)
    try:
        if args.action == "readout" and args.port:
            with OpticalPort(args.port) as port:
                return _readout(port, args.json)
        config = load_bench(args.bench)
        with open_bench(config) as bench:
            if args.action == "readout":
                return _readout(bench.optical, args.json)
            before = bench.optical.read("C.52.2").value
            bench.keypad.type_token(args.token)
            outcome, display = wait_result(bench.optical, before)
            print(f"{outcome} ({display})")
            return 0 if outcome in ("ACCEPT", "KCT_HELD") else 1
    except (OpticalError, KeypadError, BenchError, ConfigError) as exc:
        print(f"rig meter: {exc}", file=sys.stderr)
        return 1
