"""The encryption algorithm codes of IEC 62055-41 (EA07, EA09, EA11) and their key sizes.

One place that maps an EA code to its cipher and checks the decoder key length, so that a key
of the wrong size is an error naming the algorithm rather than a garbled token. The common
case (a known code written as "07"/"09"/"11" and a key of the right length) is one dict
lookup; everything else goes through the checks that name the problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sts.dea import dea_decrypt, dea_encrypt
from sts.errors import KeyFormatError, TokenFormatError
from sts.misty1 import misty1_decrypt, misty1_encrypt
from sts.sta import sta_decrypt, sta_encrypt

__all__ = ["EA_KEY_BYTES", "EA_NAMES", "decrypt_block", "encrypt_block", "normalise_ea",
           "parse_key_hex"]

EA_KEY_BYTES = {"07": 8, "09": 8, "11": 16}
EA_NAMES = {"07": "STA", "09": "DEA (deprecated)", "11": "MISTY1"}
MASK64 = (1 << 64) - 1
_HEX = re.compile(r"[0-9a-fA-F]+")

_Cipher = Callable[[bytes, int], int]
_ENCRYPT: dict[str, tuple[int, _Cipher]] = {
    "07": (8, sta_encrypt), "09": (8, dea_encrypt), "11": (16, misty1_encrypt),
}
_DECRYPT: dict[str, tuple[int, _Cipher]] = {
    "07": (8, sta_decrypt), "09": (8, dea_decrypt), "11": (16, misty1_decrypt),
}


def normalise_ea(ea: str | int) -> str:
    """'7', 7, '07' -> '07'; an unknown code is a KeyFormatError listing the known ones."""
    text = str(ea).strip()
    if text.isascii() and text.isdigit():
        text = f"{int(text):02d}"
    if text not in EA_KEY_BYTES:
        raise KeyFormatError(
            f"unknown encryption algorithm EA{ea!s}: supported are "
            + ", ".join(f"{code} ({name})" for code, name in EA_NAMES.items())
        )
    return text


def _check_key(ea: str, key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)):
        raise KeyFormatError(
            f"EA{ea} ({EA_NAMES[ea]}) decoder key must be bytes, got {type(key).__name__} "
            "(parse hex text with parse_key_hex)"
        )
    if len(key) != EA_KEY_BYTES[ea]:
        raise KeyFormatError(
            f"EA{ea} ({EA_NAMES[ea]}) needs a {EA_KEY_BYTES[ea] * 8}-bit decoder key "
            f"({EA_KEY_BYTES[ea] * 2} hex digits), got {len(key) * 8} bits"
        )


def _cipher(table: dict[str, tuple[int, _Cipher]], ea: str, key: bytes, block: int) -> _Cipher:
    """The cipher function for `ea` after checking key and block (the slow, naming path)."""
    code = normalise_ea(ea)
    _check_key(code, key)
    if isinstance(block, bool) or not isinstance(block, int) or not 0 <= block <= MASK64:
        raise TokenFormatError(f"a token data block is a 64-bit unsigned integer, got {block!r}")
    return table[code][1]


def encrypt_block(ea: str, key: bytes, block: int) -> int:
    """Encipher a 64-bit token data block with the decoder key under algorithm `ea`."""
    entry = _ENCRYPT.get(ea)  # type: ignore[call-overload]
    if (entry is None or type(key) is not bytes or len(key) != entry[0]
            or type(block) is not int or not 0 <= block <= MASK64):
        return _cipher(_ENCRYPT, ea, key, block)(bytes(key), block)
    return entry[1](key, block)


def decrypt_block(ea: str, key: bytes, block: int) -> int:
    """Decipher a 64-bit token block with the decoder key under algorithm `ea`."""
    entry = _DECRYPT.get(ea)  # type: ignore[call-overload]
    if (entry is None or type(key) is not bytes or len(key) != entry[0]
            or type(block) is not int or not 0 <= block <= MASK64):
        return _cipher(_DECRYPT, ea, key, block)(bytes(key), block)
    return entry[1](key, block)


def parse_key_hex(text: str, ea: str | None = None, *, what: str = "decoder key") -> bytes:
    """Parse a key written in hex (spaces, colons and a 0x prefix allowed); with `ea`, also
    check its length for that algorithm. Messages never repeat the key itself."""
    if not isinstance(text, str):
        raise KeyFormatError(f"{what} must be hex text, got {type(text).__name__}")
    clean = text.strip().replace(" ", "").replace(":", "")
    if clean[:2].lower() == "0x":
        clean = clean[2:]
    if not clean:
        raise KeyFormatError(f"{what} is empty")
    if not _HEX.fullmatch(clean):
        bad = next(i for i, ch in enumerate(clean) if ch not in "0123456789abcdefABCDEF")
        raise KeyFormatError(f"{what} must be hexadecimal digits: character {bad + 1} of "
                             f"{len(clean)} is not")
    if len(clean) % 2:
        raise KeyFormatError(f"{what} has an odd number of hex digits ({len(clean)})")
    key = bytes.fromhex(clean)
    if ea is not None:
        code = normalise_ea(ea)
        if len(key) != EA_KEY_BYTES[code]:
            raise KeyFormatError(
                f"{what} for EA{code} ({EA_NAMES[code]}) must be {EA_KEY_BYTES[code] * 2} hex "
                f"digits ({EA_KEY_BYTES[code] * 8} bits), got {len(clean)}"
            )
    return key
