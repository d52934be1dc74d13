"""The emulated meter's optical port: IEC 62056-21 mode C on a pseudo-terminal.

Sign-on at 300 baud, identification with the baud-rate character, the acknowledgement/option
select, then either the data readout or programming mode (password P1, single-register reads
R1, break B0). Output is paced as a real optical link is (10 bits a character at the agreed
rate, 7E1) after the declared reaction time; that pacing is real time, whatever the bench
clock's speed. The values come from the model at the moment of the request.

Robustness, as a meter must be: line noise is dropped up to the next `/` and the link goes
back to start; a command with a wrong BCC is answered NAK; a NAK makes the meter repeat its
last message; 60 s without valid traffic, or a break (B0), returns to start at 300 baud.
A sign-on request restarts the link whatever came before it: the meter listens while it
talks, and a new request discards the input queued before it and the rest of an answer
being sent, so a burst of requests costs one identification, not one each.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from emulator.model import BenchModel
from emulator.pty_port import PtyServer

log = logging.getLogger("emulator.optical")

SOH, STX, ETX, ACK, NAK = 0x01, 0x02, 0x03, 0x06, 0x15
CRLF = b"\r\n"
BAUD = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
INACTIVITY_S = 60.0      # no valid traffic: back to start (IEC 62056-21: 60..120 s)
CHAR_GAP_S = 1.5         # ta: a message interrupted longer than this is dropped
PACE_SLICE_S = 0.02      # output is paced in slices of about this length
MAX_BUFFER = 1024        # a "message" longer than this is noise
MAX_HEARD = 4 * MAX_BUFFER  # input held while answering; older input beyond it is dropped
MAX_PASSWORD_TRIES = 3
SLOW_REACTION_S = 1.8    # fault slow-reaction: past the standard's 1.5 s maximum tr
_ADDRESS = re.compile(r"^[0-9A-Za-z ]{0,32}$")
_STARTS = (ord("/"), SOH, ACK, NAK)
_REQUEST = re.compile(rb"/\?[0-9A-Za-z ]{0,32}!\r\n")


def from_last_request(buf: bytes) -> bytes:
    """`buf` from its last complete sign-on request on (all of it if it holds none): what
    came before a new request is stale."""
    starts = [found.start() for found in _REQUEST.finditer(buf)]
    return buf[starts[-1]:] if starts else buf


def bcc(data: bytes) -> int:
    """Block check character: XOR of the bytes after SOH (or STX) up to and including ETX,
    in 7 bits."""
    value = 0
    for b in data:
        value ^= b
    return value & 0x7F


def data_set(address: str, value: str, unit: str) -> str:
    """`address(value*unit)`; characters a data set may not carry are replaced by blanks."""
    clean = value.translate(str.maketrans("()*/!", "     "))
    return f"{address}({clean}*{unit})" if unit else f"{address}({clean})"


@dataclass(frozen=True)
class Message:
    """One message from the client: `kind` is REQUEST, OPTION, NAK, COMMAND or NOISE."""

    kind: str
    text: str = ""          # REQUEST: the address; OPTION: V Z Y; COMMAND: e.g. "R1"
    data: str = ""          # COMMAND: what is between STX and ETX
    bcc_ok: bool = True


def split_message(buf: bytes) -> tuple[Message | None, bytes]:
    """The first message at the front of `buf` and what follows it; (None, buf) while the
    message is still incomplete. Bytes that start no message come back as NOISE."""
    first = buf[0]
    if first == ord("/"):
        end = buf.find(b"!\r\n")
        again = buf.find(b"/", 1)
        if again >= 0 and (end < 0 or again < end):
            return Message("NOISE"), buf[again:]
        if end < 0:
            return (Message("NOISE"), buf[1:]) if len(buf) > 40 else (None, buf)
        body = buf[1:end].decode("ascii", "replace")
        if not body.startswith("?") or not _ADDRESS.match(body[1:]):
            return Message("NOISE"), buf[end + 3 :]
        return Message("REQUEST", body[1:]), buf[end + 3 :]
    if first == ACK:
        if len(buf) < 6:
            return (None, buf) if CRLF[: max(len(buf) - 4, 0)] == buf[4:] else (
                Message("NOISE"), buf[1:])
        if buf[4:6] != CRLF:
            return Message("NOISE"), buf[1:]
        return Message("OPTION", buf[1:4].decode("ascii", "replace")), buf[6:]
    if first == NAK:
        return Message("NAK"), buf[1:]
    if first == SOH:
        end = buf.find(bytes([ETX]))
        if end < 0 or len(buf) < end + 2:
            return (Message("NOISE"), buf[1:]) if len(buf) > MAX_BUFFER else (None, buf)
        body, check = buf[1 : end + 1], buf[end + 1]
        text = body[:2].decode("ascii", "replace")
        data = b""
        if body[2:3] == bytes([STX]):
            data = body[3:-1]
        return (Message("COMMAND", text, data.decode("ascii", "replace"),
                        bcc_ok=bcc(body) == check), buf[end + 2 :])
    skip = 1
    while skip < len(buf) and buf[skip] not in _STARTS:
        skip += 1
    return Message("NOISE"), buf[skip:]


class OpticalPortServer(PtyServer):
    """Serves IEC 62056-21 mode C for one BenchModel until `stop()`."""

    name = "optical"

    def __init__(self, model: BenchModel, *, baud_char: str = "5", reaction_ms: float = 20.0,
                 bad_bcc: bool = False) -> None:
        super().__init__()
        self.model = model
        ident = model.identity
        self.manufacturer_id = ident.manufacturer_id
        self.baud_char = baud_char if baud_char in BAUD else "0"
        name = f"STS-EMU-{ident.firmware}".translate(str.maketrans("/!", "--"))[:16]
        self.identification = f"/{self.manufacturer_id}{self.baud_char}{name}".encode("ascii")
        # tr: 20 ms allowed only with a lower-case third letter, else 200 ms; at most 1.5 s
        lowest = 0.020 if self.manufacturer_id[2:3].islower() else 0.200
        self.reaction_s = min(max(reaction_ms / 1000.0, lowest), 1.5)
        self.bad_bcc = bad_bcc
        self.baud = 300
        self.state = "START"
        self._last_sent = b""
        self._password_tries = 0
        self._last_valid = time.monotonic()
        self._rx = b""            # received, not yet handled (7 bits a byte)
        self._last_byte = time.monotonic()

    # --- link ---------------------------------------------------------------------------------

    def _send(self, data: bytes, remember: bool = True) -> None:
        """Answer after the reaction time, each slice of characters written once it would
        have fully crossed a real link at the current baud rate."""
        if remember:
            self._last_sent = data
        if self._interrupted(self.reaction_s):
            return
        per_char = 10.0 / self.baud  # start bit, 7 data bits, parity, stop bit
        chunk = max(1, int(PACE_SLICE_S / per_char))
        start = time.monotonic()
        for i in range(0, len(data), chunk):
            piece = data[i : i + chunk]
            delay = start + (i + len(piece)) * per_char - time.monotonic()
            if delay > 0 and self._interrupted(delay):
                log.debug("optical: answer cut short after %d of %d bytes", i, len(data))
                return
            if not self.port.write(piece):
                return
        log.debug("optical -> %r at %d baud", data, self.baud)

    def _hear(self, data: bytes) -> None:
        self._rx = (self._rx + bytes(b & 0x7F for b in data))[-MAX_HEARD:]  # 7 data bits
        self._last_byte = time.monotonic()

    def _interrupted(self, seconds: float) -> bool:
        """Wait `seconds`, listening: True as soon as the server stops or a new sign-on
        request has come in (the answer being sent is then abandoned)."""
        end = time.monotonic() + seconds
        while not self._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            data = self.port.read(min(left, 0.05))
            if data:
                self._hear(data)
                if _REQUEST.search(self._rx):
                    return True
        return True

    def _frame(self, lead: bytes, body: bytes) -> bytes:
        """`lead` (STX or SOH) + body (ending ETX) + BCC; the bad-bcc fault spoils the BCC."""
        check = bcc(body) ^ (0x01 if self.bad_bcc else 0x00)
        return lead + body + bytes([check])

    def _data_message(self, text: str) -> bytes:
        return self._frame(bytes([STX]), text.encode("ascii", "replace") + bytes([ETX]))

    def _to_start(self) -> None:
        self.state = "START"
        self.baud = 300
        self._password_tries = 0

    # --- serving ------------------------------------------------------------------------------

    def _run(self) -> None:
        self._rx = b""
        while not self._stop.is_set():
            data = self.port.read(0.1)
            if data:
                self._hear(data)
                self._consume()
            elif self._rx and time.monotonic() - self._last_byte > CHAR_GAP_S:
                self._rx = b""  # an interrupted message
            if self.state != "START" and time.monotonic() - self._last_valid > INACTIVITY_S:
                log.debug("optical: %.0f s without valid traffic, back to start", INACTIVITY_S)
                self._to_start()

    def _consume(self) -> None:
        """Handle every complete message at the front of the input (answers may hear more)."""
        while self._rx:
            self._rx = from_last_request(self._rx)
            message, rest = split_message(self._rx)
            if message is None:
                return
            self._rx = rest
            if message.kind == "NOISE":
                if self.state != "START":
                    log.debug("optical: line noise in %s, back to start", self.state)
                self._to_start()
                continue
            if not self.model.powered():  # no supply, no optical port
                self._to_start()
                continue
            self._handle(message)

    def _handle(self, message: Message) -> None:
        kind, state = message.kind, self.state
        if kind == "REQUEST":
            self._request(message.text)
        elif state == "START":
            return  # only a sign-on request opens the link
        elif kind == "NAK":
            self._last_valid = time.monotonic()
            if self._last_sent:
                self._send(self._last_sent)
        elif kind == "OPTION" and state == "IDENT":
            self._last_valid = time.monotonic()
            self._option_select(message.text)
        elif kind == "COMMAND":
            self._command(message)
        else:
            self._to_start()

    def _request(self, address: str) -> None:
        self._to_start()
        mine = self.model.identity.drn.lstrip("0")
        if address and address.strip().lstrip("0") != mine:
            return  # another device's address: stay silent
        self._last_valid = time.monotonic()
        self.port.discard_output()  # what an earlier client left unread is stale now
        if "slow-reaction" in self.model.faults and self._interrupted(
                SLOW_REACTION_S - self.reaction_s):
            return  # fault slow-reaction: a new request came in while it dawdled
        self._send(self.identification + CRLF)
        self.state = "IDENT"

    def _option_select(self, text: str) -> None:
        _protocol, z, mode = text[0], text[1], text[2]
        if z == self.baud_char:
            self.baud = BAUD[z]  # else stay at 300 baud, as the standard says
        if mode == "0":
            lines = "".join(data_set(*row) + "\r\n" for row in self.model.offered_readout())
            self.state = "READOUT"
            end = "" if "readout-no-end" in self.model.faults else "!\r\n"
            self._send(self._data_message(lines + end))
        elif mode == "1":
            operand = f"P0\x02({self.model.identity.drn})\x03".encode("ascii")
            self.state = "PASSWORD"
            self._send(self._frame(bytes([SOH]), operand))
        else:
            self._to_start()  # binary (HDLC) and manufacturer modes are not offered

    def _command(self, message: Message) -> None:
        if self.state not in ("PASSWORD", "PROG"):
            if message.text == "B0" and message.bcc_ok:
                self._to_start()
            elif not message.bcc_ok:
                self._send(bytes([NAK]), remember=False)
            else:
                self._to_start()
            return
        if not message.bcc_ok:
            self._send(bytes([NAK]), remember=False)
            return
        self._last_valid = time.monotonic()
        command = message.text
        if command == "B0":
            self._to_start()
        elif command == "P1":
            self._password(message.data)
        elif command == "R1" and self.state == "PROG":
            address = message.data.split("(", 1)[0].strip()
            found = self.model.read_offered(address) if address else None
            text = data_set(address, *found) if found else "(ERROR)"
            self._send(self._data_message(text))
        else:
            self._send(self._data_message("(ERROR)"))

    def _password(self, data: str) -> None:
        if data == f"({self.model.identity.password})":
            self.state = "PROG"
            self._password_tries = 0
            self._send(bytes([ACK]))
            return
        self._password_tries += 1
        if self._password_tries >= MAX_PASSWORD_TRIES:
            self._send(self._data_message("(ERROR)"))
            self._to_start()
        else:
            self._send(bytes([NAK]), remember=False)
