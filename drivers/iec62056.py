"""IEC 62056-21 messages: framing, block check character, identification and data sets.

Pure functions on bytes, so the optical driver's byte handling is testable without a port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOH, STX, ETX, EOT, ACK, NAK = 0x01, 0x02, 0x03, 0x04, 0x06, 0x15
CRLF = b"\r\n"
BAUD_MODE_C = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
BAUD_MODE_B = {"A": 600, "B": 1200, "C": 2400, "D": 4800, "E": 9600, "F": 19200}
_DATA_SET = re.compile(r"^([^()/!]*)\(([^()]*)\)$")


class FrameError(ValueError):
    """A message that is not what IEC 62056-21 says it should be."""


def bcc(data: bytes) -> int:
    """XOR of the bytes after SOH (or the first STX) up to and including ETX/EOT, 7 bits."""
    value = 0
    for b in data:
        value ^= b
    return value & 0x7F


def request(address: str = "") -> bytes:
    """Sign-on request `/?[address]!CR LF`."""
    if len(address) > 32 or any(c in address for c in "/!?"):
        raise ValueError(f"device address {address!r}: at most 32 characters, no / ! ?")
    return b"/?" + address.encode("ascii") + b"!" + CRLF


def option_select(baud_char: str, mode: str, protocol: str = "0") -> bytes:
    """Acknowledgement/option select `ACK V Z Y CR LF` (mode 0 readout, 1 programming)."""
    return bytes([ACK]) + f"{protocol}{baud_char}{mode}".encode("ascii") + CRLF


def command(cmd: str, data: str | None = None) -> bytes:
    """A programming command `SOH C D [STX data] ETX BCC`."""
    body = cmd.encode("ascii")
    if data is not None:
        body += bytes([STX]) + data.encode("ascii")
    body += bytes([ETX])
    return bytes([SOH]) + body + bytes([bcc(body)])


@dataclass(frozen=True)
class Identification:
    """What the meter said at sign-on: `/XXXZ[\\W]ident`."""

    manufacturer: str
    baud_char: str
    ident: str
    enhanced: str | None  # the enhanced capability character after a backslash

    @property
    def fast_reaction(self) -> bool:
        """A lower-case third letter allows a 20 ms reaction time."""
        return self.manufacturer[2].islower()

    @property
    def mode_e(self) -> bool:
        """Enhanced character 2: the meter offers binary mode E (DLMS/HDLC)."""
        return self.enhanced == "2"

    @property
    def baud(self) -> int:
        return BAUD_MODE_C.get(self.baud_char) or BAUD_MODE_B.get(self.baud_char) or 300


def ascii_text(data: bytes, what: str) -> str:
    """IEC 62056-21 messages are 7-bit ASCII: a byte with the top bit set is line noise or a
    wrong parity setting, never a character."""
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise FrameError(f"{what} has a non-ASCII byte 0x{data[exc.start]:02X} at offset "
                         f"{exc.start}: {data[:60]!r}") from None


def parse_identification(line: bytes) -> Identification:
    """`/XXXZ[\\W]ident CR LF`: three letters of manufacturer, the baud rate character, an
    optional enhanced capability pair, then printable identification characters."""
    text = ascii_text(line, "identification").removesuffix("\r\n")
    if not text.startswith("/") or len(text) < 5:
        raise FrameError(f"identification must be '/XXXZ...', got {line!r}")
    manufacturer, baud_char, rest = text[1:4], text[4], text[5:]
    if not manufacturer.isalpha():
        raise FrameError(f"identification manufacturer {manufacturer!r} is not three letters, "
                         f"got {line!r}")
    if not baud_char.isprintable() or baud_char in "/!":
        raise FrameError(f"identification baud rate character {baud_char!r} is not printable, "
                         f"got {line!r}")
    enhanced = None
    if rest.startswith("\\") and len(rest) >= 2:
        enhanced, rest = rest[1], rest[2:]
    if not rest.isprintable() or any(c in rest for c in "/!"):
        raise FrameError(f"identification text {rest!r} has a control character or / !, "
                         f"got {line!r}")
    return Identification(manufacturer, baud_char, rest, enhanced)


def identification(manufacturer: str, baud_char: str, ident: str,
                   enhanced: str | None = None) -> bytes:
    """The identification message a meter sends (the inverse of parse_identification)."""
    pair = "" if enhanced is None else "\\" + enhanced
    return f"/{manufacturer}{baud_char}{pair}{ident}".encode("ascii") + CRLF


@dataclass(frozen=True)
class Register:
    """One data set: address (OBIS code), value, unit."""

    obis: str
    value: str
    unit: str

    def as_dict(self) -> dict[str, str]:
        return {"obis": self.obis, "value": self.value, "unit": self.unit}


def parse_data_set(text: str) -> Register:
    match = _DATA_SET.match(text.strip())
    if not match:
        raise FrameError(f"data set must be 'address(value[*unit])', got {text!r}")
    address, inner = match.groups()
    value, _, unit = inner.partition("*")
    return Register(address, value, unit)


def data_set(register: Register) -> str:
    """`address(value*unit)`, or `address(value)` without a unit."""
    unit = f"*{register.unit}" if register.unit else ""
    return f"{register.obis}({register.value}{unit})"


class AddressMismatch(FrameError):
    """An answer to R1 that carries a data set for another address than the one asked."""

    def __init__(self, asked: str, answered: str) -> None:
        super().__init__(f"asked for address {asked!r}, the answer is for {answered!r}")
        self.asked, self.answered = asked, answered


def parse_read_answer(body: str, address: str) -> Register:
    """The data set answering `R1 address()`: `address(value*unit)`, or `(value*unit)` alone
    (some meters leave the address out); a data set for any other address is refused, so one
    register's value is never taken for another's."""
    register = parse_data_set(body)
    if register.obis == "":
        return Register(address, register.value, register.unit)
    if register.obis.strip() != address.strip():
        raise AddressMismatch(address, register.obis)
    return register


def split_block(frame: bytes) -> bytes:
    """Check `STX body ETX BCC` and return body (without ETX); FrameError on a bad BCC."""
    if len(frame) < 3 or frame[0] != STX or frame[-2] not in (ETX, EOT):
        raise FrameError(f"data message must be STX ... ETX BCC, got {frame[:40]!r}...")
    body = frame[1:-1]
    if bcc(body) != frame[-1]:
        raise BCCMismatch(frame[-1], bcc(body))
    return body[:-1]


class BCCMismatch(FrameError):
    def __init__(self, got: int, expected: int) -> None:
        super().__init__(f"block check character is 0x{got:02X}, the data give 0x{expected:02X}")
        self.got, self.expected = got, expected


def parse_readout(frame: bytes) -> list[Register]:
    """A data readout message -> its registers (BCC checked)."""
    body = ascii_text(split_block(frame), "data readout")
    # IEC 62056-21 6.3.14: the data block ends with the end line "!" CR LF, before ETX: a
    # readout without it was cut short (the meter may have more to say), never complete
    if not (body == "!\r\n" or body.endswith("\r\n!\r\n")):
        raise FrameError(f"data readout: no end line '!' CR LF before ETX (ends {body[-12:]!r})")
    registers = []
    for line in body[:-3].split("\r\n"):
        line = line.strip()
        if not line:
            continue
        if line == "!":
            raise FrameError("data readout: an end line '!' before the last data line")
        registers.append(parse_data_set(line))
    return registers


def data_block(body: bytes, end: int = ETX) -> bytes:
    """`STX body ETX BCC` (the inverse of split_block)."""
    tail = body + bytes([end])
    return bytes([STX]) + tail + bytes([bcc(tail)])
