"""`rig emulate`: serve the emulated bench (see emulator/bench.py)."""

from __future__ import annotations

from emulator.bench import main as _main


def main(argv: list[str]) -> int:
    return _main(argv)
