"""The emulated bench process: one model, its wires, and the line that says where they are.

`rig emulate` (or `python -m emulator`) builds the clock, the model and the servers, prints
one JSON line on stdout naming the ptys and VISA resources, and serves until SIGINT/SIGTERM
(or, with `--exit-on-stdin-eof`, until its stdin reaches end of file: see emulator.lifeline).
Without `--state FILE` the meter's non-volatile memory lives in this process only.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from emulator.camera import meter_camera
from emulator.clock import Clock
from emulator.control import ControlServer
from emulator.faults import FAULTS
from emulator.lifeline import watch_stdin
from emulator.model import BenchModel
from emulator.optical import OpticalPortServer
from emulator.positions import (
    MAX_POSITIONS,
    SharedSource,
    position_faults,
    position_model_factory,
    setup_for_position,
)
from emulator.relayboard import KEYPAD_KINDS, keypad_server
from emulator.scpi.registry import device_class, devices
from emulator.scpi.server import ScpiDevice, ScpiServer
from emulator.setup import MeterSetup, instrument_models
from meterprofile import load_profile


class EmulatedBench:
    """Everything of one emulated bench, started and stopped together."""

    def __init__(self, *, bench_file: str | None = None, speed: float = 1.0,
                 faults: frozenset[str] = frozenset(), state: str | None = None,
                 keypad: str = "injector", profile: str | None = None,
                 read_log: str | None = None, command_log: str | None = None,
                 clock: Clock | None = None, setup: MeterSetup | None = None,
                 model_factory: Callable[..., BenchModel] = BenchModel) -> None:
        if setup is None:
            # position 1's meter is the bench file's own (its PAN, or the default one's)
            setup = setup_for_position(bench_file, 1) if bench_file else MeterSetup.default()
        self.setup = setup
        self.profile = load_profile(profile or self.setup.profile,
                                    None if profile or not bench_file else Path(bench_file).parent)
        self.faults = faults
        self.clock = clock or Clock(speed)  # a positions bench shares one clock
        self.model = model_factory(self.setup, self.profile, self.clock, faults,
                                   Path(state) if state else None)
        self.model.read_log = Path(read_log) if read_log else None
        if self.model.read_log is not None:
            self.model.read_log.touch()  # there from the start: the option reached us
        tokens, optical = self.profile.tokens, self.profile.optical
        self.optical = OpticalPortServer(self.model, baud_char=optical.baud_char,
                                         reaction_ms=optical.reaction_ms,
                                         bad_bcc="bad-bcc" in faults)
        self.keypad_kind = keypad
        self.keypad = keypad_server(keypad, self.model, bench_file=bench_file,
                                    press_ms=tokens.press_ms, gap_ms=tokens.gap_ms)
        self.control = ControlServer(self.model)  # physical steps (emulator/control.py)
        self.camera = meter_camera(self.model, self.profile)  # films the LCD (emulator/camera.py)
        self.command_log = Path(command_log) if command_log else None
        if self.command_log is not None:
            self.command_log.touch()  # there from the start: the option reached us
        self.models = served_models(instrument_models(bench_file))
        self.instruments: dict[str, ScpiServer] = {}
        for role, name in self.models.items():
            device = device_class(role, name)(self.model)
            device.on_undefined = self._undefined_logger(role, name, device)
            self.instruments[role] = ScpiServer(device)

    def _undefined_logger(self, role: str, name: str,
                          device: ScpiDevice) -> Callable[[str], None]:
        """Every command a model does not have: logged, and appended to the command log."""
        log_path = self.command_log

        def told(header: str) -> None:
            logging.getLogger("emulator.scpi").info("%s (%s): undefined header %r", role,
                                                    name, header)
            if log_path is not None:
                with log_path.open("a", encoding="utf-8") as fh:
                    fh.write(f"{role}\t{name}\t{header}\n")

        return told

    def undefined_commands(self) -> dict[str, dict[str, int]]:
        """role -> header -> times sent, of the commands the served models do not have."""
        return {role: dict(server.device.undefined)
                for role, server in self.instruments.items()}

    def start(self) -> None:
        self.optical.start()
        self.keypad.start()
        self.control.start()
        self.camera.start()
        for server in self.instruments.values():
            server.start()

    def stop(self) -> None:
        for server in self.instruments.values():
            server.stop()
        self.control.stop()
        self.camera.stop()
        self.keypad.stop()
        self.optical.stop()
        self.model.close()

    def endpoints(self) -> dict:
        return {
            "optical": self.optical.path,
            "keypad": self.keypad.path,
            "keypad_kind": self.keypad_kind,
            "control": self.control.address,
            # the bench clock's zero on the host's CLOCK_MONOTONIC (a relay board's times)
            "clock_epoch": time.monotonic() - self.clock.now() / self.clock.speed,
            "instruments": {role: s.resource for role, s in self.instruments.items()},
            "instrument_models": dict(self.models),
            "speed": self.clock.speed,
            "faults": sorted(self.faults),
            "pid": os.getpid(),
            "meter": {"pan": self.model.identity.pan, "drn": self.model.identity.drn},
            "camera": self.camera.url,
            "camera_corners": [[round(x, 2), round(y, 2)] for x, y in self.camera.corners],
        }


class PositionsBench:
    """N emulated positions on one bench clock and one shared AC source
    (emulator.positions): `rig emulate --positions N`."""

    def __init__(self, positions: int, *, bench_file: str | None = None, speed: float = 1.0,
                 faults: dict[int, frozenset[str]] | None = None, keypad: str = "injector",
                 profile: str | None = None, read_log: str | None = None,
                 command_log: str | None = None) -> None:
        if not 1 <= positions <= MAX_POSITIONS:
            raise ValueError(f"--positions must be from 1 to {MAX_POSITIONS}, got {positions}")
        faults = faults or {}
        self.clock = Clock(speed)
        self.benches: list[EmulatedBench] = []
        shared: SharedSource | None = None
        for k in range(1, positions + 1):
            setup = setup_for_position(bench_file, k)
            if shared is None:
                ratings = load_profile(profile or setup.profile, None if profile or not
                                       bench_file else Path(bench_file).parent).ratings
                shared = SharedSource(ratings.voltage_v, ratings.frequency_hz)
            self.benches.append(EmulatedBench(
                bench_file=bench_file, faults=faults.get(k, frozenset()), keypad=keypad,
                profile=profile, read_log=read_log, command_log=command_log,
                clock=self.clock, setup=setup,
                model_factory=position_model_factory(shared, k)))
        assert shared is not None
        self.shared = shared

    def start(self) -> None:
        for bench in self.benches:
            bench.start()

    def stop(self) -> None:
        for bench in self.benches:
            bench.stop()

    def endpoints(self) -> dict:
        """The one line: every position's endpoints (as a one-meter bench announces them,
        with its number), the clock and the shared source."""
        positions = []
        for k, bench in enumerate(self.benches, start=1):
            positions.append({"position": k, **bench.endpoints()})
        return {"positions": positions, "speed": self.clock.speed, "pid": os.getpid(),
                "shared_source": {"voltage": self.shared.voltage,
                                  "frequency": self.shared.frequency,
                                  "supply": "per-position switch"}}


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line on stderr, exit 2
        print(f"rig emulate: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="rig emulate", description="Serve the emulated bench (meter, injector, instruments).")
    parser.add_argument("--bench", help="bench TOML whose [meter] and [meter.keys] to emulate")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="bench clock speed (N times real time, default 1)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="switch on a named deviation from the standard (repeatable)")
    parser.add_argument("--state", help="file keeping the meter's non-volatile memory "
                        "(default: kept in memory only, for this process's life)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop cleanly, as on SIGTERM, when stdin reaches end of file")
    parser.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    parser.add_argument("--profile", metavar="NAME|FILE",
                        help="meter profile to emulate (default: the bench file's meter.profile)")
    parser.add_argument("--read-log", metavar="FILE",
                        default=os.environ.get("STS_EMULATOR_READ_LOG") or None,
                        help="append every optical read of an address the profile does not "
                             "declare to FILE (default: $STS_EMULATOR_READ_LOG)")
    parser.add_argument("--command-log", metavar="FILE",
                        default=os.environ.get("STS_EMULATOR_COMMAND_LOG") or None,
                        help="append every instrument command the served model does not have "
                             "(role, model, header; tab-separated) to FILE (default: "
                             "$STS_EMULATOR_COMMAND_LOG)")
    parser.add_argument("--list-models", action="store_true",
                        help="list the emulated instrument models (role, bench-file name) "
                             "and exit")
    parser.add_argument("--keypad", default="injector", metavar="NAME",
                        help="what presses the keys: injector (default) or a relay board")
    parser.add_argument("--list-keypads", action="store_true",
                        help="list the keypad kinds, one a line, and exit")
    parser.add_argument("--positions", type=int, metavar="N",
                        help="serve N positions (each its own meter, number and keys) on one "
                             "shared AC source; --fault NAME@K puts a fault in position K only")
    parser.add_argument("--attach", metavar="JSON",
                        default=os.environ.get(ATTACH_ENV) or None,
                        help="serve nothing: announce one position of a running `--positions` "
                             "bench (its endpoints, JSON) and wait, as a bench of its own "
                             f"would (default: ${ATTACH_ENV})")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every exchange")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`rig emulate` / `python -m emulator`: 0 after a clean stop, 2 for bad arguments."""
    args = build_parser().parse_args(argv)
    if args.list_faults:
        width = max(map(len, FAULTS))
        for name, text in FAULTS.items():
            print(f"{name:<{width}}  {text}")
        return 0
    if args.list_keypads:
        print("\n".join(KEYPAD_KINDS))
        return 0
    if args.list_models:
        for role, names in devices().items():
            for name, cls in names.items():
                print(f"{role}\t{name}\t{getattr(cls, 'DESIGNATION', '')}")
        return 0
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.attach:
        return attached(args, stop)
    try:
        if not (math.isfinite(args.speed) and args.speed > 0):
            raise ValueError(f"--speed must be a positive number, got {args.speed:g}")
        bench: EmulatedBench | PositionsBench
        if args.positions is not None:
            if args.state:
                raise ValueError("--state keeps one meter's memory: not with --positions")
            bench = PositionsBench(args.positions, bench_file=args.bench, speed=args.speed,
                                   faults=position_faults(args.fault, max(args.positions, 1)),
                                   keypad=args.keypad, profile=args.profile,
                                   read_log=args.read_log, command_log=args.command_log)
        else:
            bench = EmulatedBench(bench_file=args.bench, speed=args.speed,
                                  faults=known_faults(args.fault), state=args.state,
                                  keypad=args.keypad, profile=args.profile,
                                  read_log=args.read_log, command_log=args.command_log)
    except (ValueError, OSError) as exc:
        message = " ".join(str(exc).split())
        if args.bench and args.bench not in message:
            message = f"bench file {args.bench}: {message}"
        print(f"rig emulate: {message}", file=sys.stderr)
        return 2
    try:
        bench.start()
        print(json.dumps(bench.endpoints()), flush=True)
        if args.exit_on_stdin_eof:
            watch_stdin(stop)
        while not stop.wait(1.0):
            pass
    finally:
        bench.stop()
    return 0


#: the environment variable a `rig run --positions` worker's emulator start reads: the
#: endpoints of the position it is to use (rig.bench.positions)
ATTACH_ENV = "STS_EMULATOR_ATTACH"


def attached(args: argparse.Namespace, stop: threading.Event) -> int:
    """`--attach JSON`: one position of a running positions bench, announced as a bench of
    its own (this process's pid), until stopped. Faults named here must be the position's."""
    try:
        endpoints = json.loads(args.attach)
        if not isinstance(endpoints, dict) or not {"optical", "keypad", "instruments",
                                                   "faults"} <= set(endpoints):
            raise ValueError("not the endpoints of a position")
    except ValueError as exc:
        print(f"rig emulate: --attach: {exc}", file=sys.stderr)
        return 2
    asked, served = set(args.fault), set(endpoints["faults"])
    if asked and asked != served:
        print(f"rig emulate: --attach: position {endpoints.get('position', '?')} serves "
              f"faults {sorted(served)}, not {sorted(asked)}", file=sys.stderr)
        return 2
    print(json.dumps({**endpoints, "pid": os.getpid()}), flush=True)
    if args.exit_on_stdin_eof:
        watch_stdin(stop)
    while not stop.wait(1.0):
        pass
    return 0


def served_models(chosen: dict[str, str]) -> dict[str, str]:
    """role -> model the emulated bench serves: the bench file's choice, else `generic`
    (roles with no generic model are served only when a bench file names a model)."""
    known = devices()
    served = {role: "generic" for role, names in known.items() if "generic" in names}
    for role, name in chosen.items():
        device_class(role, name)  # an unknown role or model is a ValueError naming the known
        served[role] = name
    return served


def known_faults(names: list[str]) -> frozenset[str]:
    """The chosen faults; an unknown name is a ValueError listing the known ones."""
    for name in names:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r} (known: {', '.join(FAULTS)}; "
                             "see --list-faults)")
    return frozenset(names)
