"""IEC 62056-21 mode C client for a meter's optical port, over pyserial.

Sign-on at 300 baud 7E1 (with an optional device address), identification, the switch to
the baud rate the meter offers, then the data readout or a programming session (password,
single-register reads R1, break B0). Every step has a timeout and a bounded retry, and a
failure names the step and the bytes that came back. A programming session is kept open
across reads and re-opened when the meter has dropped back to its start state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import termios
import time
from collections.abc import Callable
from typing import Any

import serial

from drivers.iec62056 import (
    ACK,
    EOT,
    ETX,
    NAK,
    AddressMismatch,
    BCCMismatch,
    FrameError,
    Identification,
    Register,
    ascii_text,
    command,
    option_select,
    parse_identification,
    parse_read_answer,
    parse_readout,
    request,
    split_block,
)
from drivers.serial_line import drop_unread

log = logging.getLogger("drivers.optical")

# Bounds on what the meter may send for one message. The standard's identification is at most
# 25 bytes (`/XXXZ\\W` + 16 characters + CR LF); an R1 answer carries one data set (address up
# to 16, value up to 128, unit up to 16 characters) in STX ... ETX BCC. A readout is as long as
# the meter's register list: 16 KiB (some 400 registers) is beyond any meter's and short of
# harm. The whole readout must end within the wire time of that many bytes at the baud rate
# the meter switched to (READOUT_SLACK for its pauses between lines), plus the timeout.
IDENT_MAX = 40
MESSAGE_MAX = 512
READOUT_MAX = 16384
READOUT_SLACK = 1.25
_LINE_ERRORS = (serial.SerialException, OSError, termios.error)


def _shown(received: bytes) -> str:
    if len(received) <= 120:
        return repr(received)
    return f"{received[:80]!r} ... {received[-40:]!r}"


def wire_time(n_bytes: int, baud: int) -> float:
    """Seconds `n_bytes` take on the line: 10 bits a character (start, 7 data, parity, stop)."""
    return n_bytes * 10 / baud


def _why_not_open(exc: Exception) -> str:
    """Why a port did not open, once: pyserial's text repeats the port and the OS error
    ("could not open port X: [Errno 2] No such file or directory: 'X'")."""
    code = getattr(exc, "errno", None)
    return os.strerror(code) if isinstance(code, int) else str(exc)


class OpticalError(Exception):
    """An exchange that failed: `step` says which, `received` what came back."""

    def __init__(self, step: str, message: str, received: bytes = b"", *,
                 port: str = "") -> None:
        where = f"optical port {port}" if port else "optical port"
        got = f"received {len(received)} bytes: {_shown(received)}" if received else \
            "received nothing"
        if step == "open":  # nothing was exchanged: the port itself is the problem
            super().__init__(f"{where}: {step}: {message}")
        else:
            super().__init__(f"{where}: {step}: {message} ({got})")
        self.step = step
        self.received = received
        self.port = port


class NoAnswerError(OpticalError):
    """The meter did not answer (or stopped answering) within the timeout."""


class LineLostError(NoAnswerError):
    """The port itself failed mid-exchange (device unplugged, pty closed, adapter gone)."""


class DeadlineError(OpticalError):
    """The meter kept sending but the message did not end within the step's deadline."""


class MessageTooLongError(OpticalError):
    """The meter sent more bytes than such a message can hold, without ending it."""


class BCCError(OpticalError):
    """A data message whose block check character does not match its data."""


class AddressMismatchError(OpticalError):
    """An R1 answer for another address than the one asked."""


class ModeEError(OpticalError):
    """The meter offers mode E (DLMS/HDLC), which this mode C client does not speak."""


def _open_7e1(port: str) -> serial.SerialBase:
    """300 baud 7E1, as IEC 62056-21 says. A pseudo-terminal carries no framing, and Linux
    sometimes refuses a 7E1 termios setting on one (EINVAL): there, 8N1 is the same wire."""
    try:
        return serial.serial_for_url(port, baudrate=300, bytesize=serial.SEVENBITS,
                                     parity=serial.PARITY_EVEN, stopbits=serial.STOPBITS_ONE,
                                     timeout=0.05)
    except termios.error:
        if not port.startswith("/dev/pts/"):
            raise
        log.debug("%s: 7E1 refused by the pty, using 8N1", port)
        return serial.serial_for_url(port, baudrate=300, timeout=0.05)


class OpticalPort:
    """A meter's optical port (device path or pyserial URL such as rfc2217://host:port).

    `timeout` is the longest silence the meter may keep (its reaction time and any pause);
    every message must also end within a deadline for the whole message: `timeout` plus the
    wire time of the longest such message. A data readout may hold at most `max_readout`
    bytes and must end within `readout_timeout`, by default sized from the baud rate the
    meter switched to: `timeout` + READOUT_SLACK x the wire time of `max_readout` bytes (a
    meter trickling a byte at a time never keeps the readout going longer).
    """

    def __init__(self, port: str, *, address: str = "", password: str | None = "00000000",
                 timeout: float = 2.0, retries: int = 2, baud_change: bool = True,
                 readout_timeout: float | None = None,
                 max_readout: int = READOUT_MAX) -> None:
        self.port = port
        self.address = address
        self.password = password
        self.timeout = timeout
        self.retries = retries
        self.baud_change = baud_change
        self.readout_timeout = readout_timeout
        self.max_readout = max_readout
        self.identification: Identification | None = None
        self._in_session = False
        self._baud = 300
        try:
            self._ser = _open_7e1(port)
        except (serial.SerialException, ValueError, termios.error) as exc:
            raise self._error(OpticalError, "open", _why_not_open(exc)) from None

    def _error(self, kind: type[OpticalError], step: str, message: str,
               received: bytes = b"") -> OpticalError:
        return kind(step, message, received, port=self.port)

    # --- bytes --------------------------------------------------------------------------------

    def _set_baud(self, step: str, baud: int) -> None:
        self._baud = baud
        # only when it changes: re-applying the same setting fails on some ptys (EINVAL)
        if self._ser.baudrate == baud:
            return
        try:
            self._ser.baudrate = baud
        except _LINE_ERRORS as exc:
            # a pseudo-terminal (the emulated bench, a socat bridge) has no line speed, and
            # Linux sometimes refuses the termios change on one: nothing to switch there
            if not self.port.startswith("/dev/pts/"):
                raise self._error(OpticalError, step, f"cannot set {baud} baud: {exc}") \
                    from None

    def _send(self, step: str, data: bytes) -> None:
        """Write one message, after dropping whatever is waiting unread: a late answer to an
        earlier message must never be taken for the answer to this one."""
        log.debug("optical <- %r", data)
        self._write(step, data, drop=True)

    def _write(self, step: str, data: bytes, *, drop: bool = False) -> None:
        """Put `data` on the line (after dropping what is unread, when `drop`)."""
        try:
            if drop:
                drop_unread(self._ser)
            self._ser.write(data)
            self._ser.flush()
        except _LINE_ERRORS as exc:
            raise self._error(LineLostError, step, f"the line went away ({exc})") from None

    def _read_until(self, step: str, done: Any, limit: int, ending: str,
                    deadline_s: float | None = None) -> bytes:
        """Read until `done(buffer)` says the message is complete. A silence longer than the
        timeout is a NoAnswerError, a message not ended within `deadline_s` (by default the
        timeout plus the wire time of `limit` bytes) a DeadlineError, more than `limit` bytes
        a MessageTooLongError; each carries what was received."""
        if deadline_s is None:
            deadline_s = self.timeout + wire_time(limit, self._baud)
        buf = b""
        start = last = time.monotonic()
        while True:
            try:
                waiting = self._ser.in_waiting
                chunk = self._ser.read(max(1, min(waiting, limit + 1 - len(buf))))
            except _LINE_ERRORS as exc:
                raise self._error(LineLostError, step, f"the line went away ({exc})", buf) \
                    from None
            now = time.monotonic()
            if chunk:
                buf += chunk
                last = now
                end = done(buf)
                if end:
                    log.debug("optical -> %r", buf[:end])
                    return buf[:end]
                if len(buf) > limit:
                    raise self._error(MessageTooLongError, step,
                                      f"more than {limit} bytes without {ending}", buf)
            elif now - last > self.timeout:
                message = (f"silent for {self.timeout:.1f} s before {ending}" if buf else
                           f"no answer within {self.timeout:.1f} s")
                raise self._error(NoAnswerError, step, message, buf)
            if now - start > deadline_s:
                raise self._error(DeadlineError, step,
                                  f"no {ending} within {deadline_s:.1f} s", buf)

    @staticmethod
    def _ident_line(buf: bytes) -> int:
        """The identification ends at the first CR LF after its '/': the tail of a late
        answer to an earlier message may come first (the line was flushed before the
        request, but a slow meter can still be sending)."""
        start = buf.find(b"/")
        if start < 0:
            return 0
        i = buf.find(b"\r\n", start)
        return i + 2 if i >= 0 else 0

    @staticmethod
    def block_ended(buf: bytes) -> bool:
        """True once `buf` holds a whole block (STX or SOH ... ETX BCC) or a lone ACK/NAK."""
        return OpticalPort._block(buf) > 0

    @staticmethod
    def _block(buf: bytes) -> int:
        """STX ... ETX BCC, or a lone ACK/NAK."""
        if buf[:1] in (bytes([ACK]), bytes([NAK])):
            return 1
        for i, b in enumerate(buf):
            if b in (ETX, EOT) and i + 1 < len(buf):
                return i + 2
        return 0

    # --- sign-on ------------------------------------------------------------------------------

    def identify(self) -> Identification:
        """Sign on and read the identification (the meter then returns to start)."""
        ident = self._sign_on()
        self._break()
        return ident

    def timed_identify(self) -> tuple[Identification, float]:
        """Sign on, read the identification and time the meter's reaction tr (IEC 62056-21
        6.3.14) as the host sees it: from the request written out to the identification's
        first character ('/') received, less that character's own time on the line at 300
        baud. Host and adapter latency only lengthen it, so it judges tr's lower limit (no
        answer before 200 ms, or 20 ms with a lower-case third letter) without failing a
        compliant meter, and its upper limit (1.5 s) as closely as the host can. The meter
        then returns to start (break)."""
        if self._in_session:
            self._break()
        self._set_baud("reaction time", 300)
        message = request(self.address)
        before = time.monotonic()
        self._send("reaction time", message)
        after = time.monotonic()
        # a write that took less than the request's own wire time never reached a wire (a
        # pseudo-terminal): the meter may have had it at once, so the clock starts before it
        sent = last = before if after - before < wire_time(len(message), 300) / 2 else after
        heard = b""
        while True:  # a late byte of an earlier answer is not the start of this one
            try:
                byte = self._ser.read(1)
            except _LINE_ERRORS as exc:
                raise self._error(LineLostError, "reaction time",
                                  f"the line went away ({exc})", heard) from None
            now = time.monotonic()
            if byte == b"/":
                break
            if byte:
                heard, last = heard + byte, now
            elif now - last > self.timeout:
                raise self._error(NoAnswerError, "reaction time",
                                  f"no identification within {self.timeout:.1f} s", heard)
        rest = self._read_until("reaction time", lambda buf: self._ident_line(b"/" + buf),
                                IDENT_MAX, "CR LF")
        line = b"/" + rest
        line = line[:self._ident_line(line)]  # done() counted the '/' read before it
        self._break()
        try:
            ident = parse_identification(line)
        except FrameError as exc:
            raise self._error(OpticalError, "identification", str(exc), line) from None
        self.identification = ident
        return ident, now - sent - wire_time(1, 300)

    def _sign_on(self) -> Identification:
        last: OpticalError | None = None
        for attempt in range(self.retries + 1):
            self._set_baud("sign-on", 300)
            self._send("sign-on", request(self.address))
            try:
                line = self._read_until("sign-on", self._ident_line, IDENT_MAX, "CR LF")
            except LineLostError:
                raise
            except NoAnswerError as exc:
                last = exc
                log.info("no identification (attempt %d)", attempt + 1)
                time.sleep(0.2)
                continue
            # the identification starts at the last '/' before its CR LF ('/' is never part
            # of one, IEC 62056-21 6.3.2): a late answer to the previous attempt's request,
            # cut short when the meter heard this one, is not merged into it
            stray = line.rfind(b"/")
            if stray > 0:
                log.info("dropped %d stray bytes before the identification: %r", stray,
                         line[:stray])
                line = line[stray:]
            try:
                ident = parse_identification(line)
            except FrameError as exc:
                raise self._error(OpticalError, "identification", str(exc), line) from None
            if ident.mode_e:
                raise self._error(
                    ModeEError, "identification",
                    f"meter {ident.manufacturer} offers mode E (\\2: DLMS/HDLC binary); this "
                    "client speaks IEC 62056-21 mode C only — use a DLMS client", line)
            self.identification = ident
            return ident
        assert last is not None
        raise last

    def _select(self, ident: Identification, mode: str) -> None:
        char = ident.baud_char if self.baud_change and ident.baud_char.isdigit() else "0"
        self._send("option select", option_select(char, mode))
        if char != "0":
            # the meter answers tr >= 20/200 ms after the ACK, at the new rate: switch now
            self._set_baud("baud switch", ident.baud)

    # --- readout ------------------------------------------------------------------------------

    def readout_deadline(self) -> float:
        """Seconds the whole readout may take at the current baud rate (class doc)."""
        if self.readout_timeout is not None:
            return self.readout_timeout
        return self.timeout + READOUT_SLACK * wire_time(self.max_readout, self._baud)

    def readout(self) -> list[Register]:
        """The full data readout, parsed into registers (BCC checked)."""
        if self._in_session:
            self._break()
        ident = self._sign_on()
        self._select(ident, "0")
        deadline = self.readout_deadline()
        try:
            frame = self._read_until("readout", self._block, self.max_readout, "ETX+BCC",
                                     deadline)
        except DeadlineError as exc:
            if self.readout_timeout is not None:
                raise
            raise self._error(DeadlineError, "readout", f"no ETX+BCC within {deadline:.1f} s "
                              f"(the wire time of {self.max_readout} bytes at {self._baud} "
                              "baud, the most a readout may hold)", exc.received) from None
        try:
            return parse_readout(frame)
        except BCCMismatch as exc:
            raise self._error(BCCError, "readout", str(exc), frame) from None
        except FrameError as exc:
            raise self._error(OpticalError, "readout", str(exc), frame) from None

    # --- programming mode -----------------------------------------------------------------------

    def open_session(self) -> None:
        """Sign on in programming mode and send the password."""
        self._to_password_operand()
        if self.password is not None:
            step = "password (P1)"
            self._send(step, command("P1", f"({self.password})"))
            answer = self._read_until(step, self._block, MESSAGE_MAX, "ACK")
            if answer[:1] != bytes([ACK]):
                raise self._error(OpticalError, step, "the meter refused the password", answer)
        self._in_session = True

    def _to_password_operand(self) -> None:
        """Sign on, select the programming mode and read the meter's P0 operand: the meter
        then waits for a password."""
        ident = self._sign_on()
        self._select(ident, "1")
        step = "password operand (P0)"
        operand = self._read_until(step, self._block, MESSAGE_MAX, "ETX+BCC")
        if operand[:1] != b"\x01":
            raise self._error(OpticalError, step, "expected SOH P0", operand)

    def read(self, obis: str) -> Register:
        """Read one register in the programming session (opened or re-opened as needed)."""
        step = f"read {obis}"
        for attempt in range(2):
            if not self._in_session:
                self.open_session()
            self._send(step, command("R1", f"{obis}()"))
            try:
                frame = self._read_until(step, self._block, MESSAGE_MAX, "ETX+BCC")
            except LineLostError:
                self._in_session = False
                raise
            except NoAnswerError:
                self._in_session = False  # the meter went back to start: sign on again
                if attempt:
                    raise
                continue
            if frame[:1] == bytes([NAK]):
                continue
            try:
                body = ascii_text(split_block(frame), "data message")
            except BCCMismatch as exc:
                raise self._error(BCCError, step, str(exc), frame) from None
            except FrameError as exc:
                raise self._error(OpticalError, step, str(exc), frame) from None
            if body.startswith("(ERROR"):
                raise self._error(OpticalError, step, "the meter answered (ERROR)", frame)
            try:
                return parse_read_answer(body, obis)
            except AddressMismatch as exc:
                raise self._error(AddressMismatchError, step, str(exc), frame) from None
            except FrameError as exc:
                raise self._error(OpticalError, step, str(exc), frame) from None
        raise self._error(OpticalError, step, "no valid answer after a new sign-on")

    def repeat_request(self, obis: str) -> tuple[bytes, bytes]:
        """Read one register, then send NAK, the repeat request of the programming mode
        (IEC 62056-21: the answer is STX data-set ETX BCC, ACK, or NAK for a repetition):
        (the meter's data message, its repetition), each a whole frame with its BCC
        checked, for a plan to compare."""
        step = f"read {obis}"
        if not self._in_session:
            self.open_session()
        self._send(step, command("R1", f"{obis}()"))
        frames = []
        for what in (step, f"repeat of {obis} after NAK"):
            if frames:
                self._send(what, bytes([NAK]))
            frame = self._read_until(what, self._block, MESSAGE_MAX, "ETX+BCC")
            try:
                split_block(frame)
            except BCCMismatch as exc:
                raise self._error(BCCError, what, str(exc), frame) from None
            except FrameError as exc:
                raise self._error(OpticalError, what, str(exc), frame) from None
            frames.append(frame)
        return frames[0], frames[1]

    def probe(self, message: bytes, *, after: str = "idle", wait_s: float = 0.5,
              pause: tuple[int, float] | None = None,
              until: bytes | Callable[[bytes], bool] = b"") -> bytes:
        """Send `message` as it is and return every byte the meter sends back within
        `wait_s`: for a plan that checks how the meter takes what no client should send
        (line noise, a malformed message, a frame with a bad BCC), or how it takes a slow
        sender (`pause` = (k, s): s seconds between the message's first k bytes and the
        rest). `after` says where in the exchange it goes: "idle" (at 300 baud on the idle
        link), "identification" (after a sign-on, where the meter waits for an option
        select), "session" (in an opened programming session) or "current" (as the link is
        now, e.g. a session opened with `open_session` before the meter lost its supply:
        nothing is sent first, at the rate in use). With `until`, the wait
        ends as soon as what was heard ends with it, or as soon as `until(heard)` is true (an
        answer that must come: its end, e.g. `OpticalPort.block_ended`). The
        link then ends with a break (B0)."""
        if after not in ("idle", "identification", "session", "current"):
            raise ValueError(f"probe after {after!r}: use idle, identification, session or "
                             "current")
        if self._in_session and after != "current":
            self._break()
        if after == "current":
            pass
        elif after == "identification":
            self._sign_on()
        elif after == "session":
            self.open_session()
        else:
            self._set_baud("probe", 300)
        split, pause_s = pause or (len(message), 0.0)
        self._send("probe", message[:split])
        if split < len(message):
            time.sleep(pause_s)
            self._write("probe", message[split:])  # what the meter sent meanwhile is kept
        heard = b""
        end = time.monotonic() + wait_s
        done = until if callable(until) else (lambda got: bool(until) and got.endswith(until))
        while time.monotonic() < end and not done(heard):
            try:
                heard += self._ser.read(max(1, self._ser.in_waiting))
            except _LINE_ERRORS as exc:
                raise self._error(LineLostError, "probe", f"the line went away ({exc})",
                                  heard) from None
        if heard:
            log.debug("optical -> %r (probe)", heard)
        self._break()
        return heard

    def read_with_password(self, obis: str, password: str) -> tuple[bytes, bytes]:
        """Sign on in programming mode, send `password` (P1), then ask for one register (R1):
        (the meter's answer to P1, its answer to R1), each as received, b"" for silence
        within the timeout. For a plan that checks a wrong password opens nothing; the
        link ends with a break (B0) whatever came back."""
        if self._in_session:
            self._break()
        self._to_password_operand()
        answers = []
        for step, message in (("password (P1)", command("P1", f"({password})")),
                              (f"read {obis}", command("R1", f"{obis}()"))):
            self._send(step, message)
            try:
                answers.append(self._read_until(step, self._block, MESSAGE_MAX, "ETX+BCC"))
            except LineLostError:
                raise
            except NoAnswerError as exc:
                answers.append(exc.received)
        self._break()
        return answers[0], answers[1]

    def _break(self) -> None:
        with contextlib.suppress(LineLostError):
            self._send("break (B0)", command("B0"))
        self._in_session = False

    def close(self) -> None:
        """End any session with a break (B0) and close the port."""
        if self._ser.is_open:
            if self._in_session:
                self._break()
            with contextlib.suppress(*_LINE_ERRORS):
                self._ser.close()

    def __enter__(self) -> OpticalPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
