"""How a run is stopped by a signal: SIGTERM is a Ctrl-C, and neither cuts the bench's way
back to its safe state short.

A run stopped by SIGTERM (a CI job cancelled, `kill`) must put the bench back exactly as a
Ctrl-C does, so the emulator never outlives the run and no instrument is left driving the
meter; a second signal during that teardown is said, not obeyed, until the bench is safe.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["catch_sigterm", "deferred_signals", "restore_sigterm"]


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def catch_sigterm() -> Any:
    """From now on SIGTERM raises KeyboardInterrupt, as Ctrl-C does; returns the handler it
    replaced (None off the main thread, where signals cannot be caught)."""
    if not _main_thread():
        return None

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    return signal.signal(signal.SIGTERM, stop)


def restore_sigterm(previous: Any) -> None:
    """Put back the SIGTERM handler `catch_sigterm` replaced."""
    if previous is not None and _main_thread():
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (the bench's safe state must not be
    cut short by a second Ctrl-C); each one that came meanwhile is said on stderr."""
    if not _main_thread():
        yield
        return

    def later(signum: int, frame: Any) -> None:
        sys.stderr.write(f"rig: {signal.Signals(signum).name} received while the bench is put "
                         "in its safe state; stopping as soon as it is\n")

    previous = {sig: signal.signal(sig, later) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is later:  # a handler restored meanwhile stays
                signal.signal(sig, handler)
