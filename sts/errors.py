"""Errors of the token standard, named with IEC 62055-41's own terms.

Two families: `TokenRejected` (a meter refuses a token: each carries the `Outcome` the meter
reports) and the `ValueError` subclasses for bad input to the vending side (a 19-digit token,
a key of the wrong length, an amount past the maximum).
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """The result a meter reports for a token (IEC 62055-41 clause 7.3 / 8 outcomes)."""

    ACCEPT = "ACCEPT"
    KCT_HELD = "KCT_HELD"
    FORMAT_ERROR = "FORMAT_ERROR"
    CRC_ERROR = "CRC_ERROR"
    MFR_CODE_ERROR = "MFR_CODE_ERROR"
    OLD = "OLD"
    USED = "USED"
    KEY_EXPIRED = "KEY_EXPIRED"
    DDTK_ERROR = "DDTK_ERROR"
    KEY_TYPE_ERROR = "KEY_TYPE_ERROR"
    RANGE_ERROR = "RANGE_ERROR"
    FUNCTION_ERROR = "FUNCTION_ERROR"
    OVERFLOW = "OVERFLOW"


class StsError(Exception):
    """Base of every error of the `sts` package."""


# --- bad input to the vending side ------------------------------------------------------


class TokenFormatError(StsError, ValueError):
    """A token string that is not a valid 20-digit STS token (length, non-digit, >= 2**66)."""


class AmountRangeError(StsError, ValueError):
    """An amount (or power, or register) outside what the token's field can carry."""


class KeyFormatError(StsError, ValueError):
    """A key, PAN, SGC, TI, KRN or KT that is malformed (wrong length, not hex, bad Luhn)."""


class KeyExpiryError(StsError, ValueError):
    """The vending side refuses a TID past the key expiry number (or before the base date)."""


class TIDRangeError(KeyExpiryError):
    """A date before the base date or after its rollover date (no 24-bit TID for it)."""


# --- a meter refuses a token --------------------------------------------------------------


class TokenRejected(StsError):
    """A token the meter refuses; `outcome` is what the meter reports."""

    outcome: Outcome = Outcome.FORMAT_ERROR

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.outcome.value)


class FormatError(TokenRejected):
    outcome = Outcome.FORMAT_ERROR


class CRCError(TokenRejected):
    outcome = Outcome.CRC_ERROR


class MfrCodeError(TokenRejected):
    outcome = Outcome.MFR_CODE_ERROR


class OldError(TokenRejected):
    outcome = Outcome.OLD


class UsedError(TokenRejected):
    outcome = Outcome.USED


class KeyExpiredError(TokenRejected):
    outcome = Outcome.KEY_EXPIRED


class DDTKError(TokenRejected):
    outcome = Outcome.DDTK_ERROR


class KeyTypeError(TokenRejected):
    outcome = Outcome.KEY_TYPE_ERROR


class RangeError(TokenRejected):
    outcome = Outcome.RANGE_ERROR


class FunctionError(TokenRejected):
    outcome = Outcome.FUNCTION_ERROR


class CreditOverflowError(TokenRejected):
    """Raised by a meter (not the validator) when credit would pass its maximum."""

    outcome = Outcome.OVERFLOW
