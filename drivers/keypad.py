"""The keypad injector: presses the meter's keys for the rig, over a serial line.

Speaks the injector line protocol (README, "Keypad injector protocol"): `PRESS`, `TYPE`,
`LAST?`, `TIME?`, `*IDN?`, each answered `OK ...` or `ERR ...`. A token is checked for its
20 digits before any key is pressed, so a mistyped token never half-reaches the meter.
"""

from __future__ import annotations

import logging
import re

import serial

log = logging.getLogger("drivers.keypad")

_SEPARATORS = re.compile(r"[\s-]")


class KeypadError(Exception):
    """The injector refused a command, did not answer, or a token is malformed."""


class KeypadInjector:
    """A keypad injector on a serial port (a device path or a pyserial URL)."""

    def __init__(self, port: str, *, press_ms: float = 65, gap_ms: float = 500,
                 timeout: float = 5.0, baudrate: int = 115200) -> None:
        self.port = port
        self.press_ms = press_ms
        self.gap_ms = gap_ms
        self.timeout = timeout
        try:
            self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=timeout)
        except (serial.SerialException, ValueError) as exc:
            raise KeypadError(f"keypad injector: cannot open {port}: {exc}") from None
        self.idn = ""

    def _ask(self, line: str, timeout: float | None = None) -> str:
        self._ser.timeout = timeout or self.timeout
        log.debug("keypad <- %s", line)
        self._ser.write(line.encode("ascii") + b"\n")
        answer = self._ser.readline()
        log.debug("keypad -> %r", answer)
        if not answer.endswith(b"\n"):
            raise KeypadError(f"keypad injector on {self.port} did not answer {line.split()[0]} "
                              f"(received {answer!r})")
        text = answer.decode("ascii", "replace").strip()
        if text.startswith("ERR"):
            raise KeypadError(f"keypad injector refused {line!r}: {text[3:].strip()}")
        if not text.startswith("OK"):
            raise KeypadError(f"keypad injector answered {text!r} to {line!r}")
        return text[2:].strip()

    def identify(self) -> str:
        self.idn = self._ask("*IDN?")
        return self.idn

    def time(self) -> float:
        """The injector's clock (the bench clock on the emulated bench), in seconds."""
        return float(self._ask("TIME?"))

    def press(self, key: str, press_ms: float | None = None) -> float:
        """Press one key (0-9, BS, ENT); returns the time the press started."""
        if key not in ("BS", "ENT") and not (len(key) == 1 and key.isdigit()):
            raise KeypadError(f"key {key!r} is not one of 0-9, BS, ENT")
        press = self.press_ms if press_ms is None else press_ms
        return float(self._ask(f"PRESS {key} {press:g}", self.timeout + press / 1000))

    def type_keys(self, keys: str, press_ms: float | None = None,
                  gap_ms: float | None = None) -> tuple[float, float]:
        """Press a sequence (0-9, '<' backspace, '#' enter); returns first and last press."""
        if not keys or any(ch not in "0123456789<#" for ch in keys):
            raise KeypadError(f"keys {keys!r}: use 0-9, < (backspace) and # (enter)")
        press = self.press_ms if press_ms is None else press_ms
        gap = self.gap_ms if gap_ms is None else gap_ms
        duration = len(keys) * (press + gap) / 1000.0
        first, last = self._ask(f"TYPE {keys} {press:g} {gap:g}", self.timeout + duration).split()
        return float(first), float(last)

    def type_token(self, token: str, press_ms: float | None = None,
                   gap_ms: float | None = None, enter: bool = True) -> tuple[float, float]:
        """Type a 20-digit token (4-4-4-4-4 grouping allowed) and, by default, ENTER."""
        digits = _SEPARATORS.sub("", str(token))
        if not digits.isdigit():
            raise KeypadError(f"token {token!r} has characters other than digits")
        if len(digits) != 20:
            raise KeypadError(f"token {token!r} has {len(digits)} digits, an STS token has 20")
        return self.type_keys(digits + ("#" if enter else ""), press_ms, gap_ms)

    def last(self, n: int = 32) -> str:
        return self._ask(f"LAST? {n}")

    def close(self) -> None:
        if self._ser.is_open:
            self._ser.close()

    def __enter__(self) -> KeypadInjector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
