"""`rig display read`: what the meter's display shows now, through the bench camera.

Exit status as for every `rig` command: 0 read, 1 the camera or the bench failed or the
display was unreadable, 2 bad input (a bench file that does not load, --state on a real
bench, a bench, profile or state file that is no regular file), found before anything is
started, 130 stopped by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from drivers.segment_reader import DisplayError, DisplayReader, open_camera
from meterprofile import load_profile
from meterprofile.lcd import profile_layout
from rig.bench.config import ConfigError, load_bench
from rig.bench.devices import BenchError, open_bench
from rig.commands.input_files import check_bench_inputs
from rig.meter.vendor import VendingKeyError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"rig display: {message}", file=sys.stderr)
        sys.exit(2)


def camera_of(config: Any, endpoints: dict[str, Any] | None) -> tuple[str, Any, int]:
    """(camera spec, corners, rotate) of a bench: the bench file's `[meter] camera` and
    `[meter.camera_calibration]`, or what the emulated bench announced."""
    endpoints = endpoints or {}
    meter = config.meter
    spec = getattr(meter, "camera", None) or endpoints.get("camera")
    if not spec:
        raise BenchError("the bench has no camera on the meter's display ([meter] camera)")
    calibration = getattr(meter, "camera_calibration", None)
    corners = getattr(calibration, "corners", None) or endpoints.get("camera_corners")
    rotate = int(getattr(calibration, "rotate", 0) or 0)
    return spec, corners, rotate


def what_it_is(text: str, profile: Any) -> str:
    """A few words on what a display text is, from the meter profile: an entry result's
    message, a reading with a unit, or a bare number (at rest a PLN meter shows its credit)."""
    if not text:
        return "nothing lit (a blank display)"
    outcomes = [o for o, m in profile.display.messages.items()
                if m == text or (m == "KCT" and re.fullmatch(r"KCT \d", text))]
    if outcomes:
        more = ", ..." if len(outcomes) > 3 else ""
        return f"the message for {', '.join(outcomes[:3])}{more}"
    match = re.fullmatch(r"-?[\d.]+ ?([A-Za-z%]+)?", text)
    if match and match.group(1):
        return f"a reading in {match.group(1)}"
    if match:
        return "a number; at rest the meter shows its credit, in kWh?"
    return "a text the profile does not name"


def build_parser() -> argparse.ArgumentParser:
    """The `rig display` argument parser."""
    parser = _Parser(prog="rig display",
                     description="Read the meter's display through the bench camera (a "
                                 "snapshot URL or a webcam on the LCD, [meter] camera in the "
                                 "bench file).")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    read = sub.add_parser("read", help="print what the display shows now",
                          description="Print what the meter's display shows now: the text "
                                      "read from the LCD's segments through the bench camera "
                                      "(two frames that agree), what it is, and how sure the "
                                      "read is (the smallest margin of any segment, 0..1).",
                          epilog="Without --bench, an emulated bench starts for this read and "
                                 "stops after it; its meter starts afresh unless --state "
                                 "names a file keeping its memory.")
    read.add_argument("--bench", metavar="FILE",
                      help="bench TOML (default: the emulated bench, started for this read)")
    read.add_argument("--state", metavar="FILE",
                      help="emulated bench only: the file keeping its meter's memory (as "
                           "`rig meter --state`), so the display shows what earlier commands "
                           "left")
    read.add_argument("--json", action="store_true",
                      help="one JSON object: text, confidence, frames, what")
    return parser


def main(argv: list[str]) -> int:
    """`rig display read`; Ctrl-C or SIGTERM stops it in one line, exit 130."""
    from rig.commands.stopping import run_stoppable

    return run_stoppable("display", lambda: _read(argv))


def _read(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_bench_inputs(args.bench, state=args.state)
        config = load_bench(args.bench)
        if args.state and not config.bench.emulated:
            raise ConfigError(f"--state is for an emulated bench; {config.path} is a real one")
        profile = load_profile(config.meter.profile, Path(config.path).parent)
        layout = profile_layout(profile)
    except (ConfigError, ValueError, OSError) as exc:
        print(f"rig display: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    state = Path(args.state) if args.state else None
    try:
        with open_bench(config, state_path=state) as bench:
            endpoints = bench.emulator.endpoints if bench.emulator else None
            spec, corners, rotate = camera_of(bench.config, endpoints)
            with open_camera(spec) as camera:
                reading = DisplayReader(camera, layout, corners, rotate).read()
    except VendingKeyError as exc:  # the bench file's key reference: bad input
        print(f"rig display: {exc}", file=sys.stderr)
        return 2
    except (DisplayError, BenchError, ConfigError, OSError, ValueError) as exc:
        print(f"rig display: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    what = what_it_is(reading.text, profile)
    if args.json:
        print(json.dumps({"text": reading.text, "confidence": round(reading.confidence, 3),
                          "frames": reading.frames, "what": what}))
    else:
        shown = f'"{reading.text}"' if reading.text else "nothing"
        print(f"display shows {shown}, confidence {reading.confidence:.2f} "
              f"({reading.frames} frames agreed): {what}")
    return 0
