"""The emulated meter's optical port: IEC 62056-21 mode C on a pseudo-terminal.

Sign-on at 300 baud, identification with the baud-rate character, the acknowledgement/option
select, then either the data readout or programming mode (password P1, single-register reads
R1, break B0). Output is paced at the agreed baud rate (10 bits a character, 7E1 framing) as
a real optical link is, and answers come after the declared reaction time. The pacing is real
time; the values come from the model at the moment of the request.
"""

from __future__ import annotations

import logging
import time

from emulator.model import BenchModel
from emulator.pty_port import PtyServer

log = logging.getLogger("emulator.optical")

SOH, STX, ETX, EOT, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x04", b"\x06", b"\x15"
BAUD = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
INACTIVITY_S = 60.0
MAX_BUFFER = 512


def bcc(data: bytes) -> int:
    """Block check character: XOR of the bytes after SOH/STX up to and including ETX."""
    value = 0
    for b in data:
        value ^= b
    return value & 0x7F


def data_set(address: str, value: str, unit: str) -> str:
    return f"{address}({value}*{unit})" if unit else f"{address}({value})"


class OpticalPortServer(PtyServer):
    """Serves IEC 62056-21 mode C for one BenchModel until `stop()`."""

    name = "optical"

    def __init__(self, model: BenchModel) -> None:
        super().__init__()
        self.model = model
        ident = model.identity
        self.baud_char = ident.baud_char
        self.identification = f"/{ident.manufacturer_id}{self.baud_char}STS-EMU-{ident.firmware}"
        self.reaction_s = max(ident.reaction_ms, 20) / 1000.0
        self.bad_bcc = "bad-bcc" in model.faults
        self.baud = 300
        self.state = "START"
        self._last_sent = b""
        self._bad_passwords = 0
        self._authorised = False
        self._last_rx = time.monotonic()

    # --- link ---------------------------------------------------------------------------------

    def _send(self, data: bytes, remember: bool = True) -> None:
        time.sleep(self.reaction_s)
        per_char = 10.0 / self.baud
        chunk = max(1, int(0.02 / per_char))  # pace in ~20 ms slices
        for i in range(0, len(data), chunk):
            piece = data[i : i + chunk]
            self.port.write(piece)
            time.sleep(len(piece) * per_char)
        if remember:
            self._last_sent = data
        log.debug("optical -> %r at %d baud", data, self.baud)

    def _frame(self, body: bytes) -> bytes:
        check = bcc(body) ^ (0x01 if self.bad_bcc else 0)
        return STX + body + bytes([check])

    def _to_start(self) -> None:
        self.state = "START"
        self.baud = 300
        self._bad_passwords = 0
        self._authorised = False

    # --- protocol -----------------------------------------------------------------------------

    def _run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            data = self.port.read(0.1)
            now = time.monotonic()
            if not data:
                if self.state != "START" and now - self._last_rx > INACTIVITY_S:
                    self._to_start()
                continue
            self._last_rx = now
            if not self.model.powered():  # no supply, no optical port
                buf = b""
                self._to_start()
                continue
            buf += data
            buf = self._consume(buf)
            if len(buf) > MAX_BUFFER:
                buf = b""
                self._to_start()

    def _consume(self, buf: bytes) -> bytes:
        """Handle every complete message at the front of `buf`; return what is left."""
        while buf:
            before = buf
            if self.state == "PROG":
                buf = self._programming(buf)
            elif self.state == "IDENT" and buf[:1] == ACK:
                buf = self._option_select(buf)
            else:
                buf = self._request(buf)
            if buf == before:
                break
        return buf

    def _request(self, buf: bytes) -> bytes:
        start = buf.find(b"/")
        if start < 0:
            return b""  # line noise
        buf = buf[start:]
        end = buf.find(b"!\r\n")
        if end < 0:
            return buf
        message, rest = buf[: end + 3], buf[end + 3 :]
        if message[:2] != b"/?":
            return rest
        address = message[2:end].decode("ascii", "replace").strip()
        self._to_start()
        if address and address.lstrip("0") != self.model.identity.drn.lstrip("0"):
            return rest  # another device's address: stay silent
        self._send(self.identification.encode("ascii") + b"\r\n")
        self.state = "IDENT"
        return rest

    def _option_select(self, buf: bytes) -> bytes:
        end = buf.find(b"\r\n")
        if end < 0:
            return buf
        message, rest = buf[:end], buf[end + 2 :]
        if len(message) != 4:
            self._to_start()
            return rest
        _, z, y = chr(message[1]), chr(message[2]), chr(message[3])
        if z == self.baud_char:
            self.baud = BAUD.get(z, 300)
        if y == "0":
            self._readout()
            self._to_start()
        elif y == "1":
            operand = f"({self.model.identity.drn})".encode("ascii")
            body = b"P0" + STX + operand + ETX
            self._send(SOH + body + bytes([bcc(body) ^ (0x01 if self.bad_bcc else 0)]))
            self.state = "PROG"
        else:
            self._to_start()
        return rest

    def _readout(self) -> None:
        lines = "".join(data_set(a, v, u) + "\r\n" for a, v, u in self.model.readout())
        body = (lines + "!\r\n").encode("ascii") + ETX
        self._send(self._frame(body))

    def _programming(self, buf: bytes) -> bytes:
        if buf[:1] == NAK:
            if self._last_sent:
                self._send(self._last_sent)
            return buf[1:]
        if buf[:1] == b"/":
            self._to_start()
            return self._request(buf)
        start = buf.find(SOH)
        if start < 0:
            return b""
        buf = buf[start:]
        end = buf.find(ETX)
        if end < 0 or len(buf) < end + 2:
            return buf
        body, check, rest = buf[1 : end + 1], buf[end + 1], buf[end + 2 :]
        if bcc(body) != check:
            self._send(NAK, remember=False)
            return rest
        command = body[:2].decode("ascii", "replace")
        payload = body[3:-1].decode("ascii", "replace") if body[2:3] == STX else ""
        if command == "B0":
            self._to_start()
        elif command == "P1":
            if payload == f"({self.model.identity.password})":
                self.state = "PROG"
                self._authorised = True
                self._send(ACK)
            else:
                self._bad_passwords += 1
                if self._bad_passwords >= 3:
                    self._send(self._frame(b"(ERROR)" + ETX))
                    self._to_start()
                else:
                    self._send(NAK, remember=False)
        elif command == "R1" and self._authorised:
            address = payload.split("(", 1)[0]
            found = self.model.read_register(address)
            text = data_set(address, *found) if found else "(ERROR)"
            self._send(self._frame(text.encode("ascii") + ETX))
        else:
            self._send(self._frame(b"(ERROR)" + ETX))
        return rest
