"""The encryption algorithm codes of IEC 62055-41 (EA07, EA09, EA11) and their key sizes.

One place that maps an EA code to its cipher and checks the decoder key length, so that a key
of the wrong size is an error naming the algorithm rather than a garbled token.
"""

from __future__ import annotations

import re

from sts.dea import dea_decrypt, dea_encrypt
from sts.errors import KeyFormatError
from sts.misty1 import misty1_decrypt, misty1_encrypt
from sts.sta import sta_decrypt, sta_encrypt

__all__ = ["EA_KEY_BYTES", "EA_NAMES", "decrypt_block", "encrypt_block", "parse_key_hex"]

EA_KEY_BYTES = {"07": 8, "09": 8, "11": 16}
EA_NAMES = {"07": "STA", "09": "DEA (deprecated)", "11": "MISTY1"}
_HEX = re.compile(r"[0-9a-fA-F]+")


def _check(ea: str, key: bytes) -> str:
    ea = normalise_ea(ea)
    if len(key) != EA_KEY_BYTES[ea]:
        raise KeyFormatError(
            f"EA{ea} ({EA_NAMES[ea]}) needs a {EA_KEY_BYTES[ea] * 8}-bit decoder key "
            f"({EA_KEY_BYTES[ea] * 2} hex digits), got {len(key) * 8} bits"
        )
    return ea


def normalise_ea(ea: str | int) -> str:
    """'7', 7, '07' -> '07'; an unknown code is a KeyFormatError listing the known ones."""
    text = f"{int(ea):02d}" if str(ea).isdigit() else str(ea)
    if text not in EA_KEY_BYTES:
        raise KeyFormatError(
            f"unknown encryption algorithm EA{ea!s}: supported are "
            + ", ".join(f"{code} ({name})" for code, name in EA_NAMES.items())
        )
    return text


def encrypt_block(ea: str, key: bytes, block: int) -> int:
    """Encipher a 64-bit token data block with the decoder key under algorithm `ea`."""
    ea = _check(ea, key)
    if ea == "07":
        return sta_encrypt(key, block)
    if ea == "11":
        return misty1_encrypt(key, block)
    return dea_encrypt(key, block)


def decrypt_block(ea: str, key: bytes, block: int) -> int:
    """Decipher a 64-bit token block with the decoder key under algorithm `ea`."""
    ea = _check(ea, key)
    if ea == "07":
        return sta_decrypt(key, block)
    if ea == "11":
        return misty1_decrypt(key, block)
    return dea_decrypt(key, block)


def parse_key_hex(text: str, ea: str | None = None, *, what: str = "decoder key") -> bytes:
    """Parse a key written in hex; with `ea`, also check its length for that algorithm."""
    clean = text.strip().replace(" ", "").replace(":", "")
    if clean.lower().startswith("0x"):
        clean = clean[2:]
    if not clean or not _HEX.fullmatch(clean):
        raise KeyFormatError(f"{what} must be hexadecimal digits, got {len(text)} characters "
                             "that are not")
    if len(clean) % 2:
        raise KeyFormatError(f"{what} has an odd number of hex digits ({len(clean)})")
    key = bytes.fromhex(clean)
    if ea is not None:
        _check(ea, key)
    return key
