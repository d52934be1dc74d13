"""Ctrl-C and SIGTERM stop a `rig` command the same way for every command: one line
`rig <command>: stopped by ...` on stderr and exit status 130 (README), never a
KeyboardInterrupt traceback or a death by the signal.

SIGTERM is raised as KeyboardInterrupt("SIGTERM") while the command runs, so a bench the
command has open is closed by its `with` block on the way out (instruments left in their
safe state, an emulated bench stopped) whichever signal came.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rig.bench.stop_signals import catch_sigterm, restore_sigterm

STOPPED = 130


def run_stoppable(command: str, body: Callable[[], int]) -> int:
    """`body()`'s exit status, or STOPPED (saying so in one line) when Ctrl-C or SIGTERM
    stopped it. `command` is the name in the line: "bench", "meter"..."""
    previous = catch_sigterm()  # as rig run's session does (rig.bench.stop_signals)
    try:
        return body()
    except KeyboardInterrupt as exc:
        how = "SIGTERM" if str(exc) == "SIGTERM" else "Ctrl-C (SIGINT)"
        print(f"rig {command}: stopped by {how}", file=sys.stderr)
        return STOPPED
    finally:
        restore_sigterm(previous)
