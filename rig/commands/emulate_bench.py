"""`rig emulate`: serve the emulated bench (see emulator/emulated_bench.py).

It follows the convention of every `rig` command (rig/cli.py): a bad option or an unknown
fault is one line `rig emulate: <what was wrong>` on stderr and exit status 2.
"""

from __future__ import annotations

from emulator.emulated_bench import main as _main


def main(argv: list[str]) -> int:
    """Serve until stopped (SIGTERM or Ctrl-C); the exit status of the emulator."""
    return _main(argv)
