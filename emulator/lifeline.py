"""The emulator's lifeline to the process that started it: its stdin.

`rig emulate --exit-on-stdin-eof` (off by default, so `rig emulate` in a terminal is
unchanged) stops the emulated bench cleanly, as SIGTERM does, once stdin reaches end of file.
A parent that starts the emulator with a pipe on its stdin and never writes to it gets that
end of file when it closes the pipe or dies for any reason (even SIGKILL), so no emulator is
left serving ptys and ports for nobody.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger("emulator.lifeline")


def watch_stdin(stop: threading.Event) -> threading.Thread:
    """Set `stop` when stdin reaches end of file (or cannot be read); whatever is written to
    stdin before that is read and ignored."""

    def watch() -> None:
        try:
            fd = sys.stdin.fileno()
            while os.read(fd, 4096):
                pass
        except (OSError, ValueError) as exc:
            log.debug("stdin unreadable (%s): stopping", exc)
        log.debug("stdin closed: stopping")
        stop.set()

    thread = threading.Thread(target=watch, name="stdin-lifeline", daemon=True)
    thread.start()
    return thread
