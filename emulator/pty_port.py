"""A pseudo-terminal that stands in for a serial port.

The server keeps the master side; clients open the slave path with pyserial exactly as they
would open /dev/ttyUSB0. The server also holds the slave open, so the pty survives a client
closing and reopening it (as a USB serial adapter does).
"""

from __future__ import annotations

import contextlib
import os
import select
import termios
import threading
import tty


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

    def read(self, timeout: float) -> bytes:
        """Whatever arrived within `timeout` seconds (b"" if nothing)."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 0.05)
                continue
            view = view[n:]

    def discard_input(self) -> None:
        while self.read(0):
            pass

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
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    @property
    def path(self) -> str:
        return self.port.path

    def _run(self) -> None:  # pragma: no cover - subclasses serve
        raise TypeError(f"{type(self).__name__} must implement _run")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.port.close()
