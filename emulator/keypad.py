"""The emulated keypad injector: a line protocol on a pseudo-terminal.

The same protocol a real injector (a relay board behind a microcontroller pressing the
meter's keys) implements; see docs/CONTRACTS.md §3.4 and the README. Press and gap times are
bench time, so a token typed at --speed 200 takes 1/200 of its real 12 s.
"""

from __future__ import annotations

import logging
import re
from collections import deque

from emulator.lines import LineBuffer
from emulator.model import BenchModel
from emulator.pty_port import PtyServer

log = logging.getLogger("emulator.keypad")

KEY_NAMES = {"BS": "BS", "ENT": "ENT", "<": "BS", "#": "ENT"}
SYMBOL = {"BS": "<", "ENT": "#"}
MAX_LINE = 1024  # bytes: room for a TYPE of 48 tokens; a longer line is refused unread
BLANKS = " \t\r"  # what separates words; every other byte is part of a word


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
        text = raw.decode("latin-1")  # every byte a character; ERR names it as \xNN
        if not text.strip(BLANKS):
            return
        try:
            reply = "OK " + self.handle(text)
        except ValueError as exc:
            reply = f"ERR {exc}"
        except Exception as exc:  # the injector answers every line, whatever happened
            log.exception("keypad: %r failed", text)
            reply = f"ERR internal error: {type(exc).__name__}"
        log.debug("keypad %r -> %r", text, reply)
        self._reply(reply)

    def _reply(self, reply: str) -> None:
        self.port.write(reply.rstrip(BLANKS).encode("ascii", "backslashreplace") + b"\r\n")

    def handle(self, text: str) -> str:
        """One command line -> the text after OK; ValueError -> ERR."""
        parts = words(text)
        if not parts:
            raise ValueError("empty command")
        cmd = parts[0].upper()
        most = {"*IDN?": 1, "TIME?": 1, "LAST?": 2, "PRESS": 3, "TYPE": 4}.get(cmd)
        if most is not None and len(parts) > most:
            raise ValueError(f"too many arguments for {parts[0]} ({len(parts) - 1})")
        if cmd == "*IDN?":
            return self.ident
        if cmd == "TIME?":
            return f"{self.model.clock.now():.6f}"
        if cmd == "LAST?":
            n = int(_number(parts[1], "count")) if len(parts) > 1 else 32
            return "".join(list(self.keys)[-n:]) if n else ""
        if cmd == "PRESS":
            if len(parts) < 2:
                raise ValueError("PRESS needs a key: 0-9, BS or ENT")
            key = _key(parts[1])
            press = _number(parts[2], "press_ms") if len(parts) > 2 else self.press_ms
            return f"{self._press(key, press):.6f}"
        if cmd == "TYPE":
            if len(parts) < 2:
                raise ValueError("TYPE needs keys (0-9, < for backspace, # for enter)")
            keys = [_key(ch) for ch in parts[1]]
            press = _number(parts[2], "press_ms") if len(parts) > 2 else self.press_ms
            gap = _number(parts[3], "gap_ms") if len(parts) > 3 else self.gap_ms
            times = []
            for i, key in enumerate(keys):
                if i:
                    self.model.clock.sleep(gap / 1000.0)
                times.append(self._press(key, press))
            return f"{times[0]:.6f} {times[-1]:.6f}"
        raise ValueError(f"unknown command {parts[0]!r}")

    def _press(self, key: str, press_ms: float) -> float:
        t = self.model.key_down(key)
        self.model.clock.sleep(press_ms / 1000.0)
        self.model.key_up(key)
        self.keys.append(SYMBOL.get(key, key))
        return t


def words(text: str) -> list[str]:
    """The words of a line, split at blanks only: a control character is part of a word
    (and so of the command named in an ERR), never a separator."""
    return [w for w in re.split(f"[{re.escape(BLANKS)}]+", text) if w]


def _key(text: str) -> str:
    name = KEY_NAMES.get(text.upper(), text)
    if name in ("BS", "ENT") or (len(name) == 1 and name in "0123456789"):
        return name
    raise ValueError(f"bad key {text!r} (keys: 0-9, BS, ENT; in TYPE: 0-9 < #)")


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not 0 <= value <= 10_000:
        raise ValueError(f"{what} {value:g} is out of range 0..10000")
    return value
