"""The SCPI instrument base: open over VISA, keep *IDN?, turn SYST:ERR? into exceptions.

Properties are declared once per class, PyMeasure-style, with their unit and range: a value
out of range is refused before anything is sent, and after every command the error queue is
read, so an instrument's complaint is an exception and not a silent wrong value. A query has
one deadline for its whole answer and a bound on its length; whatever is waiting unread is
dropped before it is sent, so a late answer to an earlier query is never taken for its own;
answers are checked for their form (numbers, booleans, *IDN?) before they are used.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import pyvisa
from pyvisa import constants
from pyvisa.constants import StatusCode
from pyvisa.errors import VisaIOError

from drivers.instruments import registry
from drivers.instruments.accuracy import Accuracy
from drivers.instruments.answers import (
    Identity,
    decode_answer,
    parse_bool,
    parse_error,
    parse_idn,
    parse_number,
    parse_numbers,
)
from drivers.instruments.errors import (
    AnswerError,
    CommandRefused,
    InstrumentError,
    InstrumentTimeout,
    SafetyError,
)

log = logging.getLogger("drivers.instruments")

__all__ = ["AnswerError", "CommandRefused", "InstrumentError", "InstrumentTimeout",
           "SafetyError", "ScpiInstrument", "scpi_property"]

# the longest answer: a 1000-point ASCII waveform is ~16 kB; 1 MiB bounds any sane answer
ANSWER_MAX = 1 << 20
_CHUNK = 4096


def _shown(received: bytes) -> str:
    if len(received) <= 120:
        return repr(received)
    return f"{received[:80]!r} ... {received[-40:]!r}"


def send_at_once(res: Any) -> None:
    """Switch Nagle's algorithm off on a TCP/IP instrument link: with it on, a command that
    follows one with no answer (SOUR:VOLT, then SYST:ERR?) waits for the instrument's
    delayed ACK, 40 ms on Linux, for every checked setting. VISA's VI_ATTR_TCPIP_NODELAY
    asks for it; pyvisa-py's SOCKET sessions keep that attribute without applying it, so
    their socket is set directly."""
    if not str(getattr(res, "resource_name", "")).upper().startswith("TCPIP"):
        return
    session = getattr(getattr(res, "visalib", None), "sessions", {}).get(res.session)
    sock = getattr(session, "interface", None)
    if isinstance(sock, socket.socket):  # pyvisa-py
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return
    with contextlib.suppress(VisaIOError):  # a VISA library that does not offer it
        res.set_visa_attribute(constants.ResourceAttribute.tcpip_nodelay, constants.VI_TRUE)


class scpi_property:
    """A settable/readable instrument value with its unit and range."""

    def __init__(self, get: str | None, set: str | None = None, *, unit: str = "",
                 low: float | None = None, high: float | None = None,
                 choices: Sequence[str] | None = None,
                 cast: Callable[[str], Any] | None = None,
                 doc: str = "") -> None:
        self.get_cmd, self.set_cmd = get, set
        self.unit, self.low, self.high, self.choices, self.cast = unit, low, high, choices, cast
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, inst: Any, owner: type | None = None) -> Any:
        if inst is None:
            return self
        if self.get_cmd is None:
            raise AttributeError(f"{self.name} cannot be read")
        if self.cast is None:  # a number, checked for its form and for SCPI overload
            return inst.query_number(self.get_cmd)
        return self.cast(inst.query(self.get_cmd))

    def check(self, value: Any) -> Any:
        if self.choices is not None:
            text = str(value).upper()
            if text not in self.choices:
                raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, "
                                 f"got {value!r}")
            return text
        number = float(value)
        if (self.low is not None and number < self.low) or (
                self.high is not None and number > self.high):
            raise ValueError(f"{self.name} {number:g} {self.unit} is out of range "
                             f"{self.low:g}..{self.high:g} {self.unit}")
        return number

    def __set__(self, inst: Any, value: Any) -> None:
        if self.set_cmd is None:
            raise AttributeError(f"{self.name} cannot be set")
        inst.write(self.set_cmd.format(self.check(value)))


class ScpiInstrument:
    """An instrument on a VISA resource; the generic command set of the emulated bench.

    A subclass that declares `MODEL` (its bench-file name) is an instrument model and
    registers itself (drivers/instruments/registry.py) under its `ROLE`; it declares its
    maker's `DESIGNATION`, its `ACCURACY` (function -> Specification, with the datasheet
    cited) and, where it has them, its named `CHANNELS` (name -> the instrument's channel).
    """

    ROLE = "instrument"
    DESIGNATION = ""
    CHANNELS: ClassVar[dict[str, str]] = {}
    ACCURACY: ClassVar[Accuracy] = {}
    role = ROLE  # the role's name in messages (set from ROLE for every subclass)
    answer_max = ANSWER_MAX  # the longest answer accepted, bytes

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.role = cls.ROLE
        if "MODEL" in cls.__dict__:
            registry.register(cls)

    def __init__(self, resource: str, *, timeout_ms: int = 3000, backend: str = "@py",
                 check_errors: bool = True, manager: pyvisa.ResourceManager | None = None) -> None:
        self.resource = resource
        self.timeout_ms = timeout_ms
        self.check_errors_after = check_errors
        self._making_safe = False
        self._rm = manager or pyvisa.ResourceManager(backend)
        try:
            self._res = self._rm.open_resource(resource, read_termination="\n",
                                               write_termination="\n", timeout=timeout_ms)
        except (VisaIOError, OSError, ValueError) as exc:
            raise InstrumentError(f"{self.role} {resource}: cannot open ({exc})") from None
        send_at_once(self._res)
        try:
            self.idn = self.query("*IDN?")
            self.identity: Identity = self._checked("*IDN?", self.parse_identity, self.idn)
            self.bring_up()
        except InstrumentError:
            self._res.close()
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.resource!r})"

    def bring_up(self) -> None:
        """What the model needs once it is identified (ranges, limits), each command checked
        against the error queue; nothing for the generic set."""

    @staticmethod
    def parse_identity(command: str, text: str) -> Identity:
        """The *IDN? answer's fields; a model whose answer differs says how to read it."""
        return parse_idn(command, text)

    # --- traffic ------------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.role} {self.resource}"

    def _visa_failed(self, command: str, exc: Exception, received: bytes = b"") -> InstrumentError:
        got = f" (received {len(received)} bytes: {_shown(received)})" if received else ""
        return InstrumentError(f"{self._where()}: {command!r} failed: {exc}{got}")

    def _discard_pending(self, command: str) -> None:
        """Read and drop whatever is waiting (a late answer to an earlier query), without
        waiting for more: the VISA timeout is set to immediate for it."""
        dropped = bytearray()
        visalib, session = self._res.visalib, self._res.session
        self._res.timeout = 0
        try:
            with self._res.ignore_warning(StatusCode.success_max_count_read):
                while True:
                    try:
                        chunk, _status = visalib.read(session, _CHUNK)
                    except VisaIOError as exc:
                        if exc.error_code == StatusCode.error_timeout:
                            break
                        raise self._visa_failed(command, exc, bytes(dropped)) from None
                    except OSError as exc:
                        raise self._visa_failed(command, exc, bytes(dropped)) from None
                    if not chunk:
                        break
                    dropped += chunk
                    if len(dropped) > self.answer_max:
                        raise AnswerError(
                            f"{self._where()}: before {command!r}: the instrument keeps "
                            f"sending unasked data (more than {self.answer_max} bytes: "
                            f"{_shown(bytes(dropped))})", command=command,
                            received=bytes(dropped))
        finally:
            self._res.timeout = self.timeout_ms
        if dropped:
            log.warning("%s: dropped %d unread bytes before %r: %s", self._where(),
                        len(dropped), command, _shown(bytes(dropped)))

    def _read_answer(self, command: str) -> bytes:
        """One answer line, whole within the timeout and at most `answer_max` bytes."""
        visalib, session = self._res.visalib, self._res.session
        buf = bytearray()
        end = time.monotonic() + self.timeout_ms / 1000
        try:
            with self._res.ignore_warning(StatusCode.success_max_count_read):
                while not buf.endswith(b"\n"):
                    remaining_ms = (end - time.monotonic()) * 1000
                    if remaining_ms < 1:
                        ending = "end of line in the answer" if buf else "answer"
                        got = f" (received {len(buf)} bytes: {_shown(bytes(buf))})" if buf else ""
                        raise InstrumentTimeout(f"{self._where()}: no {ending} to {command!r} "
                                                f"within {self.timeout_ms:g} ms{got}")
                    if len(buf) > self.answer_max:
                        raise AnswerError(f"{self._where()}: {command!r}: more than "
                                          f"{self.answer_max} bytes without an end of line "
                                          f"({_shown(bytes(buf))})",
                                          command=command, received=bytes(buf))
                    self._res.timeout = remaining_ms
                    try:
                        # a byte a call: a backend returns a larger read only when it is full or
                        # ends with the termination, and a device that trickles bytes would hold
                        # it past the deadline (pyvisa-py does); an error return drops its bytes
                        chunk, _status = visalib.read(session, 1)
                    except VisaIOError as exc:
                        if exc.error_code == StatusCode.error_timeout:
                            continue
                        raise self._visa_failed(command, exc, bytes(buf)) from None
                    except OSError as exc:
                        raise self._visa_failed(command, exc, bytes(buf)) from None
                    buf += chunk
        finally:
            self._res.timeout = self.timeout_ms
        return bytes(buf)

    def query(self, command: str) -> str:
        """Send a query and return its answer (ASCII text, line end stripped)."""
        self._discard_pending(command)
        log.debug("%s <- %s", self.role, command)
        try:
            self._res.write(command)
        except (VisaIOError, OSError) as exc:
            raise self._visa_failed(command, exc) from None
        raw = self._read_answer(command)
        answer = self._checked(command, decode_answer, raw)
        log.debug("%s %s -> %s", self.role, command, answer)
        return answer

    def _checked(self, command: str, parse: Callable[..., Any], *args: Any) -> Any:
        """`parse(command, *args)`, its AnswerError told with the instrument's name."""
        try:
            return parse(command, *args)
        except AnswerError as exc:
            raise AnswerError(f"{self._where()}: {exc}", command=exc.command,
                              received=exc.received) from None

    def query_number(self, command: str) -> float:
        """A query whose answer is one reading: a finite decimal number."""
        return self._checked(command, parse_number, self.query(command))

    def query_numbers(self, command: str, count: int | None = None) -> list[float]:
        """A query whose answer is a comma-separated list of numbers."""
        return self._checked(command, parse_numbers, self.query(command), count)

    def query_bool(self, command: str) -> bool:
        """A query whose answer is a SCPI boolean (1/0, ON/OFF)."""
        return self._checked(command, parse_bool, self.query(command))

    def write(self, command: str) -> None:
        log.debug("%s <- %s", self.role, command)
        try:
            self._res.write(command)
        except (VisaIOError, OSError) as exc:
            raise self._visa_failed(command, exc) from None
        if self.check_errors_after:
            try:
                self.check_errors(command)
            except InstrumentError:
                self._make_safe()  # a complaint leaves the instrument harmless, then raises
                raise

    error_query = "SYST:ERR?"  # the model's own form of the error-queue query
    error_queue_depth = 32     # more entries than this and the queue is not emptying

    def error_entries(self) -> list[tuple[int, str]]:
        """Empty the error queue; its entries (code, text), oldest first."""
        found = []
        for _ in range(self.error_queue_depth + 1):
            answer = self.query(self.error_query)
            code, text = self._checked(self.error_query, parse_error, answer)
            if code == 0:
                return found
            found.append((code, text))
        raise InstrumentError(f"{self._where()}: the error queue does not empty "
                              f"({len(found)} entries read: {found[:3]} ...)")

    def errors(self) -> list[str]:
        """Empty the error queue; the errors it held, as `code,"text"`."""
        return [f'{code},"{text}"' for code, text in self.error_entries()]

    def check_errors(self, after: str) -> None:
        """Read the error queue to its end; CommandRefused names `after` and every entry."""
        found = self.error_entries()
        if found:
            raise CommandRefused(self._where(), after, found)

    def configure(self, *commands: str) -> None:
        """Send a configuration sequence, reading the error queue after each command, so a
        refusal names the very command refused (and the rest is not sent)."""
        for command in commands:
            self.write(command)

    # --- state --------------------------------------------------------------------------------

    def reset(self) -> None:
        self.write("*RST")

    def safe_state(self) -> None:
        """Leave the instrument harmless (outputs off); subclasses say what that means."""

    def _make_safe(self) -> None:
        if self._making_safe:
            return
        self._making_safe = True
        try:
            self.safe_state()
        except InstrumentError as exc:
            log.warning("%s: could not reach its safe state: %s", self.role, exc)
        finally:
            self._making_safe = False

    def close(self) -> None:
        """Safe state and *RST, then close; attempted whatever happens."""
        try:
            self._make_safe()
            self._res.write("*RST")
        except (VisaIOError, OSError) as exc:
            log.warning("%s: *RST at close failed: %s", self.role, exc)
        finally:
            self._res.close()

    def __enter__(self) -> ScpiInstrument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
