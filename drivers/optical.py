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
import termios
import time
from typing import Any

import serial

from drivers.iec62056 import (
    ACK,
    EOT,
    ETX,
    NAK,
    BCCMismatch,
    FrameError,
    Identification,
    Register,
    command,
    option_select,
    parse_data_set,
    parse_identification,
    parse_readout,
    request,
    split_block,
)

log = logging.getLogger("drivers.optical")


class OpticalError(Exception):
    """An exchange that failed: `step` says which, `received` what came back."""

    def __init__(self, step: str, message: str, received: bytes = b"") -> None:
        shown = received[-120:]
        super().__init__(f"optical port, {step}: {message}"
                         + (f" (received {len(received)} bytes: {shown!r})" if received else
                            " (received nothing)"))
        self.step = step
        self.received = received


class NoAnswerError(OpticalError):
    """The meter did not answer (or stopped answering) within the timeout."""


class BCCError(OpticalError):
    """A data message whose block check character does not match its data."""


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
    """A meter's optical port (device path or pyserial URL such as rfc2217://host:port)."""

    def __init__(self, port: str, *, address: str = "", password: str | None = "00000000",
                 timeout: float = 2.0, retries: int = 2, baud_change: bool = True) -> None:
        self.port = port
        self.address = address
        self.password = password
        self.timeout = timeout
        self.retries = retries
        self.baud_change = baud_change
        self.identification: Identification | None = None
        self._in_session = False
        try:
            self._ser = _open_7e1(port)
        except (serial.SerialException, ValueError, termios.error) as exc:
            raise OpticalError("open", f"cannot open {port}: {exc}") from None

    # --- bytes --------------------------------------------------------------------------------

    def _set_baud(self, baud: int) -> None:
        # only when it changes: re-applying the same setting fails on some ptys (EINVAL)
        if self._ser.baudrate == baud:
            return
        try:
            self._ser.baudrate = baud
        except (termios.error, serial.SerialException) as exc:
            # a pseudo-terminal (the emulated bench, a socat bridge) has no line speed, and
            # Linux sometimes refuses the termios change on one: nothing to switch there
            if not self.port.startswith("/dev/pts/"):
                raise OpticalError("baud switch", f"cannot set {baud} baud: {exc}") from None

    def _write(self, data: bytes) -> None:
        log.debug("optical <- %r", data)
        self._ser.write(data)
        self._ser.flush()

    def _read_until(self, step: str, done: Any) -> bytes:
        """Read until `done(buffer)` says the message is complete; a silence longer than the
        timeout is a NoAnswerError carrying what was received."""
        buf = b""
        last = time.monotonic()
        while True:
            try:
                chunk = self._ser.read(max(1, self._ser.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise NoAnswerError(step, f"the line went away ({exc})", buf) from None
            now = time.monotonic()
            if chunk:
                buf += chunk
                last = now
                end = done(buf)
                if end:
                    log.debug("optical -> %r", buf[:end])
                    return buf[:end]
            elif now - last > self.timeout:
                raise NoAnswerError(step, "no answer within the timeout", buf)

    @staticmethod
    def _line(buf: bytes) -> int:
        i = buf.find(b"\r\n")
        return i + 2 if i >= 0 else 0

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

    def _sign_on(self) -> Identification:
        last: OpticalError | None = None
        for attempt in range(self.retries + 1):
            self._set_baud(300)
            self._ser.reset_input_buffer()
            self._write(request(self.address))
            try:
                line = self._read_until("sign-on", self._line)
            except NoAnswerError as exc:
                last = exc
                log.info("no identification (attempt %d)", attempt + 1)
                time.sleep(0.2)
                continue
            try:
                ident = parse_identification(line)
            except FrameError as exc:
                raise OpticalError("identification", str(exc), line) from None
            if ident.mode_e:
                raise ModeEError(
                    "identification",
                    f"meter {ident.manufacturer} offers mode E (\\2: DLMS/HDLC binary); this "
                    "client speaks IEC 62056-21 mode C only — use a DLMS client", line)
            self.identification = ident
            return ident
        assert last is not None
        raise last

    def _select(self, ident: Identification, mode: str) -> None:
        char = ident.baud_char if self.baud_change and ident.baud_char.isdigit() else "0"
        self._write(option_select(char, mode))
        if char != "0":
            # the meter answers tr >= 20/200 ms after the ACK, at the new rate: switch now
            self._set_baud(ident.baud)

    # --- readout ------------------------------------------------------------------------------

    def readout(self) -> list[Register]:
        """The full data readout, parsed into registers (BCC checked)."""
        if self._in_session:
            self._break()
        ident = self._sign_on()
        self._select(ident, "0")
        frame = self._read_until("readout", self._block)
        try:
            return parse_readout(frame)
        except BCCMismatch as exc:
            raise BCCError("readout", str(exc), frame) from None
        except FrameError as exc:
            raise OpticalError("readout", str(exc), frame) from None

    # --- programming mode -----------------------------------------------------------------------

    def open_session(self) -> None:
        """Sign on in programming mode and send the password."""
        ident = self._sign_on()
        self._select(ident, "1")
        operand = self._read_until("password operand (P0)", self._block)
        if operand[:1] != b"\x01":
            raise OpticalError("password operand (P0)", "expected SOH P0", operand)
        if self.password is not None:
            self._write(command("P1", f"({self.password})"))
            answer = self._read_until("password (P1)", self._block)
            if answer[:1] != bytes([ACK]):
                raise OpticalError("password (P1)", "the meter refused the password", answer)
        self._in_session = True

    def read(self, obis: str) -> Register:
        """Read one register in the programming session (opened or re-opened as needed)."""
        for attempt in range(2):
            if not self._in_session:
                self.open_session()
            self._write(command("R1", f"{obis}()"))
            try:
                frame = self._read_until(f"read {obis}", self._block)
            except NoAnswerError:
                self._in_session = False  # the meter went back to start: sign on again
                if attempt:
                    raise
                continue
            if frame[:1] == bytes([NAK]):
                continue
            try:
                body = split_block(frame).decode("ascii", "replace")
            except BCCMismatch as exc:
                raise BCCError(f"read {obis}", str(exc), frame) from None
            except FrameError as exc:
                raise OpticalError(f"read {obis}", str(exc), frame) from None
            if body.startswith("(ERROR"):
                raise OpticalError(f"read {obis}", "the meter answered (ERROR)", frame)
            return parse_data_set(body)
        raise OpticalError(f"read {obis}", "no valid answer after a new sign-on")

    def read_many(self, addresses: list[str]) -> dict[str, Register]:
        return {a: self.read(a) for a in addresses}

    def _break(self) -> None:
        with contextlib.suppress(serial.SerialException):
            self._write(command("B0"))
        self._in_session = False

    def close(self) -> None:
        """End any session with a break (B0) and close the port."""
        if self._ser.is_open:
            if self._in_session:
                self._break()
            self._ser.close()

    def __enter__(self) -> OpticalPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
