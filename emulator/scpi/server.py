"""A small SCPI-over-TCP server: line framing, long/short header forms, the error queue.

Each instrument is a `ScpiDevice` with a table of commands written in SCPI's mixed-case
notation, optional nodes in brackets (`[SOURce:]VOLTage[:LEVel]`: `SOUR:VOLT`,
`source:voltage:level` and `VOLT` all match). An unknown header queues -113 and answers
nothing, as a real instrument does; the client then finds the complaint with SYST:ERR?, and
the device counts it (`undefined`). The IEEE 488.2 common commands and status registers are
built in; a model says how it prints its error queue and its numbers (nr2, nr3,
definite_block for IEEE 488.2 blocks). A subclass declaring MODEL registers itself
(emulator/scpi/registry.py). A server serves at most MAX_CONNECTIONS clients at once.

What one line may cost is bounded, as an instrument's input buffer and output queue are: a
line longer than MAX_LINE bytes is discarded to its newline, a line runs its first
MAX_COMMANDS commands only, and its answer stops before it would pass MAX_ANSWER bytes; each
of these queues -223 "Too much data" instead of being served.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import socket
import threading
from collections import Counter, deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from emulator.lines import Line, LineBuffer

log = logging.getLogger("emulator.scpi")

QUEUE_DEPTH = 32
MAX_LINE = 4096           # bytes of one program message
MAX_COMMANDS = 64         # commands of one program message that are run
MAX_ANSWER = 1 << 20      # bytes of the answer to one program message (~ten 10k waveforms)
MAX_CONNECTIONS = 8       # clients served at once (a LAN instrument's socket limit)
Handler = Callable[[list[str]], "str | None"]


class ScpiError(Exception):
    """A command the instrument refuses: `code` and `message` go to the error queue."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code},\"{message}\"")
        self.code = code
        self.message = message


#: SCPI-99 Vol. 2 ch. 21 (and IEEE 488.2 11.5.1): the standard texts of the codes used here
STANDARD_TEXTS = {
    -100: "Command error", -101: "Invalid character", -102: "Syntax error",
    -103: "Invalid separator", -104: "Data type error", -108: "Parameter not allowed",
    -109: "Missing parameter", -113: "Undefined header", -200: "Execution error",
    -220: "Parameter error", -221: "Settings conflict", -222: "Data out of range",
    -223: "Too much data", -224: "Illegal parameter value", -230: "Data corrupt or stale",
    -300: "Device-specific error", -350: "Queue overflow", -400: "Query error",
    -410: "Query INTERRUPTED", -420: "Query UNTERMINATED",
}


def _forms(mnemonic: str) -> tuple[str, str]:
    short = "".join(ch for ch in mnemonic if ch.isupper() or ch.isdigit() or ch in "*?")
    return short.upper(), mnemonic.upper()


def _variants(pattern: str) -> list[str]:
    """Every header a pattern with optional nodes stands for: `[SOURce:]VOLTage[:LEVel]`
    is SOURce:VOLTage, SOURce:VOLTage:LEVel, VOLTage and VOLTage:LEVel."""
    match = re.search(r"\[([^\[\]]+)\]", pattern)
    if match is None:
        return [pattern]
    before, after = pattern[:match.start()], pattern[match.end():]
    return _variants(before + match.group(1) + after) + _variants(before + after)


def number(args: list[str], low: float, high: float, what: str) -> float:
    """The single numeric argument, range-checked (-109/-104/-222 otherwise)."""
    if not args:
        raise ScpiError(-109, f"Missing parameter: {what}")
    try:
        value = float(args[0])
    except ValueError:
        raise ScpiError(-104, f"Data type error: {what} {args[0]!r}") from None
    if not math.isfinite(value):
        raise ScpiError(-104, f"Data type error: {what} {args[0]!r}")
    if not low <= value <= high:
        raise ScpiError(-222, f"Data out of range: {what} {value:g} not in {low:g}..{high:g}")
    return value


def boolean(args: list[str], what: str) -> bool:
    if not args:
        raise ScpiError(-109, f"Missing parameter: {what}")
    word = args[0].upper()
    if word in ("ON", "1"):
        return True
    if word in ("OFF", "0"):
        return False
    raise ScpiError(-104, f"Data type error: {what} {args[0]!r}")


def choice(args: list[str], options: dict[str, str], what: str) -> str:
    if not args:
        raise ScpiError(-109, f"Missing parameter: {what}")
    word = args[0].upper()
    if word not in options:
        raise ScpiError(-224, f"Illegal parameter value: {what} {args[0]!r}")
    return options[word]


def fmt(value: float) -> str:
    """A plain decimal (no exponent) carrying every digit of the float: bench times of
    hours at high clock speeds keep their microseconds."""
    text = repr(float(value))
    if "e" not in text:
        return text
    return format(Decimal(text), "f")


def nr3(value: float, digits: int = 8) -> str:
    """IEEE 488.2 NR3 as Keysight instruments print it: `+2.30000000E+02`."""
    return f"{float(value):+.{digits}E}"


def nr2(value: float, decimals: int = 2) -> str:
    """IEEE 488.2 NR2 with a fixed number of decimals: `230.00`."""
    return f"{float(value):.{decimals}f}"


def definite_block(payload: str) -> str:
    """An IEEE 488.2 definite-length arbitrary block (7.7.6): `#<n><length><payload>`, where
    <n> is the number of digits of <length> (the payload's length in bytes)."""
    length = str(len(payload.encode("latin-1")))
    if len(length) > 9:
        raise ValueError("a definite-length block holds at most 999999999 bytes")
    return f"#{len(length)}{length}{payload}"


# IEEE 488.2 11.5.1.1: the Standard Event Status Register's bits
ESR_OPC, ESR_QYE, ESR_DDE, ESR_EXE, ESR_CME = 1, 4, 8, 16, 32


def _esr_bit(code: int) -> int:
    """The event bit an error code sets (SCPI-99 21.8: its class)."""
    if -199 <= code <= -100:
        return ESR_CME
    if -299 <= code <= -200:
        return ESR_EXE
    if -499 <= code <= -400:
        return ESR_QYE
    return ESR_DDE


class ScpiDevice:
    """Command table plus the IEEE 488.2 common commands, the status registers and the error
    queue.

    A subclass that declares `MODEL` is an emulated instrument model: it registers under its
    `ROLE` (emulator/scpi/registry.py), and `rig emulate` serves it when a bench file names
    that model for the role. How a model prints its error queue is its own: `NO_ERROR`, the
    entry format (`error_entry`), and `TERSE_ERRORS` (the standard text only, as a real
    instrument prints it, or the emulator's detailed text). Every command the model does not
    have is counted in `undefined` (header -> times) and told to `on_undefined`.
    """

    ROLE = ""
    idn = "STS-RIG,EMU-DEVICE,0,1.0"
    NO_ERROR = '0,"No error"'
    TERSE_ERRORS = False     # True: the model's own text for a code, no detail
    ERROR_TEXTS: ClassVar[dict[int, str]] = {}  # the model's texts where they differ from SCPI-99's
    QUEUE_DEPTH = QUEUE_DEPTH

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "MODEL" in cls.__dict__:
            from emulator.scpi.registry import register

            register(cls)

    def __init__(self) -> None:
        self.errors: deque[tuple[int, str]] = deque()
        self.esr = 0
        self.ese = 0
        self.sre = 0
        self.undefined: Counter[str] = Counter()
        self.on_undefined: Callable[[str], None] | None = None
        self._commands: list[tuple[list[tuple[str, str]], bool, Handler]] = []
        self.command("*IDN", True, lambda a: self.idn)
        self.command("*RST", False, lambda a: self.reset())
        self.command("*CLS", False, lambda a: self._cls())
        self.command("*OPC", True, lambda a: "1")
        self.command("*OPC", False, lambda a: self._set_esr(ESR_OPC))
        self.command("*WAI", False, lambda a: None)  # every command completes at once
        self.command("*ESR", True, lambda a: self._esr())
        self.command("*ESE", False, lambda a: self._set("ese", int(number(a, 0, 255, "ESE"))))
        self.command("*ESE", True, lambda a: str(self.ese))
        self.command("*SRE", False, lambda a: self._set("sre", int(number(a, 0, 255, "SRE"))))
        self.command("*SRE", True, lambda a: str(self.sre))
        self.command("*STB", True, lambda a: str(self.status_byte()))
        self.command("SYSTem:ERRor[:NEXT]", True, lambda a: self._next_error())

    def command(self, pattern: str, query: bool, handler: Handler) -> None:
        """Add a command: `pattern` in SCPI notation, optional nodes in brackets."""
        for variant in _variants(pattern):
            nodes = [_forms(n) for n in variant.lstrip(":").split(":")]
            self._commands.append((nodes, query, handler))

    def readings(self, table: dict[str, Handler]) -> None:
        """Measurement queries in both SCPI forms: `MEASure[:SCALar]:<tail>?` and
        `FETCh[:SCALar]:<tail>?` for each tail of `table` (its pattern -> its handler)."""
        for verb in ("FETCh", "MEASure"):
            for tail, handler in table.items():
                self.command(f"{verb}[:SCALar]:{tail}", True, handler)

    def reset(self) -> None:
        """*RST: back to the instrument's defaults (subclasses extend)."""

    def _set(self, name: str, value: object) -> None:
        setattr(self, name, value)

    def _set_esr(self, bits: int) -> None:
        self.esr |= bits

    def _cls(self) -> None:
        self.errors.clear()
        self.esr = 0

    def _esr(self) -> str:
        value, self.esr = self.esr, 0
        return str(value)

    def status_byte(self) -> int:
        """IEEE 488.2 11.2 with SCPI's bit 2 (error/event queue not empty): bit 5 ESB is the
        enabled ESR bits, bit 6 MSS the enabled summary bits."""
        stb = (4 if self.errors else 0) | (32 if self.esr & self.ese else 0)
        return stb | (64 if stb & self.sre else 0)

    def error_entry(self, code: int, text: str) -> str:
        """One entry as SYST:ERR? answers it: `<code>,"<text>"`."""
        return f'{code},"{text}"'

    def _next_error(self) -> str:
        if not self.errors:
            return self.NO_ERROR
        code, message = self.errors.popleft()
        return self.error_entry(code, message)

    def push_error(self, code: int, message: str) -> None:
        if self.TERSE_ERRORS:
            message = self.ERROR_TEXTS.get(code) or STANDARD_TEXTS.get(code) or \
                message.split(":")[0]
        self.esr |= _esr_bit(code)
        if len(self.errors) >= self.QUEUE_DEPTH - 1:  # SCPI: the last slot says it overflowed
            if len(self.errors) == self.QUEUE_DEPTH - 1:
                self.errors.append((-350, self.ERROR_TEXTS.get(-350, "Queue overflow")))
            return
        self.errors.append((code, message))

    def handle(self, line: str) -> str | None:
        """One program message (commands separated by ';') -> the response or None."""
        answers: list[str] = []
        size = -1  # the ';' between answers count, the first has none
        parts = [p.strip() for p in line.split(";") if p.strip()]
        if len(parts) > MAX_COMMANDS:
            self.push_error(-223, f"Too much data: {len(parts)} commands in one line, "
                            f"the first {MAX_COMMANDS} served")
        for part in parts[:MAX_COMMANDS]:
            try:
                answer = self._dispatch(part)
            except ScpiError as exc:
                self.push_error(exc.code, exc.message)
                continue
            except Exception as exc:  # the instrument must never die on a command
                log.exception("error handling %r", part)
                self.push_error(-300, f"Device-specific error: {exc}")
                continue
            if answer is None:
                continue
            size += len(answer) + 1
            if size > MAX_ANSWER:
                self.push_error(-223, "Too much data: the answer to one line would pass "
                                f"{MAX_ANSWER} bytes")
                break
            answers.append(answer)
        return ";".join(answers) if answers else None

    def _dispatch(self, text: str) -> str | None:
        header, _, rest = text.partition(" ")
        query = header.endswith("?")
        nodes = header.rstrip("?").lstrip(":").upper().split(":")
        args = [a.strip() for a in re.split(r",", rest)] if rest.strip() else []
        for pattern, is_query, handler in self._commands:
            if is_query != query or len(pattern) != len(nodes):
                continue
            if all(n in forms for n, forms in zip(nodes, pattern, strict=True)):
                return handler(args)
        self.undefined[header[:80]] += 1
        if self.on_undefined is not None:
            self.on_undefined(header[:80])
        raise ScpiError(-113, "Undefined header")


class BenchDevice(ScpiDevice):
    """An instrument that acts on, or measures, the one bench model (emulator/model.py)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model


class SignedErrors:
    """The Keysight way of printing the error queue (a mixin, first among the bases): the
    code with its sign (`+0,"No error"`, `-113,"Undefined header"`) and the standard texts
    only."""

    NO_ERROR = '+0,"No error"'
    TERSE_ERRORS = True

    def error_entry(self, code: int, text: str) -> str:
        return f'{code:+d},"{text}"'


class ScpiServer:
    """Serves one ScpiDevice on 127.0.0.1 (port 0: the OS picks a free one).

    At most `max_connections` clients are served at once, one thread each. A client past
    that takes the place of the oldest connection that has not yet sent a whole line (one
    that only holds a socket open); if every connection has spoken, the new one is closed
    at once. So silent sockets cannot lock a well-behaved client out, and the threads stay
    bounded whatever a client does.
    """

    def __init__(self, device: ScpiDevice, host: str = "127.0.0.1", port: int = 0,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        self.device = device
        self.lock = threading.Lock()
        self.max_connections = max_connections
        self.refused = 0  # connections closed at once: the cap was reached
        self._conns: dict[socket.socket, bool] = {}  # open connection -> has sent a line
        self._conns_lock = threading.Lock()
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(0.2)
        self.host, self.port = self.sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name=f"scpi-{self.port}")

    @property
    def resource(self) -> str:
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    @property
    def connections(self) -> int:
        """Clients being served now."""
        with self._conns_lock:
            return len(self._conns)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        with self._conns_lock:
            for conn in self._conns:
                _shut(conn)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            if not self._admit(conn):
                self.refused += 1
                _shut(conn)
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name=f"scpi-{self.port}-client").start()

    def _admit(self, conn: socket.socket) -> bool:
        with self._conns_lock:
            if len(self._conns) >= self.max_connections:
                silent = next((c for c, spoke in self._conns.items() if not spoke), None)
                if silent is None:
                    return False
                del self._conns[silent]
                _shut(silent)  # its thread sees the end and closes it
            self._conns[conn] = False
            return True

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        lines = LineBuffer(MAX_LINE)
        try:
            with conn:
                while not self._stop.is_set():
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        return
                    if not data:
                        return
                    for line in lines.feed(data):
                        with self._conns_lock:
                            if conn not in self._conns:
                                return  # evicted
                            self._conns[conn] = True
                        if not self._serve_line(conn, line):
                            return
        finally:
            with self._conns_lock:
                self._conns.pop(conn, None)

    def _serve_line(self, conn: socket.socket, line: Line) -> bool:
        """Run one program message and send its answer; False once the client is gone."""
        if line.too_long:
            with self.lock:
                self.device.push_error(-223, f"Too much data: line longer than {MAX_LINE} bytes")
            return True
        text = line.data.decode("ascii", "replace").strip()
        if not text:
            return True
        with self.lock:
            answer = self.device.handle(text)
        if answer is None:
            return True
        try:
            conn.sendall(answer.encode("latin-1", "replace") + b"\n")
        except OSError:
            return False
        return True


def _shut(conn: socket.socket) -> None:
    """End a connection both ways (its serving thread then closes it)."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
