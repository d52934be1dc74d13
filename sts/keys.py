"""Decoder keys: key types and the decoder key generation algorithms DKGA02 and DKGA04.

The vending side never stores a meter's decoder key: it derives it from the vending key and
the meter's identity (PAN, supply group, tariff index, key revision, key type, and for DKGA04
the base date and the algorithm). DKGA01 and DKGA03 are refused: DKGA01's cipher step is not
public, and the 2018 edition withdrew DKGA03.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import IntEnum

from Crypto.Cipher import DES

from sts.ciphers import normalise_ea
from sts.errors import KeyFormatError
from sts.pan import MeterPAN

__all__ = ["BASE_DATES", "KeyType", "control_block", "derive_decoder_key", "dkga02", "dkga04"]

BASE_DATES = (1993, 2014, 2035)
MASK64 = (1 << 64) - 1


class KeyType(IntEnum):
    """IEC 62055-41 6.5.2.3 key types (KT)."""

    DITK = 0  # initialisation key, no KRN
    DDTK = 1  # default key: credit tokens under it are refused
    DUTK = 2  # unique key: the normal case
    DCTK = 3  # common key: magnetic-card meters only


def check_sgc(sgc: str) -> str:
    sgc = str(sgc).strip()
    if not sgc.isdigit() or len(sgc) != 6:
        raise KeyFormatError(f"supply group code (SGC) must be 6 digits, got {sgc!r}")
    return sgc


def check_ti(ti: str | int) -> str:
    text = f"{ti:02d}" if isinstance(ti, int) else str(ti).strip()
    if not text.isdigit() or len(text) != 2 or text == "00":
        raise KeyFormatError(f"tariff index (TI) must be 2 digits 01-99, got {ti!r}")
    return text


def check_krn(krn: int) -> int:
    if not isinstance(krn, int) or not 1 <= krn <= 9:
        raise KeyFormatError(f"key revision number (KRN) must be 1-9, got {krn!r}")
    return krn


def check_kt(kt: int) -> int:
    if not isinstance(kt, int) or not 0 <= kt <= 3:
        raise KeyFormatError(f"key type (KT) must be 0-3, got {kt!r}")
    return kt


def check_base_date(base_date: int | str) -> int:
    try:
        year = int(base_date)
    except (TypeError, ValueError):
        year = -1
    if year in (93, 14, 35):
        year += 1900 if year == 93 else 2000
    if year not in BASE_DATES:
        raise KeyFormatError(f"base date must be 1993, 2014 or 2035, got {base_date!r}")
    return year


def control_block(kt: int, sgc: str, ti: str, krn: int) -> int:
    """CONTROLBlock of 6.5.3.2: KT | SGC | TI | KRN | FFFFFF, as 16 hex nibbles."""
    text = f"{check_kt(kt)}{check_sgc(sgc)}{check_ti(ti)}{check_krn(krn)}FFFFFF"
    return int(text, 16)


def dkga02(vending_key: bytes, pan: str, sgc: str, ti: str, krn: int, kt: int) -> bytes:
    """DKGA02 (6.5.3.4): DK = DES_VK(PANBlock ^ CONTROLBlock) ^ (PANBlock ^ CONTROLBlock) ^ VK."""
    if len(vending_key) != 8:
        raise KeyFormatError(
            f"DKGA02 needs a 64-bit vending key (16 hex digits), got {len(vending_key) * 8} bits"
        )
    meter = MeterPAN.parse(pan)
    x = meter.pan_block(kt) ^ control_block(kt, sgc, ti, krn)
    enc = int.from_bytes(DES.new(vending_key, DES.MODE_ECB).encrypt(x.to_bytes(8, "big")), "big")
    dk = enc ^ x ^ int.from_bytes(vending_key, "big")
    return (dk & MASK64).to_bytes(8, "big")


def dkga04_message(pan: str, sgc: str, ti: str, krn: int, kt: int, base_date: int,
                   ea: str) -> bytes:
    """The KDF-HMAC-SHA-256 input of DKGA04: label, 0x00, context, decoder key length."""
    meter = MeterPAN.parse(pan)
    ea = normalise_ea(ea)
    bd = f"{check_base_date(base_date) % 100:02d}"
    bits = 128 if ea == "11" else 64

    def field(text: str) -> bytes:
        return bytes([len(text)]) + text.encode("ascii")

    label = b"\x04" + field("04") + field(bd) + field(ea) + field(check_ti(ti))
    context = (b"\x04" + field(check_sgc(sgc)) + field(f"{check_kt(kt):X}")
               + field(str(check_krn(krn))) + field(meter.digits))
    return label + b"\x00" + context + bits.to_bytes(4, "big")


def dkga04(vending_key: bytes, pan: str, sgc: str, ti: str, krn: int, kt: int,
           base_date: int, ea: str) -> bytes:
    """DKGA04 (2018): HMAC-SHA-256 keyed with the 160-bit vending key; the decoder key is the
    first 8 bytes (EA07) or 16 bytes (EA11) of the MAC."""
    if len(vending_key) != 20:
        raise KeyFormatError(
            f"DKGA04 needs a 160-bit vending key (40 hex digits), got {len(vending_key) * 8} bits"
        )
    msg = dkga04_message(pan, sgc, ti, krn, kt, base_date, ea)
    mac = hmac.new(vending_key, msg, hashlib.sha256).digest()
    return mac[: 16 if normalise_ea(ea) == "11" else 8]


def derive_decoder_key(*, dkga: str, vending_key: bytes, pan: str, sgc: str, ti: str, krn: int,
                       kt: int, base_date: int = 1993, ea: str = "07") -> bytes:
    """The meter's decoder key from the vending key, by DKGA02 or DKGA04."""
    code = f"{int(dkga):02d}" if str(dkga).isdigit() else str(dkga)
    if code == "02":
        if normalise_ea(ea) == "11":
            raise KeyFormatError("DKGA02 makes 64-bit keys; EA11 (MISTY1) needs DKGA04")
        check_base_date(base_date)
        return dkga02(vending_key, pan, sgc, ti, krn, kt)
    if code == "04":
        return dkga04(vending_key, pan, sgc, ti, krn, kt, base_date, ea)
    if code in ("01", "03"):
        raise KeyFormatError(
            f"DKGA{code} is not supported: DKGA01's cipher step is not public and "
            "IEC 62055-41:2018 withdrew DKGA03; use DKGA02 or DKGA04"
        )
    raise KeyFormatError(f"unknown decoder key generation algorithm DKGA{dkga!s} "
                         "(supported: 02, 04)")
