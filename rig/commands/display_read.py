"""`rig display read`: what the meter's display shows now, through the bench camera."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from drivers.segment_reader import DisplayError, DisplayReader, open_camera
from meterprofile import load_profile
from meterprofile.lcd import profile_layout
from rig.bench.config import ConfigError, load_bench
from rig.bench.devices import BenchError, open_bench


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


def main(argv: list[str]) -> int:
    parser = _Parser(prog="rig display", description="Read the meter's display by camera.")
    sub = parser.add_subparsers(dest="action", required=True)
    read = sub.add_parser("read", help="print what the display shows now")
    read.add_argument("--bench", help="bench TOML (default: the emulated bench)")
    read.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)
    try:
        config = load_bench(args.bench)
        layout = profile_layout(load_profile(config.meter.profile))
        with open_bench(config) as bench:
            endpoints = bench.emulator.endpoints if bench.emulator else None
            spec, corners, rotate = camera_of(bench.config, endpoints)
            with open_camera(spec) as camera:
                reading = DisplayReader(camera, layout, corners, rotate).read()
    except (DisplayError, BenchError, ConfigError, OSError, ValueError) as exc:
        print(f"rig display: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"text": reading.text, "confidence": round(reading.confidence, 3),
                          "frames": reading.frames}))
    else:
        print(f"{reading.text or '(blank)'}  (confidence {reading.confidence:.2f}, "
              f"{reading.frames} frames)")
    return 0
