"""SCPI answers -> values: numbers, booleans, lists, *IDN? and SYST:ERR? entries.

Pure functions, so each check is testable without an instrument. SCPI-99 (7.2.1) writes
+9.9E37 for "overload/infinity", -9.9E37 for minus infinity and 9.91E37 for "not a number":
a DMM over range answers that, and it is no reading. Python's float() would also take "nan",
"inf" or "1_0"; only IEEE 488.2 decimal numeric forms (NR1, NR2, NR3) are accepted here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from drivers.instruments.errors import AnswerError

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
SCPI_OVERLOAD = 9.9e37
SCPI_NAN = 9.91e37
TRUE, FALSE = ("1", "+1", "ON"), ("0", "+0", "OFF")


def _shown(received: bytes) -> str:
    if len(received) <= 120:
        return repr(received)
    return f"{received[:80]!r} ... {received[-40:]!r}"


def _refuse(command: str, text: str, wanted: str) -> AnswerError:
    shown = text if len(text) <= 80 else text[:60] + " ... " + text[-16:]
    return AnswerError(f"{command}: answer {shown!r} is not {wanted}", command=command,
                       received=text.encode("ascii", "backslashreplace"))


def decode_answer(command: str, raw: bytes) -> str:
    """An answer line as text, without its line end; SCPI answers are ASCII (IEEE 488.2)."""
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise AnswerError(f"{command}: the answer has a non-ASCII byte 0x{raw[exc.start]:02X} "
                          f"at offset {exc.start} (received {len(raw)} bytes: {_shown(raw)})",
                          command=command, received=raw) from None


def parse_number(command: str, text: str) -> float:
    """One decimal number, finite and no SCPI overload/NaN marker."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise _refuse(command, text, "a decimal number")
    value = float(text)
    if not math.isfinite(value) or abs(value) >= SCPI_OVERLOAD:
        marker = "not a number" if math.isclose(abs(value), SCPI_NAN) else "overload"
        raise _refuse(command, text, f"a reading (SCPI {marker} value)")
    return value


def parse_numbers(command: str, text: str, count: int | None = None) -> list[float]:
    """A comma-separated list of numbers (`count` of them, when given)."""
    fields = text.split(",")
    if count is not None and len(fields) != count:
        raise _refuse(command, text, f"{count} comma-separated numbers")
    return [parse_number(command, f) for f in fields]


def parse_bool(command: str, text: str) -> bool:
    """A SCPI boolean: 1/0, ON/OFF."""
    word = text.strip().upper()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise _refuse(command, text, "a boolean (1, 0, ON, OFF)")


@dataclass(frozen=True)
class Identity:
    """The fields of an *IDN? answer: IEEE 488.2 (4.1.3.6 / 10.14) has four; a model that
    reports more firmware versions (Chroma 61500: display, waveform, remote) keeps them all,
    comma-separated, in `firmware`."""

    manufacturer: str
    model: str
    serial: str
    firmware: str


def parse_idn(command: str, text: str) -> Identity:
    """`manufacturer,model,serial,firmware[,firmware...]`; the first two not empty. Four
    fields is IEEE 488.2's form; some makers send more firmware fields after the serial."""
    fields = [f.strip() for f in text.split(",")]
    if len(fields) < 4 or len(fields) > 8 or not fields[0] or not fields[1] \
            or not all(f.isprintable() for f in fields):
        raise _refuse(command, text, "an identification 'manufacturer,model,serial,firmware'")
    return Identity(fields[0], fields[1], fields[2], ",".join(fields[3:]))


def parse_error(command: str, text: str) -> tuple[int, str]:
    """A SYST:ERR? entry `<code>,"<text>"` -> (code, text); code 0 means the queue is empty."""
    code, sep, message = text.partition(",")
    if not sep or not _INTEGER.fullmatch(code.strip()):
        raise _refuse(command, text, 'an error queue entry <code>,"<text>"')
    return int(code), message.strip().strip('"')


def parse_block_header(command: str, text: str) -> str:
    """Strip an IEEE 488.2 definite-length block header `#<n><length>` from ASCII data."""
    if not text.startswith("#"):
        return text
    if len(text) < 2 or not text[1].isdigit() or text[1] == "0":
        raise _refuse(command, text, "a definite-length block '#<n><length>...'")
    digits = int(text[1])
    if len(text) < 2 + digits or not text[2:2 + digits].isdigit():
        raise _refuse(command, text, "a definite-length block '#<n><length>...'")
    return text[2 + digits:]
