"""The keypad injector: presses the meter's keys for the rig, over a serial line.

Speaks the injector line protocol (README, "Keypad injector protocol"): `PRESS`, `TYPE`,
`LAST?`, `TIME?`, `*IDN?`, each answered by one line `OK ...` or `ERR ...`. A token is checked
for its 20 digits before any key is pressed, so a mistyped token never half-reaches the meter.
Each command has a deadline for its whole answer line and a bound on its length, input left
over from an earlier command is dropped before a command is sent, and each answer is checked
to have the shape its command's answer has, so one command's answer is never taken for
another's.
"""

from __future__ import annotations

import logging
import math
import re
import termios
import time

import serial

from drivers.serial_line import drop_unread
from sts.digits import TokenTextError, token_text

log = logging.getLogger("drivers.keypad")

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_KEYS = re.compile(r"[0-9<#]*")
_LINE_ERRORS = (serial.SerialException, OSError, termios.error)
ANSWER_MAX = 256  # the longest answer is *IDN? or LAST? 32 keys: far below this
POLL_S = 0.05
# what each command's answer holds after `OK`, as the protocol table says
ANSWER_SHAPES = {"PRESS": "OK <t>", "TYPE": "OK <t_first> <t_last>", "TIME?": "OK <t>",
                 "LAST?": "OK <keys>", "*IDN?": "OK <maker>,<model>,<serial>,<firmware>"}


def _shown(received: bytes) -> str:
    if len(received) <= 120:
        return repr(received)
    return f"{received[:80]!r} ... {received[-40:]!r}"


class KeypadError(Exception):
    """The injector refused a command, did not answer, or a token is malformed; `step` is the
    command (empty for a refusal before anything was sent), `received` the bytes that came."""

    def __init__(self, message: str, *, step: str = "", received: bytes = b"") -> None:
        super().__init__(message)
        self.step = step
        self.received = received


class AnswerError(KeypadError):
    """An answer line that is not what its command's answer must be."""


def parse_answer(step: str, raw: bytes) -> str:
    """One answer line `OK ...` -> the text after OK; `ERR ...` and anything else raise."""
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise AnswerError(f"{step}: the answer has a non-ASCII byte 0x{raw[exc.start]:02X} "
                          f"({_shown(raw)})", step=step, received=raw) from None
    if text.startswith("ERR"):
        raise KeypadError(f"{step}: refused: {text[3:].strip()}", step=step, received=raw)
    if text != "OK" and not text.startswith("OK "):
        raise AnswerError(f"{step}: answer {text!r} is neither OK nor ERR", step=step,
                          received=raw)
    return text[2:].strip()


def _wrong(step: str, text: str) -> AnswerError:
    return AnswerError(f"{step}: answer 'OK {text}' is not '{ANSWER_SHAPES[step]}' (an answer "
                       "to another command?)", step=step, received=f"OK {text}".encode())


def parse_times(step: str, text: str, count: int) -> tuple[float, ...]:
    """`count` finite times in seconds, as PRESS (1), TYPE (2) and TIME? (1) answer."""
    fields = text.split()
    if len(fields) != count or not all(_NUMBER.fullmatch(f) for f in fields):
        raise _wrong(step, text)
    times = tuple(float(f) for f in fields)
    if not all(math.isfinite(t) and t >= 0 for t in times) or list(times) != sorted(times):
        raise _wrong(step, text)
    return times


def parse_keys(step: str, text: str) -> str:
    """The keys LAST? reports: 0-9, < and # only."""
    if not _KEYS.fullmatch(text):
        raise _wrong(step, text)
    return text


def parse_idn(step: str, text: str) -> str:
    """`maker,model,serial,firmware`, the IEEE 488.2 identification form."""
    fields = text.split(",")
    if len(fields) != 4 or not fields[0].strip() or not fields[1].strip():
        raise _wrong(step, text)
    return text


class KeypadInjector:
    """A keypad injector on a serial port (a device path or a pyserial URL)."""

    def __init__(self, port: str, *, press_ms: float = 65, gap_ms: float = 500,
                 timeout: float = 5.0, baudrate: int = 115200) -> None:
        self.port = port
        self.press_ms = press_ms
        self.gap_ms = gap_ms
        self.timeout = timeout
        try:
            self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=POLL_S)
        except (*_LINE_ERRORS, ValueError) as exc:
            raise KeypadError(f"keypad injector: cannot open {port}: {exc}",
                              step="open") from None
        self.idn = ""

    def _fail(self, kind: type[KeypadError], step: str, message: str,
              received: bytes = b"") -> KeypadError:
        got = f"received {len(received)} bytes: {_shown(received)}" if received else \
            "received nothing"
        return kind(f"keypad injector {self.port}: {step}: {message} ({got})", step=step,
                    received=received)

    def _read_line(self, step: str, timeout: float) -> bytes:
        """One answer line, whole within `timeout` and at most ANSWER_MAX bytes."""
        buf = b""
        end = time.monotonic() + timeout
        while True:
            try:
                room = ANSWER_MAX + 1 - len(buf)
                chunk = self._ser.read(max(1, min(self._ser.in_waiting, room)))
            except _LINE_ERRORS as exc:
                raise self._fail(KeypadError, step, f"the line went away ({exc})", buf) \
                    from None
            buf += chunk
            newline = buf.find(b"\n")
            if newline >= 0:
                return buf[:newline + 1]
            if len(buf) > ANSWER_MAX:
                raise self._fail(AnswerError, step,
                                 f"more than {ANSWER_MAX} bytes without an end of line", buf)
            if time.monotonic() > end:
                raise self._fail(KeypadError, step,
                                 f"no answer line within {timeout:.1f} s", buf)

    def _ask(self, line: str, timeout: float | None = None) -> str:
        step = line.split()[0]
        limit = timeout or self.timeout
        log.debug("keypad <- %s", line)
        try:
            drop_unread(self._ser)  # a late answer to an earlier command is stale
            self._ser.write(line.encode("ascii") + b"\n")
            self._ser.flush()
        except _LINE_ERRORS as exc:
            raise self._fail(KeypadError, step, f"the line went away ({exc})") from None
        raw = self._read_line(step, limit)
        log.debug("keypad -> %r", raw)
        try:
            return parse_answer(step, raw)
        except KeypadError as exc:
            raise self._fail(type(exc), step, str(exc).removeprefix(f"{step}: "), raw) \
                from None

    def _checked(self, exc: KeypadError) -> KeypadError:
        return self._fail(type(exc), exc.step, str(exc).removeprefix(f"{exc.step}: "),
                          exc.received)

    def identify(self) -> str:
        try:
            self.idn = parse_idn("*IDN?", self._ask("*IDN?"))
        except AnswerError as exc:
            raise self._checked(exc) from None
        return self.idn

    def time(self) -> float:
        """The injector's clock (the bench clock on the emulated bench), in seconds."""
        try:
            return parse_times("TIME?", self._ask("TIME?"), 1)[0]
        except AnswerError as exc:
            raise self._checked(exc) from None

    def press(self, key: str, press_ms: float | None = None) -> float:
        """Press one key (0-9, BS, ENT); returns the time the press started."""
        if key not in ("BS", "ENT") and not (len(key) == 1 and key.isdigit()):
            raise KeypadError(f"key {key!r} is not one of 0-9, BS, ENT")
        press = self.press_ms if press_ms is None else press_ms
        answer = self._ask(f"PRESS {key} {press:g}", self.timeout + press / 1000)
        try:
            return parse_times("PRESS", answer, 1)[0]
        except AnswerError as exc:
            raise self._checked(exc) from None

    def type_keys(self, keys: str, press_ms: float | None = None,
                  gap_ms: float | None = None) -> tuple[float, float]:
        """Press a sequence (0-9, '<' backspace, '#' enter); returns first and last press."""
        if not keys or any(ch not in "0123456789<#" for ch in keys):
            raise KeypadError(f"keys {keys!r}: use 0-9, < (backspace) and # (enter)")
        press = self.press_ms if press_ms is None else press_ms
        gap = self.gap_ms if gap_ms is None else gap_ms
        duration = len(keys) * (press + gap) / 1000.0
        answer = self._ask(f"TYPE {keys} {press:g} {gap:g}", self.timeout + duration)
        try:
            first, last = parse_times("TYPE", answer, 2)
        except AnswerError as exc:
            raise self._checked(exc) from None
        return first, last

    def type_token(self, token: str, press_ms: float | None = None,
                   gap_ms: float | None = None, enter: bool = True) -> tuple[float, float]:
        """Type a 20-digit token (4-4-4-4-4 grouping allowed) and, by default, ENTER."""
        try:
            digits = token_text(str(token))
        except TokenTextError as exc:  # the one token grammar (sts.digits)
            what = "has characters other than digits" if exc.char is not None else "is refused"
            raise KeypadError(f"token {token!r} {what}: {exc}") from None
        return self.type_keys(digits + ("#" if enter else ""), press_ms, gap_ms)

    def last(self, n: int = 32) -> str:
        try:
            return parse_keys("LAST?", self._ask(f"LAST? {n}"))
        except AnswerError as exc:
            raise self._checked(exc) from None

    def close(self) -> None:
        if self._ser.is_open:
            try:
                self._ser.close()
            except _LINE_ERRORS as exc:
                log.debug("keypad %s: close: %s", self.port, exc)

    def __enter__(self) -> KeypadInjector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
