"""Bounded line framing for the emulated line protocols (keypad injector, SCPI).

A client may send anything, so the line a server holds is bounded: a line that grows past
the bound is reported once as too long and everything up to its newline is thrown away,
never buffered and never served as a command of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """One line received: its bytes without the newline, or `too_long` (bytes dropped)."""

    data: bytes = b""
    too_long: bool = False


class LineBuffer:
    """Splits a byte stream into lines ended by `\\n`; a line longer than `limit` bytes comes
    out once as `Line(too_long=True)`, as soon as it is known to be too long."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buf = bytearray()
        self._discarding = False

    @property
    def pending(self) -> int:
        """Bytes held of a line not yet ended (at most `limit`)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Line]:
        out: list[Line] = []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            if not self._discarding:
                if len(self._buf) + len(piece) > self.limit:
                    out.append(Line(too_long=True))
                    self._buf.clear()
                    self._discarding = True
                else:
                    self._buf += piece
            if end < 0:
                break
            if not self._discarding:
                out.append(Line(bytes(self._buf)))
            self._buf.clear()
            self._discarding = False
            start = end + 1
        return out
