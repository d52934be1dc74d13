"""A pseudo-terminal that stands in for a serial port.

The server keeps the master side; clients open the slave path with pyserial exactly as they
would open /dev/ttyUSB0. The server also holds the slave open, so the pty survives a client
closing and reopening it (as a USB serial adapter does).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import termios
import threading
import time
import tty

log = logging.getLogger("emulator.pty")

WRITE_GIVE_UP_S = 2.0  # nobody reads the pty: drop the rest rather than hang the device


class PtyPort:
    """Master side of a raw pty; `path` is what a client opens."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        attrs = termios.tcgetattr(self._slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self.path = os.ttyname(self._slave)
        os.set_blocking(self.master, False)
        self._deaf = False  # the last write was dropped: nobody reads

    def read(self, timeout: float) -> bytes:
        """Whatever arrived within `timeout` seconds (b"" if nothing)."""
        try:
            ready, _, _ = select.select([self.master], [], [], timeout)
        except (OSError, ValueError):
            return b""
        if not ready:
            return b""
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def write(self, data: bytes) -> bool:
        """Write everything; False when the pty stayed full for WRITE_GIVE_UP_S (no reader).
        Once a write was dropped, later ones are dropped at once while the pty stays full, so
        a client that never reads cannot slow the device down to one answer a time-out."""
        if self._deaf and not self._writable():
            return False
        self._deaf = False
        view = memoryview(data)
        stuck_since: float | None = None
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                n = 0
            except OSError as exc:
                log.debug("%s: write failed: %s", self.path, exc)
                return False
            if n:
                view = view[n:]
                stuck_since = None
                continue
            now = time.monotonic()
            stuck_since = stuck_since or now
            if now - stuck_since > WRITE_GIVE_UP_S:
                log.debug("%s: nobody reads, %d bytes dropped", self.path, len(view))
                self._deaf = True
                return False
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self.master], [], 0.05)
        return True

    def _writable(self) -> bool:
        try:
            return bool(select.select([], [self.master], [], 0)[1])
        except (OSError, ValueError):
            return False

    def discard_output(self) -> None:
        """Drop what was sent to the client but never read (a stale answer)."""
        with contextlib.suppress(termios.error, OSError):
            termios.tcflush(self._slave, termios.TCIFLUSH)

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class PtyServer:
    """A device served on its own pty by one thread: subclasses implement `_run`, which
    loops until `self._stop` is set."""

    name = "pty"

    def __init__(self) -> None:
        self.port = PtyPort()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._guarded_run, name=self.name, daemon=True)

    @property
    def path(self) -> str:
        return self.port.path

    def _run(self) -> None:  # pragma: no cover - subclasses serve
        raise TypeError(f"{type(self).__name__} must implement _run")

    def _guarded_run(self) -> None:
        """Serve; an unexpected error is logged and serving resumes (a device never dies
        of what a client sent)."""
        while not self._stop.is_set():
            try:
                self._run()
            except Exception:
                log.exception("%s server error; serving on", self.name)
                time.sleep(0.1)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.port.close()
