"""The keypad injector's logic: the line protocol, key timing and the clock, board-free.

Runs unchanged on a Raspberry Pi Pico under MicroPython (main.py gives it the board's pins
and microsecond clock) and on a host under CPython (host.py gives it fake pins), so the
project's tests drive this very code through a pty. Kept to the MicroPython subset: no
dataclasses, no typing imports, plain f-strings (the rp2 port has them), plain exceptions.

Protocol (README, "Keypad injector protocol"): one command a line, ended by LF (CR
ignored); one answer a line, "OK ..." or "ERR ...", ended by CR LF.
"""

MAKER = "STS-RIG"
MODEL = "KEYPAD-INJECTOR"
FIRMWARE = "pico-1.0"
DEFAULT_PRESS_MS = 65
DEFAULT_GAP_MS = 500
MAX_MS = 10000
MAX_LINE = 256
HISTORY = 256
BUSY_WAIT_US = 2000
KEYS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "BS", "ENT")
TYPE_SYMBOLS = {"<": "BS", "#": "ENT"}
LAST_SYMBOLS = {"BS": "<", "ENT": "#"}
# how many arguments each command takes at most (after the command word)
MOST_ARGS = {"*IDN?": 0, "TIME?": 0, "LAST?": 1, "PRESS": 2, "TYPE": 3}


TOO_LONG = f"ERR line too long (more than {MAX_LINE} bytes), discarded\r\n".encode()


class ProtocolError(ValueError):
    """A command line the injector refuses; its text is the answer after ERR."""


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
        text = printable(raw).strip()
        if not text:
            return b""
        try:
            reply = "OK " + self.handle(text)
        except ProtocolError as exc:
            reply = "ERR " + str(exc)
        except Exception as exc:  # the injector answers every line, whatever happened
            self.release_all()
            reply = f"ERR internal error: {exc}"
        return reply.rstrip().encode("ascii", "replace") + b"\r\n"

    def handle(self, text: str) -> str:
        """One command -> the text after OK; ProtocolError -> ERR."""
        parts = text.split()
        cmd = parts[0].upper()
        most = MOST_ARGS.get(cmd)
        if most is None:
            raise ProtocolError(f"unknown command '{parts[0]}'")
        if len(parts) - 1 > most:
            raise ProtocolError(f"too many arguments for {parts[0]} ({len(parts) - 1})")
        if cmd == "*IDN?":
            return self.ident
        if cmd == "TIME?":
            return seconds(self.clock.now_us())
        if cmd == "LAST?":
            n = int(number(parts[1], "count")) if len(parts) > 1 else 32
            return "".join(self.history[-n:]) if n else ""
        if cmd == "PRESS":
            if len(parts) < 2:
                raise ProtocolError("PRESS needs a key: 0-9, BS or ENT")
            key = key_name(parts[1])
            press = number(parts[2], "press_ms") if len(parts) > 2 else self.press_ms
            return seconds(self.press(key, press))
        if len(parts) < 2:
            raise ProtocolError("TYPE needs keys (0-9, < for backspace, # for enter)")
        keys = [key_name(ch) for ch in parts[1]]  # every key checked before the first press
        press = number(parts[2], "press_ms") if len(parts) > 2 else self.press_ms
        gap = number(parts[3], "gap_ms") if len(parts) > 3 else self.gap_ms
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


def printable(raw: bytes) -> str:
    """The line as text, CR dropped, every other byte outside printable ASCII as \\xNN, so
    an ERR names the bytes received (MicroPython's decode is UTF-8 only and may refuse line
    noise, so no decode is used)."""
    out = []
    for b in raw:
        if b == 13:
            continue
        out.append(chr(b) if 32 <= b < 127 or b == 9 else f"\\x{b:02x}")
    return "".join(out)


def seconds(us: int) -> str:
    """Microseconds as seconds with six decimals, in integers: the RP2040's MicroPython
    floats are 32-bit and would lose the microseconds after a few seconds of uptime."""
    return f"{us // 1000000}.{us % 1000000:06d}"


def key_name(text: str) -> str:
    """A key of PRESS (0-9, BS, ENT) or of TYPE (0-9, <, #) -> its name."""
    name = TYPE_SYMBOLS.get(text, text.upper())
    if name in KEYS:
        return name
    raise ProtocolError(f"bad key '{text}' (keys: 0-9, BS, ENT; in TYPE: 0-9 < #)")


def number(text: str, what: str) -> float:
    """A millisecond or count argument, 0..MAX_MS."""
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(f"{what} must be a number, got '{text}'") from None
    if not 0 <= value <= MAX_MS:
        raise ProtocolError(f"{what} {value:g} is out of range 0..{MAX_MS}")
    return value
