"""The emulated bench process: one model, its wires, and the line that says where they are.

`rig emulate` (or `python -m emulator`) builds the clock, the model and the servers, prints
one JSON line on stdout naming the ptys and VISA resources, and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from emulator.clock import Clock
from emulator.faults import FAULTS, check_faults
from emulator.keypad import KeypadInjectorServer
from emulator.model import BenchModel
from emulator.optical import OpticalPortServer
from emulator.scpi.instruments import AcLoadDevice, AcSourceDevice, DmmDevice, ScopeDevice
from emulator.scpi.server import ScpiServer
from emulator.setup import MeterSetup
from meterprofile import load_profile


class EmulatedBench:
    """Everything of one emulated bench, started and stopped together."""

    def __init__(self, *, bench_file: str | None = None, speed: float = 1.0,
                 faults: frozenset[str] = frozenset(), state: str | None = None) -> None:
        self.setup = MeterSetup.from_bench_file(bench_file) if bench_file else MeterSetup.default()
        self.profile = load_profile(self.setup.profile)
        self.clock = Clock(speed)
        self.model = BenchModel(self.setup, self.profile, self.clock, faults,
                                Path(state) if state else None)
        tokens = self.profile.tokens
        self.optical = OpticalPortServer(self.model)
        self.keypad = KeypadInjectorServer(self.model, press_ms=tokens.press_ms,
                                           gap_ms=tokens.gap_ms)
        self.instruments = {
            "source": ScpiServer(AcSourceDevice(self.model)),
            "load": ScpiServer(AcLoadDevice(self.model)),
            "dmm": ScpiServer(DmmDevice(self.model)),
            "scope": ScpiServer(ScopeDevice(self.model)),
        }

    def start(self) -> None:
        self.optical.start()
        self.keypad.start()
        for server in self.instruments.values():
            server.start()

    def stop(self) -> None:
        for server in self.instruments.values():
            server.stop()
        self.keypad.stop()
        self.optical.stop()
        self.model.close()

    def endpoints(self) -> dict:
        return {
            "optical": self.optical.path,
            "keypad": self.keypad.path,
            "instruments": {role: s.resource for role, s in self.instruments.items()},
            "speed": self.clock.speed,
            "faults": sorted(self.model.faults),
            "pid": os.getpid(),
            "meter": {"pan": self.model.identity.pan, "drn": self.model.identity.drn},
        }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rig emulate", description="Serve the emulated bench (meter, injector, instruments).")
    parser.add_argument("--bench", help="bench TOML whose [meter] and [meter.keys] to emulate")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="bench clock speed (N times real time, default 1)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="switch on a named deviation from the standard (repeatable)")
    parser.add_argument("--state", help="file keeping the meter's non-volatile memory")
    parser.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every exchange")
    return parser


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"rig emulate: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.__class__ = _OneLineParser
    args = parser.parse_args(argv)
    if args.list_faults:
        width = max(map(len, FAULTS))
        for name, text in FAULTS.items():
            print(f"{name:<{width}}  {text}")
        return 0
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    try:
        faults = check_faults(args.fault)
        if not args.speed > 0:
            raise ValueError(f"--speed must be positive, got {args.speed:g}")
        bench = EmulatedBench(bench_file=args.bench, speed=args.speed, faults=faults,
                              state=args.state)
    except (ValueError, OSError) as exc:
        print(f"rig emulate: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    bench.start()
    print(json.dumps(bench.endpoints()), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        bench.stop()
    return 0
