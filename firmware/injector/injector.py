"""The keypad injector's logic: the line protocol, key timing and the clock, board-free.

Runs unchanged on a Raspberry Pi Pico under MicroPython (main.py gives it the board's pins
and microsecond clock) and on a host under CPython (host.py gives it fake pins), so the
project's tests drive this very code through a pty. Kept to the MicroPython subset: no
dataclasses, no typing imports, plain f-strings (the rp2 port has them), plain exceptions.

Protocol (README, "Keypad injector protocol"): one command a line, ended by LF (CR
ignored); one answer a line, "OK ..." or "ERR ...", ended by CR LF. Its grammar is
protocol.py, which the emulated injector uses too: copy it to the board with this file.
"""

from protocol import (  # noqa: F401 -- KEYS and the helpers are this module's API too
    KEYS,
    LAST_SYMBOLS,
    MAX_MS,
    MOST_ARGS,
    TYPE_SYMBOLS,
    ProtocolError,
    key_name,
    number,
    parse,
    printable,
    words,
)

MAKER = "STS-RIG"
MODEL = "KEYPAD-INJECTOR"
FIRMWARE = "pico-1.0"
DEFAULT_PRESS_MS = 65
DEFAULT_GAP_MS = 500
MAX_LINE = 256
HISTORY = 256
BUSY_WAIT_US = 2000


TOO_LONG = f"ERR line too long (more than {MAX_LINE} bytes), discarded\r\n".encode()


class Clock:
    """Seconds since boot from a wrapping microsecond counter (MicroPython's ticks_us wraps
    after 2**30 us, about 18 minutes): every reading folds the ticks elapsed since the last
    one into a running total, so the clock stays monotonic as long as it is read at least
    once every half period (the main loop reads it every poll)."""

    def __init__(self, ticks_us, ticks_diff, sleep_us=None) -> None:
        self._ticks_us = ticks_us
        self._ticks_diff = ticks_diff
        self._sleep_us = sleep_us
        self._last = ticks_us()
        self._us = 0

    def now_us(self) -> int:
        now = self._ticks_us()
        self._us += self._ticks_diff(now, self._last)
        self._last = now
        return self._us

    def now(self) -> str:
        return seconds(self.now_us())

    def wait_us(self, us: int) -> None:
        """Hold for `us` microseconds of this clock: sleep for all but the last 2 ms, then
        busy-wait, so a press is timed to the microsecond clock, not to a scheduler tick."""
        end = self.now_us() + us
        if self._sleep_us is not None and us > BUSY_WAIT_US:
            self._sleep_us(us - BUSY_WAIT_US)
        while self.now_us() < end:
            pass


class Injector:
    """Presses keys through `outputs` (an object with set(key, on) and set_sync(on)) and
    answers protocol lines. `clock` is a Clock, or anything with now_us() and wait_us()."""

    def __init__(self, outputs, clock, serial: str = "0001") -> None:
        self.outputs = outputs
        self.clock = clock
        self.ident = f"{MAKER},{MODEL},{serial},{FIRMWARE}"
        self.press_ms = DEFAULT_PRESS_MS
        self.gap_ms = DEFAULT_GAP_MS
        self.history = []
        self.release_all()

    def release_all(self) -> None:
        """Every key up and the sync line low (at boot, and after any failure)."""
        for key in KEYS:
            self.outputs.set(key, False)
        self.outputs.set_sync(False)

    def answer(self, raw: bytes) -> bytes:
        """One received line (without its LF) -> the answer bytes, CR LF included; b"" for
        an empty line (nothing is answered)."""
        parts = words(raw)
        if not parts:
            return b""
        try:
            reply = "OK " + self.handle(parts)
        except ProtocolError as exc:
            reply = "ERR " + str(exc)
        except Exception as exc:  # the injector answers every line, whatever happened
            self.release_all()
            reply = f"ERR internal error: {exc}"
        return reply.rstrip().encode("ascii", "replace") + b"\r\n"

    def handle(self, parts) -> str:
        """One command (its words, or its text) -> the text after OK; ProtocolError -> ERR."""
        if isinstance(parts, str):
            parts = parts.split()
        command = parse(parts, self.press_ms, self.gap_ms)
        cmd = command[0]
        if cmd == "*IDN?":
            return self.ident
        if cmd == "TIME?":
            return seconds(self.clock.now_us())
        if cmd == "LAST?":
            n = command[1]
            return "".join(self.history[-n:]) if n else ""
        if cmd == "PRESS":
            return seconds(self.press(command[1], command[2]))
        _, keys, press, gap = command
        first = last = 0
        for i, key in enumerate(keys):
            if i:
                self.clock.wait_us(int(gap * 1000))
            last = self.press(key, press)
            if not i:
                first = last
        return seconds(first) + " " + seconds(last)

    def press(self, key: str, press_ms: float) -> int:
        """Close one key's contact for press_ms (ENTER raises the sync line with it);
        returns the time the contact closed, microseconds since boot."""
        sync = key == "ENT"
        t0 = self.clock.now_us()
        self.outputs.set(key, True)
        if sync:
            self.outputs.set_sync(True)
        try:
            self.clock.wait_us(int(press_ms * 1000))
        finally:
            if sync:
                self.outputs.set_sync(False)
            self.outputs.set(key, False)
        self.history.append(LAST_SYMBOLS.get(key, key))
        if len(self.history) > HISTORY:
            del self.history[0]
        return t0


class LineReader:
    """Bytes in, whole lines out; a line longer than MAX_LINE without its LF is dropped with
    one ERR answer (line noise must not grow the buffer)."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list:
        """-> a list of ('line', bytes) and ('overflow', b"") events, in order."""
        self.buf += data
        events = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            events.append(("line", line))
        if len(self.buf) > MAX_LINE:
            self.buf = b""
            events.append(("overflow", b""))
        return events


def serve_bytes(injector: Injector, reader: LineReader, data: bytes) -> bytes:
    """What the injector writes back for `data` received (the main loop's one step)."""
    out = b""
    for kind, line in reader.feed(data):
        out += injector.answer(line) if kind == "line" else TOO_LONG
    return out


def seconds(us: int) -> str:
    """Microseconds as seconds with six decimals, in integers: the RP2040's MicroPython
    floats are 32-bit and would lose the microseconds after a few seconds of uptime."""
    return f"{us // 1000000}.{us % 1000000:06d}"
