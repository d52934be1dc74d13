"""A scripted device on the far end of a real pty, for byte-level driver tests.

For each (expected, reply) step it reads exactly `expected` and writes `reply`; the first
mismatch (and, if asked, any byte sent after the script) is kept and fails `finish()`. The
driver under test opens `path` with pyserial, exactly as it opens a real device.
"""

from __future__ import annotations

import os
import select
import threading
import tty


class ScriptedSerialPeer:
    """The device end of a pty, playing a script of (expected, reply) byte pairs."""

    def __init__(self, script: list[tuple[bytes, bytes]], *, strict_end: bool = True) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave
        self.script = script
        self.strict_end = strict_end
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _read_exactly(self, n: int, timeout: float = 5.0) -> bytes:
        data = b""
        while len(data) < n:
            ready, _, _ = select.select([self.master], [], [], timeout)
            if not ready:
                break
            data += os.read(self.master, n - len(data))
        return data

    def _run(self) -> None:
        for i, (expected, reply) in enumerate(self.script):
            got = self._read_exactly(len(expected))
            if got != expected:
                self.error = f"step {i}: expected {expected!r}, got {got!r}"
                return
            if reply:
                os.write(self.master, reply)
        if self.strict_end:
            extra, _, _ = select.select([self.master], [], [], 0.3)
            if extra:
                self.error = f"unexpected bytes after the script: {os.read(self.master, 256)!r}"

    def finish(self) -> None:
        self.thread.join(timeout=10)
        os.close(self.master)
        os.close(self._slave)
        assert self.error is None, self.error
