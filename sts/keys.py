"""Decoder keys: key types and the decoder key generation algorithms DKGA02 and DKGA04.

The vending side never stores a meter's decoder key: it derives it from the vending key and
the meter's identity (PAN, supply group, tariff index, key revision, key type, and for DKGA04
the base date and the algorithm). DKGA01 and DKGA03 are refused: DKGA01's cipher step is not
public, and the 2018 edition withdrew DKGA03. Every input is checked, and a bad one is a
KeyFormatError naming the field; no message ever contains a key.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import IntEnum
from functools import lru_cache

from Crypto.Cipher import DES

from sts.ciphers import normalise_ea
from sts.errors import KeyFormatError
from sts.pan import MeterPAN

__all__ = ["BASE_DATES", "VENDING_KEY_BYTES", "KeyType", "check_base_date", "check_krn",
           "check_kt", "check_sgc", "check_ti", "control_block", "derive_decoder_key", "dkga02",
           "dkga04", "dkga04_message"]

BASE_DATES = (1993, 2014, 2035)
#: the vending key's length in bytes per decoder key generation algorithm
VENDING_KEY_BYTES = {"02": 8, "04": 20}
MASK64 = (1 << 64) - 1


class KeyType(IntEnum):
    """IEC 62055-41 6.5.2.3 key types (KT)."""

    DITK = 0  # initialisation key, no KRN
    DDTK = 1  # default key: credit tokens under it are refused
    DUTK = 2  # unique key: the normal case
    DCTK = 3  # common key: magnetic-card meters only


def _plain_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_sgc(sgc: str) -> str:
    """Supply group code: 6 decimal digits. Give it as text so leading zeros survive; an int
    is taken only when it is 6 digits long."""
    text = sgc.strip() if isinstance(sgc, str) else str(sgc) if _plain_int(sgc) else ""
    if not (text.isascii() and text.isdigit() and len(text) == 6):
        raise KeyFormatError(f"supply group code (SGC) must be 6 digits, got {sgc!r}")
    return text


def check_ti(ti: str | int) -> str:
    """Tariff index: "01".."99" (an int 1..99 is written with 2 digits)."""
    text = f"{ti:02d}" if _plain_int(ti) and 0 <= ti <= 99 else (
        ti.strip() if isinstance(ti, str) else "")
    if not (text.isascii() and text.isdigit() and len(text) == 2) or text == "00":
        raise KeyFormatError(f"tariff index (TI) must be 2 digits 01-99, got {ti!r}")
    return text


def check_krn(krn: int) -> int:
    """Key revision number: 1..9."""
    if not _plain_int(krn) or not 1 <= krn <= 9:
        raise KeyFormatError(f"key revision number (KRN) must be 1-9, got {krn!r}")
    return int(krn)


def check_kt(kt: int) -> int:
    """Key type: 0 DITK, 1 DDTK, 2 DUTK, 3 DCTK."""
    if not _plain_int(kt) or not 0 <= kt <= 3:
        raise KeyFormatError(f"key type (KT) must be 0-3 (DITK, DDTK, DUTK, DCTK), got {kt!r}")
    return int(kt)


def check_base_date(base_date: int | str) -> int:
    """Base date year: 1993, 2014 or 2035 (the two-digit codes 93/14/35 are accepted)."""
    try:
        year = int(base_date) if not isinstance(base_date, bool) else -1
    except (TypeError, ValueError):
        year = -1
    if year in (93, 14, 35):
        year += 1900 if year == 93 else 2000
    if year not in BASE_DATES:
        raise KeyFormatError(f"base date must be 1993, 2014 or 2035, got {base_date!r}")
    return year


def _meter(pan: str | MeterPAN) -> MeterPAN:
    return pan if isinstance(pan, MeterPAN) else MeterPAN.parse(pan)


def _vending_key(vending_key: bytes, size: int, dkga: str) -> bytes:
    if not isinstance(vending_key, (bytes, bytearray)):
        raise KeyFormatError(f"DKGA{dkga} vending key must be bytes, got "
                             f"{type(vending_key).__name__} (parse hex with parse_key_hex)")
    if len(vending_key) != size:
        raise KeyFormatError(f"DKGA{dkga} needs a {size * 8}-bit vending key ({size * 2} hex "
                             f"digits), got {len(vending_key) * 8} bits")
    return bytes(vending_key)


def control_block(kt: int, sgc: str, ti: str, krn: int) -> int:
    """CONTROLBlock of 6.5.3.2: KT | SGC | TI | KRN | FFFFFF, as 16 hex nibbles."""
    text = f"{check_kt(kt)}{check_sgc(sgc)}{check_ti(ti)}{check_krn(krn)}FFFFFF"
    return int(text, 16)


@lru_cache(maxsize=16)
def _des(vending_key: bytes):  # pycryptodome's DES cipher objects have no public type
    return DES.new(vending_key, DES.MODE_ECB)


def dkga02(vending_key: bytes, pan: str | MeterPAN, sgc: str, ti: str, krn: int,
           kt: int) -> bytes:
    """DKGA02 (6.5.3.4), single DES keyed with the 64-bit vending key:
    X = PANBlock ^ CONTROLBlock; DK = DES_VK(X) ^ X ^ VK (8 bytes, big-endian)."""
    vk = _vending_key(vending_key, VENDING_KEY_BYTES["02"], "02")
    x = _meter(pan).pan_block_for(check_kt(kt)) ^ control_block(kt, sgc, ti, krn)
    enc = int.from_bytes(_des(vk).encrypt(x.to_bytes(8, "big")), "big")
    return ((enc ^ x ^ int.from_bytes(vk, "big")) & MASK64).to_bytes(8, "big")


def dkga04_message(pan: str | MeterPAN, sgc: str, ti: str, krn: int, kt: int,
                   base_date: int, ea: str) -> bytes:
    """The KDF-HMAC-SHA-256 input of DKGA04: label, 0x00, context, decoder key length.

    label   = 04 | 02 "04" | 02 BD | 02 EA | 02 TI
    context = 04 | 06 SGC | 01 KT | 01 KRN | 12 MeterPAN   (each field length-prefixed ASCII)
    then the decoder key length in bits as 4 big-endian bytes (64 for EA07/09, 128 for EA11).
    """
    meter = _meter(pan)
    code = normalise_ea(ea)
    bd = f"{check_base_date(base_date) % 100:02d}"
    bits = 128 if code == "11" else 64

    def field(text: str) -> bytes:
        return bytes([len(text)]) + text.encode("ascii")

    label = b"\x04" + field("04") + field(bd) + field(code) + field(check_ti(ti))
    context = (b"\x04" + field(check_sgc(sgc)) + field(f"{check_kt(kt):X}")
               + field(str(check_krn(krn))) + field(meter.digits))
    return label + b"\x00" + context + bits.to_bytes(4, "big")


def dkga04(vending_key: bytes, pan: str | MeterPAN, sgc: str, ti: str, krn: int, kt: int,
           base_date: int, ea: str) -> bytes:
    """DKGA04 (2018): HMAC-SHA-256 keyed with the 160-bit vending key over
    `dkga04_message`; the decoder key is the first 8 bytes (EA07/EA09) or 16 bytes (EA11)."""
    vk = _vending_key(vending_key, VENDING_KEY_BYTES["04"], "04")
    msg = dkga04_message(pan, sgc, ti, krn, kt, base_date, ea)
    mac = hmac.digest(vk, msg, hashlib.sha256)
    return mac[: 16 if normalise_ea(ea) == "11" else 8]


def derive_decoder_key(*, dkga: str, vending_key: bytes, pan: str | MeterPAN, sgc: str,
                       ti: str, krn: int, kt: int, base_date: int = 1993,
                       ea: str = "07") -> bytes:
    """The meter's decoder key from the vending key, by DKGA02 or DKGA04 (8 or 16 bytes)."""
    text = str(dkga).strip()
    code = f"{int(text):02d}" if text.isascii() and text.isdigit() else text
    if code == "02":
        if normalise_ea(ea) == "11":
            raise KeyFormatError("DKGA02 makes 64-bit decoder keys; EA11 (MISTY1) needs a "
                                 "128-bit key from DKGA04")
        check_base_date(base_date)  # not an input of DKGA02, but still must be valid
        return dkga02(vending_key, pan, sgc, ti, krn, kt)
    if code == "04":
        return dkga04(vending_key, pan, sgc, ti, krn, kt, base_date, ea)
    if code in ("01", "03"):
        raise KeyFormatError(
            f"DKGA{code} is not supported: DKGA01's cipher step is not public (legacy meters "
            "only) and IEC 62055-41:2018 withdrew DKGA03's triple DES; use DKGA02 or DKGA04"
        )
    raise KeyFormatError(f"unknown decoder key generation algorithm DKGA{dkga!s} "
                         "(supported: 02, 04)")
