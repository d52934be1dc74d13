"""Decoding a 20-digit token: class bits out, decryption, CRC check, named fields.

This is the reading side without judgement (no TID store, no key register): the meter's
judgement is `sts.validator`. Class 1 tokens are not encrypted and decode without a key;
class 0 and 2 tokens need the decoder key and its encryption algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sts.ciphers import decrypt_block
from sts.digits import parse_digits, to_digits
from sts.errors import KeyFormatError, TokenFormatError
from sts.tokens import block_fields, crc_ok, kind_of, tid_of

_NOT_27_28 = ~(3 << 27) & 0xFFFFFFFFFFFFFFFF


@dataclass(slots=True)
class DecodedToken:
    """What a token says. `block` is the plaintext 64-bit data block when `decrypted` (or
    for class 1); for a class 0/2 token decoded without a key it is the encrypted block,
    and `subclass`, `kind` and `fields` are unknown (None, "encrypted", {})."""

    digits: str
    cls: int
    subclass: int | None
    kind: str
    crc_ok: bool
    block: int
    decrypted: bool = True
    _fields: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def fields(self) -> dict[str, Any]:
        """The named fields (decoded on first use; {} when not decrypted)."""
        if self._fields is None:
            self._fields = block_fields(self.cls, self.block) if self.decrypted else {}
        return self._fields

    @property
    def tid(self) -> int | None:
        """The TID (None for class 1, key change tokens and undecrypted tokens)."""
        if self.subclass is None:
            return None
        return tid_of(self.cls, self.block)


def default_ea(decoder_key: bytes) -> str:
    """The encryption algorithm a key's length implies: 16 bytes EA11, 8 bytes EA07."""
    if len(decoder_key) == 16:
        return "11"
    if len(decoder_key) == 8:
        return "07"
    raise KeyFormatError(f"decoder key must be 8 or 16 bytes, got {len(decoder_key)}")


_EA_CODES: dict[object, str] = {"07": "07", "09": "09", "11": "11", 7: "07", 9: "09", 11: "11"}


def normalize_ea(ea: str | int) -> str:
    """"07", "09" or "11" for an encryption algorithm code given as 7, "7", "07", ..."""
    known = _EA_CODES.get(ea)
    if known is not None:
        return known
    text = str(ea).strip()
    if text.isdigit() and int(text) in (7, 9, 11):
        return f"{int(text):02d}"
    raise KeyFormatError(f"encryption algorithm {ea!r} must be 07, 09 or 11")


def check_key(key: bytes, ea: str, what: str = "decoder key") -> bytes:
    """`key` as bytes if its length suits the EA (16 bytes for EA11, else 8)."""
    want = 16 if ea == "11" else 8
    if type(key) is bytes and len(key) == want:
        return key
    if not isinstance(key, bytes | bytearray):
        raise KeyFormatError(f"{what} must be bytes")
    if len(key) != want:
        raise KeyFormatError(f"{what} for EA{ea} must be {want} bytes, got {len(key)}")
    return bytes(key)


def decode_plain(cls: int, block: int, digits: str = "") -> DecodedToken:
    """Decode a plaintext 64-bit block of a class (after decryption)."""
    subclass = block >> 60
    return DecodedToken(digits, cls, subclass, kind_of(cls, subclass), crc_ok(cls, block),
                        block)


def decode(digits: str, decoder_key: bytes | None = None, ea: str | None = None
           ) -> DecodedToken:
    """Decode a 20-digit token (spaces or dashes in 4-4-4-4-4 accepted).

    Raises TokenFormatError for input that is no token (length, non-digit, >= 2**66,
    class 3). A wrong key is not an error here: it shows as `crc_ok == False`.
    """
    number = parse_digits(digits)
    cls = (number >> 27) & 3
    block = (number & _NOT_27_28) | ((number >> 64) & 3) << 27
    text = digits if len(digits) == 20 else to_digits(number)
    if cls == 3:
        raise TokenFormatError(f"token {text} is of class 3, which is reserved")
    if cls == 1:
        return decode_plain(cls, block, text)
    if decoder_key is None:
        return DecodedToken(text, cls, None, "encrypted", False, block, False)
    ea_code = normalize_ea(ea) if ea is not None else default_ea(decoder_key)
    plain = decrypt_block(ea_code, check_key(decoder_key, ea_code), block)
    return decode_plain(cls, plain, text)
