"""The meter's primary account number (MeterPAN), IEC 62055-41 6.1 and 6.5.3.1.

MeterPAN = IIN + DRN + PAN check digit (18 digits). The DRN (the meter number printed on the
meter) = manufacturer code + decoder serial number (DSN, 8 digits) + DRN check digit; both
check digits are Luhn. IIN 600727 goes with an 11-digit DRN (2-digit manufacturer code),
IIN 0000 with a 13-digit DRN (4-digit manufacturer code).
"""

from __future__ import annotations

from dataclasses import dataclass

from sts.errors import KeyFormatError

__all__ = ["MeterPAN", "luhn_check_digit"]

STS_IIN = "600727"  # goes with an 11-digit DRN
SHORT_IIN = "0000"  # goes with a 13-digit DRN
_DRN_LENGTH = {STS_IIN: 11, SHORT_IIN: 13}


def _is_digits(text: str) -> bool:
    return isinstance(text, str) and text.isascii() and text.isdigit()


def luhn_check_digit(digits: str) -> int:
    """The Luhn (mod 10) check digit to append to `digits` (DRN and MeterPAN check digits)."""
    if not _is_digits(digits):
        raise KeyFormatError(f"Luhn check digit needs decimal digits, got {digits!r}")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2 == 0:  # the digit next to the check digit is doubled
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10


def _check_drn(drn: str) -> None:
    expected = luhn_check_digit(drn[:-1])
    if int(drn[-1]) != expected:
        raise KeyFormatError(
            f"meter number (DRN) {drn}: DRN check digit is {drn[-1]}, Luhn gives {expected}"
        )


@dataclass(frozen=True)
class MeterPAN:
    """An 18-digit MeterPAN, split into its parts, both check digits verified on creation."""

    iin: str
    drn: str

    def __post_init__(self) -> None:
        if self.iin not in _DRN_LENGTH:
            raise KeyFormatError(f"IIN must be {STS_IIN} or {SHORT_IIN}, got {self.iin!r}")
        size = _DRN_LENGTH[self.iin]
        if not _is_digits(self.drn) or len(self.drn) != size:
            raise KeyFormatError(
                f"with IIN {self.iin} the meter number (DRN) is {size} digits, got {self.drn!r}"
            )
        _check_drn(self.drn)

    @property
    def mfr_digits(self) -> int:
        """2 for an 11-digit DRN, 4 for a 13-digit DRN."""
        return 2 if len(self.drn) == 11 else 4

    @property
    def mfr_code(self) -> int:
        """The manufacturer code at the start of the DRN."""
        return int(self.drn[: self.mfr_digits])

    @property
    def dsn(self) -> str:
        """The decoder serial number: the DRN between manufacturer code and check digit."""
        return self.drn[self.mfr_digits : -1]

    @property
    def digits(self) -> str:
        """The 18 digits: IIN, DRN, PAN check digit."""
        body = self.iin + self.drn
        return body + str(luhn_check_digit(body))

    def __str__(self) -> str:
        return self.digits

    @property
    def pan_block(self) -> int:
        """PANBlock of DKGA02 for a DDTK/DUTK (6.5.3.1): MeterPAN digits 1..16 (the IIN's
        first digit and the PAN check digit dropped), read as 16 hex nibbles."""
        return int(self.digits[1:17], 16)

    def pan_block_for(self, kt: int) -> int:
        """PANBlock for key type `kt`: for a common key (KT 3, DCTK) the DRN part is zeros,
        so every meter of the supply group gets the same key."""
        if kt != 3:
            return self.pan_block
        iin_part = self.digits[1 : 17 - len(self.drn)]
        return int(iin_part.ljust(16, "0"), 16)

    @classmethod
    def parse(cls, text: str) -> MeterPAN:
        """Parse 18 digits (spaces and dashes allowed); a bad IIN, length or check digit is a
        KeyFormatError naming which."""
        if not isinstance(text, str):
            raise KeyFormatError(f"MeterPAN must be text of 18 digits, got {type(text).__name__}")
        pan = text.strip().replace(" ", "").replace("-", "")
        if not _is_digits(pan) or len(pan) != 18:
            raise KeyFormatError(f"MeterPAN must be 18 digits, got {text!r}")
        if pan.startswith(STS_IIN):
            iin = STS_IIN
        elif pan.startswith(SHORT_IIN):
            iin = SHORT_IIN
        else:
            raise KeyFormatError(
                f"MeterPAN {pan} starts with neither IIN 600727 (11-digit DRN) "
                "nor IIN 0000 (13-digit DRN)"
            )
        meter = cls(iin, pan[len(iin) : 17])  # checks the DRN check digit
        expected = luhn_check_digit(pan[:17])
        if int(pan[17]) != expected:
            raise KeyFormatError(
                f"MeterPAN {pan}: PAN check digit is {pan[17]}, Luhn gives {expected}"
            )
        return meter

    @classmethod
    def from_drn(cls, drn: str) -> MeterPAN:
        """The MeterPAN of a meter number (11 digits -> IIN 600727, 13 -> IIN 0000)."""
        text = drn.strip().replace(" ", "").replace("-", "") if isinstance(drn, str) else drn
        if not _is_digits(text) or len(text) not in (11, 13):
            raise KeyFormatError(f"a meter number (DRN) is 11 or 13 digits, got {drn!r}")
        return cls(STS_IIN if len(text) == 11 else SHORT_IIN, text)
