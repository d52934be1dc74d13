"""Hostile devices for the driver tests: the far end of a real pty or a real TCP socket on
127.0.0.1, driven by a thread that misbehaves as a broken or hostile device would (streams
bytes without a terminator, answers late, answers for another address, hangs up mid-answer,
sends non-ASCII). The driver under test opens the pty's slave path with pyserial, or the
socket with pyvisa-py, exactly as it opens a real device."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
import tty
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from drivers.iec62056 import bcc, data_block

ETX = b"\x03"
IDENT = b"/EMu5STS-EMU-1.0.0\r\n"
P0 = b"\x01P0\x02(47123456783)\x03" + bytes([bcc(b"P0\x02(47123456783)\x03")])


class _Device(ABC):
    """What a hostile behaviour can do with its end of the wire."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.late_sent = threading.Event()  # set by a behaviour once its late bytes are out
        self.error: BaseException | None = None

    @abstractmethod
    def _recv(self, timeout: float) -> bytes:
        """Whatever the driver sent within `timeout` (b"" if nothing)."""

    @abstractmethod
    def _send(self, data: bytes) -> None:
        """Bytes to the driver."""

    @abstractmethod
    def hang_up(self) -> None:
        """Close the device's end of the wire."""

    # shared
    def read_until(self, end: bytes, timeout: float = 5.0) -> bytes:
        """Bytes up to and including `end`; AssertionError if it does not come."""
        data = self._gather(lambda d: end in d, timeout, f"no {end!r} from the driver")
        i = data.index(end) + len(end)
        self._pending = data[i:]
        return data[:i]

    _pending = b""

    def _gather(self, done: Callable[[bytes], bool], timeout: float, failure: str) -> bytes:
        """The pending bytes plus what the driver sends until `done(bytes)`; AssertionError
        (`failure`) if the time runs out or the test ends first. What is already on the wire
        then is still read: a loaded host can wake this thread after the driver's last write
        (B0 at close) and after the test has already set `stop`."""
        data = self._pending
        deadline = time.monotonic() + timeout
        while not done(data):
            left = deadline - time.monotonic()
            if left <= 0 or self.stop.is_set():
                with contextlib.suppress(OSError, AssertionError):
                    data += self._recv(0)
                assert done(data), f"{failure}: {data!r}"
                break
            data += self._recv(min(left, 0.05))
        return data

    def read_command(self) -> bytes:
        """An IEC 62056-21 command: SOH ... ETX BCC."""
        return self.read_until(ETX) + self.read_exactly(1)

    def read_exactly(self, n: int, timeout: float = 5.0) -> bytes:
        data = self._gather(lambda d: len(d) >= n, timeout, f"fewer than {n} bytes")
        data, self._pending = data[:n], data[n:]
        return data

    def write(self, data: bytes) -> None:
        self._send(data)

    def stream(self, chunk: bytes, interval: float, limit_s: float = 4.0) -> None:
        """Send `chunk` every `interval` seconds until the test ends (or `limit_s`)."""
        end = time.monotonic() + limit_s
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                self._send(chunk)
            except OSError:
                return  # the driver closed its end
            if interval:
                self.stop.wait(interval)

    def sign_on(self, mode: str = "1") -> None:
        """Play a meter through sign-on (and, in mode 1, the password exchange)."""
        assert self.read_until(b"\r\n") == b"/?!\r\n"
        self.write(IDENT)
        assert self.read_until(b"\r\n") == b"\x06" + f"05{mode}".encode() + b"\r\n"
        if mode == "1":
            self.write(P0)
            self.read_command()  # P1 (password)
            self.write(b"\x06")


class HostilePty(_Device):
    """The device end of a pty; `path` is the slave the driver opens."""

    def __init__(self, behave: Callable[[HostilePty], Any]) -> None:
        super().__init__()
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._open = True
        self._thread = threading.Thread(target=self._run, args=(behave,), daemon=True)
        self._thread.start()

    def _run(self, behave: Callable[[HostilePty], Any]) -> None:
        try:
            behave(self)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def _recv(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        return os.read(self.master, 4096) if ready else b""

    def _send(self, data: bytes) -> None:
        while data and not self.stop.is_set():
            _, ready, _ = select.select([], [self.master], [], 0.05)
            if ready:
                data = data[os.write(self.master, data):]

    def hang_up(self) -> None:
        """Close the device end: the driver's next read or write on the slave fails (EIO)."""
        if self._open:
            self._open = False
            os.close(self.master)

    def finish(self) -> None:
        self.stop.set()
        self._thread.join(timeout=10)
        self.hang_up()
        os.close(self._slave)
        if self.error is not None:
            raise self.error

    def __enter__(self) -> HostilePty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


class HostileScpi(_Device):
    """A TCP instrument on 127.0.0.1; `resource` is its pyvisa-py address. Lines from the
    driver are read with `read_line()` (text, without the line end)."""

    def __init__(self, behave: Callable[[HostileScpi], Any]) -> None:
        super().__init__()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.resource = f"TCPIP::127.0.0.1::{self.server.getsockname()[1]}::SOCKET"
        self.conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, args=(behave,), daemon=True)
        self._thread.start()

    def _run(self, behave: Callable[[HostileScpi], Any]) -> None:
        try:
            self.server.settimeout(5)
            self.conn, _ = self.server.accept()
            behave(self)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def _recv(self, timeout: float) -> bytes:
        assert self.conn is not None
        ready, _, _ = select.select([self.conn], [], [], timeout)
        if not ready:
            return b""
        data = self.conn.recv(4096)
        assert data, f"the driver hung up; pending {self._pending!r}"
        return data

    def _send(self, data: bytes) -> None:
        assert self.conn is not None
        while data and not self.stop.is_set():  # never blocked by a driver that stops reading
            _, ready, _ = select.select([], [self.conn], [], 0.05)
            if ready:
                data = data[self.conn.send(data):]

    def read_line(self) -> str:
        return self.read_until(b"\n").decode().rstrip("\n")

    def answer_idn(self, idn: str = "ACME,DMM,1,1.0") -> None:
        assert self.read_line() == "*IDN?"
        self.write(idn.encode() + b"\n")

    def hang_up(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def finish(self) -> None:
        self.stop.set()
        self._thread.join(timeout=10)
        self.hang_up()
        self.server.close()
        if self.error is not None:
            raise self.error

    def __enter__(self) -> HostileScpi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


def frame(body: bytes) -> bytes:
    """A data message `STX body ETX BCC`."""
    return data_block(body)
