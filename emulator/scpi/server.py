"""A small SCPI-over-TCP server: line framing, long/short header forms, the error queue.

Each instrument is a `ScpiDevice` with a table of commands written in SCPI's mixed-case
notation (`SOURce:VOLTage`: `SOUR:VOLT`, `source:voltage` and `SOURCE:VOLT` all match). An
unknown header queues -113 and answers nothing, as a real instrument does; the client then
finds the complaint with SYST:ERR?.

What one line may cost is bounded, as an instrument's input buffer and output queue are: a
line longer than MAX_LINE bytes is discarded to its newline, a line runs its first
MAX_COMMANDS commands only, and its answer stops before it would pass MAX_ANSWER bytes; each
of these queues -223 "Too much data" instead of being served.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections import deque
from collections.abc import Callable
from decimal import Decimal

from emulator.lines import Line, LineBuffer

log = logging.getLogger("emulator.scpi")

QUEUE_DEPTH = 32
MAX_LINE = 4096           # bytes of one program message
MAX_COMMANDS = 64         # commands of one program message that are run
MAX_ANSWER = 1 << 20      # bytes of the answer to one program message (~ten 10k waveforms)
Handler = Callable[[list[str]], "str | None"]


class ScpiError(Exception):
    """A command the instrument refuses: `code` and `message` go to the error queue."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code},\"{message}\"")
        self.code = code
        self.message = message


def _forms(mnemonic: str) -> tuple[str, str]:
    short = "".join(ch for ch in mnemonic if ch.isupper() or ch.isdigit() or ch in "*?")
    return short.upper(), mnemonic.upper()


def number(args: list[str], low: float, high: float, what: str) -> float:
    """The single numeric argument, range-checked (-109/-104/-222 otherwise)."""
    if not args:
        raise ScpiError(-109, f"Missing parameter: {what}")
    try:
        value = float(args[0])
    except ValueError:
        raise ScpiError(-104, f"Data type error: {what} {args[0]!r}") from None
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


class ScpiDevice:
    """Command table plus the IEEE 488.2 common commands and the error queue."""

    idn = "STS-RIG,EMU-DEVICE,0,1.0"

    def __init__(self) -> None:
        self.errors: deque[tuple[int, str]] = deque()
        self.esr = 0
        self._commands: list[tuple[list[tuple[str, str]], bool, Handler]] = []
        self.command("*IDN", True, lambda a: self.idn)
        self.command("*RST", False, lambda a: self.reset())
        self.command("*CLS", False, lambda a: self._cls())
        self.command("*OPC", True, lambda a: "1")
        self.command("*OPC", False, lambda a: None)
        self.command("*ESR", True, lambda a: self._esr())
        self.command("*STB", True, lambda a: str(4 if self.errors else 0))
        self.command("SYSTem:ERRor", True, lambda a: self._next_error())
        self.command("SYSTem:ERRor:NEXT", True, lambda a: self._next_error())

    def command(self, pattern: str, query: bool, handler: Handler) -> None:
        nodes = [_forms(n) for n in pattern.lstrip(":").split(":")]
        self._commands.append((nodes, query, handler))

    def reset(self) -> None:
        """*RST: back to the instrument's defaults (subclasses extend)."""

    def _cls(self) -> None:
        self.errors.clear()
        self.esr = 0

    def _esr(self) -> str:
        value, self.esr = self.esr, 0
        return str(value)

    def _next_error(self) -> str:
        if not self.errors:
            return '0,"No error"'
        code, message = self.errors.popleft()
        return f'{code},"{message}"'

    def push_error(self, code: int, message: str) -> None:
        if len(self.errors) >= QUEUE_DEPTH - 1:  # SCPI: the last slot says it overflowed
            if len(self.errors) == QUEUE_DEPTH - 1:
                self.errors.append((-350, "Queue overflow"))
            return
        self.errors.append((code, message))
        self.esr |= 32 if -199 <= code <= -100 else 16

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
        header = header.rstrip("?").lstrip(":").upper()
        args = [a.strip() for a in re.split(r",", rest)] if rest.strip() else []
        nodes = header.split(":")
        for pattern, is_query, handler in self._commands:
            if is_query != query or len(pattern) != len(nodes):
                continue
            if all(n in forms for n, forms in zip(nodes, pattern, strict=True)):
                return handler(args)
        raise ScpiError(-113, "Undefined header")


class ScpiServer:
    """Serves one ScpiDevice on 127.0.0.1 (port 0: the OS picks a free one)."""

    def __init__(self, device: ScpiDevice, host: str = "127.0.0.1", port: int = 0) -> None:
        self.device = device
        self.lock = threading.Lock()
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(0.2)
        self.host, self.port = self.sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name=f"scpi-{self.port}")

    @property
    def resource(self) -> str:
        return f"TCPIP::{self.host}::{self.port}::SOCKET"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        lines = LineBuffer(MAX_LINE)
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
                    if not self._serve_line(conn, line):
                        return

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
            conn.sendall(answer.encode("ascii", "replace") + b"\n")
        except OSError:
            return False
        return True
