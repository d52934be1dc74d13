"""The emulated keypad injector: a line protocol on a pseudo-terminal.

The same protocol a real injector (a relay board behind a microcontroller pressing the
meter's keys) implements; see docs/CONTRACTS.md §3.4 and the README. A line is read by the
firmware's own parser (firmware/injector/protocol.py), so the emulated and the real injector
accept and refuse the same lines. Press and gap times are bench time, so a token typed at
--speed 200 takes 1/200 of its real 12 s.
"""

from __future__ import annotations

import logging
from collections import deque

from emulator.lines import LineBuffer
from emulator.model import BenchModel
from emulator.pty_port import PtyServer
from firmware.injector.protocol import LAST_SYMBOLS, parse, words

log = logging.getLogger("emulator.keypad")

MAX_LINE = 1024  # bytes: room for a TYPE of 48 tokens; a longer line is refused unread
BLANKS = " \t\r"  # stripped from the end of an answer


class KeypadInjectorServer(PtyServer):
    """Serves the injector protocol until `stop()`."""

    name = "keypad"

    def __init__(self, model: BenchModel, *, serial: str = "EMU0001", firmware: str = "1.0",
                 press_ms: float = 65.0, gap_ms: float = 500.0) -> None:
        super().__init__()
        self.model = model
        self.ident = f"STS-RIG,KEYPAD-INJECTOR,{serial},{firmware}"
        self.press_ms, self.gap_ms = press_ms, gap_ms
        self.keys: deque[str] = deque(maxlen=256)

    def _run(self) -> None:
        lines = LineBuffer(MAX_LINE)
        while not self._stop.is_set():
            data = self.port.read(0.2)
            for line in lines.feed(data) if data else ():
                if line.too_long:
                    self._reply(f"ERR line too long (more than {MAX_LINE} bytes), discarded")
                else:
                    self._answer(line.data)

    def _answer(self, raw: bytes) -> None:
        """Exactly one answer for a line that holds anything but blanks."""
        parts = words(raw)  # every byte outside printable ASCII named as \xNN
        if not parts:
            return
        try:
            reply = "OK " + self.handle(parts)
        except ValueError as exc:
            reply = f"ERR {exc}"
        except Exception as exc:  # the injector answers every line, whatever happened
            log.exception("keypad: %r failed", raw)
            reply = f"ERR internal error: {type(exc).__name__}"
        log.debug("keypad %r -> %r", raw, reply)
        self._reply(reply)

    def _reply(self, reply: str) -> None:
        self.port.write(reply.rstrip(BLANKS).encode("ascii", "backslashreplace") + b"\r\n")

    def handle(self, parts: list[str] | str) -> str:
        """One command (its words, or its text) -> the text after OK; ValueError -> ERR."""
        if isinstance(parts, str):
            parts = words(parts.encode("latin-1", "replace"))
        if not parts:
            raise ValueError("empty command")
        command = parse(parts, self.press_ms, self.gap_ms)
        cmd = command[0]
        if cmd == "*IDN?":
            return self.ident
        if cmd == "TIME?":
            return f"{self.model.clock.now():.6f}"
        if cmd == "LAST?":
            n = command[1]
            return "".join(list(self.keys)[-n:]) if n else ""
        if cmd == "PRESS":
            return f"{self._press(command[1], command[2]):.6f}"
        _, keys, press, gap = command
        times = []
        for i, key in enumerate(keys):
            if i:
                self.model.clock.sleep(gap / 1000.0)
            times.append(self._press(key, press))
        return f"{times[0]:.6f} {times[-1]:.6f}"

    def _press(self, key: str, press_ms: float) -> float:
        t = self.model.key_down(key)
        up = t + press_ms / 1000.0
        self.model.clock.sleep(press_ms / 1000.0)
        self.model.clock.sleep(up - self.model.clock.now())  # never released early
        # released at the press's end in bench time: a host that wakes up late (a loaded
        # machine, 200x) must not stretch the hold, which the meter and the scope time
        self.model.key_up(key, at=up)
        self.keys.append(LAST_SYMBOLS.get(key, key))
        return t
