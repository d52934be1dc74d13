"""The 20-digit form of a token and the class-bit transposition (IEC 62055-41 6.4.2).

The 2 class bits are never encrypted: after encryption they are inserted at bit positions 28
and 27 of the 64-bit block, and the bits that were there move to positions 65 and 64. The
66-bit number is printed as 20 decimal digits, zero padded (often grouped 4-4-4-4-4).
"""

from __future__ import annotations

import re

from sts.errors import TokenFormatError

TOKEN_LIMIT = 1 << 66
_MASK_27_28 = ~(3 << 27) & 0xFFFFFFFFFFFFFFFF
_GROUPED = re.compile(r"\d{4}(?:[ \-]+\d{4}){4}")


def insert_class(block: int, cls: int) -> int:
    """The 66-bit token number of a (possibly encrypted) 64-bit block and a class 0..3."""
    return ((block >> 27) & 3) << 64 | (block & _MASK_27_28) | (cls << 27)


def extract_class(number: int) -> tuple[int, int]:
    """(class, 64-bit block) of a 66-bit token number: the inverse of `insert_class`."""
    return (number >> 27) & 3, (number & _MASK_27_28) | ((number >> 64) & 3) << 27


def to_digits(number: int) -> str:
    """The 20-digit decimal form of a 66-bit token number."""
    return f"{number:020d}"


def block_to_digits(block: int, cls: int) -> str:
    """The 20 digits of an (already encrypted) 64-bit block of the given class."""
    return f"{insert_class(block, cls):020d}"


def parse_digits(text: str) -> int:
    """The 66-bit number of a token typed as 20 digits (spaces or dashes in 4-4-4-4-4 ok).

    Raises TokenFormatError naming the problem (length, a non-digit, a value >= 2**66).
    """
    if not isinstance(text, str):
        raise TokenFormatError(f"token must be a string of 20 digits, got {type(text).__name__}")
    raw = text.strip()
    if len(raw) == 20 and raw.isdigit() and raw.isascii():
        digits = raw
    elif _GROUPED.fullmatch(raw) and raw.isascii():
        digits = re.sub(r"[ \-]+", "", raw)
    else:
        compact = re.sub(r"[ \-]+", "", raw)
        for position, char in enumerate(compact, start=1):
            if not ("0" <= char <= "9"):
                raise TokenFormatError(
                    f"token {text!r} has a non-digit {char!r} at position {position}"
                )
        if len(compact) != 20:
            raise TokenFormatError(f"token {text!r} has {len(compact)} digits, expected 20")
        raise TokenFormatError(
            f"token {text!r} is not grouped 4-4-4-4-4 (write 20 digits, or 5 groups of 4)"
        )
    number = int(digits)
    if number >= TOKEN_LIMIT:
        raise TokenFormatError(f"token {digits} is past 2**66 - 1: not an STS token")
    return number


def split_token(text: str) -> tuple[int, int]:
    """(class, 64-bit block as transmitted) of a 20-digit token."""
    return extract_class(parse_digits(text))
