"""Tokens the vending side never issues but a meter must refuse: reserved subclasses, a
class 3 number, a mistyped digit, a test token with a wrong CRC. Built with the standard's
own block layout (sts.tokens, sts.crc, sts.ciphers), so each is well formed but for the one
thing the plan wants the meter to refuse."""

from __future__ import annotations

from typing import Any

from sts.ciphers import encrypt_block
from sts.crc import token_crc
from sts.digits import block_to_digits, extract_class, to_digits


def raw_token(vendor: Any, cls: int, subclass: int, value16: int = 0, *,
              rnd: int = 5) -> str:
    """A class 0/2 token of any subclass (reserved ones too) under `vendor`'s key, with a
    fresh TID from the run's sequence."""
    base = vendor.base_date
    tid = vendor.tids.last(base) + 1
    vendor.tids.note(base, tid)
    payload = (rnd << 40) | (tid << 16) | (value16 & 0xFFFF)
    block = (subclass << 60) | (payload << 16) | token_crc(cls, subclass, payload)
    return block_to_digits(encrypt_block(vendor.ea, bytes(vendor.decoder_key), block), cls)


def class1_token(subclass: int, payload44: int, *, good_crc: bool = True) -> str:
    """A class 1 token of any subclass (not encrypted); `good_crc=False` spoils its CRC."""
    crc = token_crc(1, subclass, payload44) ^ (0 if good_crc else 0x0101)
    block = (subclass << 60) | (payload44 << 16) | crc
    return block_to_digits(block, 1)


def class3_token(digits: str) -> str:
    """`digits` with its class bits (27, 28) set to 3, which is reserved."""
    return to_digits(int(digits) | (3 << 27))


def mistyped(digits: str, at: int = 10) -> str:
    """One digit changed, as a typing error would (the first change from digit `at` on that
    keeps the number a token of the same class, so the meter must find it by its CRC)."""
    cls = extract_class(int(digits))[0]
    for i in list(range(at, 20)) + list(range(at)):
        for step in (3, 1, 7):
            typo = digits[:i] + str((int(digits[i]) + step) % 10) + digits[i + 1:]
            if int(typo) < 1 << 66 and extract_class(int(typo))[0] == cls:
                return typo
    raise ValueError("no one-digit typing error keeps this token's class")
