"""The 20-digit form of a token and the class-bit transposition (IEC 62055-41 6.4.2).

The 2 class bits are never encrypted: after encryption they are inserted at bit positions 28
and 27 of the 64-bit block, and the bits that were there move to positions 65 and 64. The
66-bit number is printed as 20 decimal digits, zero padded (often grouped 4-4-4-4-4).

`token_text` is the tree's one grammar of a token as typed (digits, spaces and dashes):
the command line, the keypad drivers, the meter under test and `parse_digits` read with it.
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

    Read with the one token grammar (`token_text`), then held to the printed form: 20 digits
    in a row or five groups of four. Raises TokenFormatError naming the problem (a
    non-digit, the length, the grouping, a value >= 2**66).
    """
    if not isinstance(text, str):
        raise TokenFormatError(f"token must be a string of 20 digits, got {type(text).__name__}")
    raw = text.strip()
    try:
        digits = token_text(raw)
    except TokenTextError as exc:
        if exc.char is not None:
            raise TokenFormatError(f"token {text!r} has a non-digit {exc.char!r} at position "
                                   f"{exc.position}") from None
        raise TokenFormatError(f"token {text!r} has {exc.count} digits, expected "
                               f"{TOKEN_DIGITS}") from None
    if raw != digits and not _GROUPED.fullmatch(raw):
        raise TokenFormatError(
            f"token {text!r} is not grouped 4-4-4-4-4 (write 20 digits, or 5 groups of 4)"
        )
    number = int(digits)
    if number >= TOKEN_LIMIT:
        raise TokenFormatError(f"token {digits} is past 2**66 - 1: not an STS token")
    return number


TOKEN_DIGITS = 20
_SEPARATOR = re.compile(r"[\s-]")


class TokenTextError(TokenFormatError):
    """A token as typed is not 20 digits: `char` and `position` name the first character
    that is neither a digit nor a separator, else `count` says how many digits it had."""

    def __init__(self, message: str, *, count: int | None = None, char: str | None = None,
                 position: int | None = None) -> None:
        super().__init__(message)
        self.count, self.char, self.position = count, char, position


def token_text(text: str) -> str:
    """The 20 digits of a token as a person or a ticket writes it: digits, with spaces or
    dashes anywhere (4-4-4-4-4 groups or none). The one token grammar of the tree: the
    command line, the keypad drivers and the meter under test read tokens with it.

    Raises TokenTextError naming what is wrong: the first other character and its position,
    or the number of digits ("token has 19 digits, expected 20").
    """
    for position, char in enumerate(text, start=1):
        if not ("0" <= char <= "9" or _SEPARATOR.fullmatch(char)):
            raise TokenTextError(f"token has {char!r} at position {position}: only digits, "
                                 "spaces and dashes", char=char, position=position)
    digits = _SEPARATOR.sub("", text)
    if len(digits) != TOKEN_DIGITS:
        raise TokenTextError(f"token has {len(digits)} digits, expected {TOKEN_DIGITS}",
                             count=len(digits))
    return digits
