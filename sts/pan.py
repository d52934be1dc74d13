"""The meter's primary account number (MeterPAN), IEC 62055-41 6.1 and 6.5.3.1.

MeterPAN = IIN + DRN + PAN check digit (18 digits). The DRN (the meter number printed on the
meter) = manufacturer code + serial number + DRN check digit; both check digits are Luhn.
IIN 600727 goes with an 11-digit DRN (2-digit manufacturer code), IIN 0000 with a 13-digit
DRN (4-digit manufacturer code).
"""

from __future__ import annotations

from dataclasses import dataclass

from sts.errors import KeyFormatError

__all__ = ["MeterPAN", "luhn_check_digit"]

STS_IIN = "600727"
SHORT_IIN = "0000"


def luhn_check_digit(digits: str) -> int:
    """The Luhn (mod 10) check digit to append to `digits`."""
    if not digits.isdigit():
        raise KeyFormatError(f"Luhn check digit needs decimal digits, got {digits!r}")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return (10 - total % 10) % 10


@dataclass(frozen=True)
class MeterPAN:
    """An 18-digit MeterPAN, split into its parts, with both check digits verified."""

    iin: str
    drn: str

    @property
    def mfr_digits(self) -> int:
        return 2 if len(self.drn) == 11 else 4

    @property
    def mfr_code(self) -> int:
        return int(self.drn[: self.mfr_digits])

    @property
    def dsn(self) -> str:
        return self.drn[self.mfr_digits : -1]

    @property
    def digits(self) -> str:
        body = self.iin + self.drn
        return body + str(luhn_check_digit(body))

    def __str__(self) -> str:
        return self.digits

    def pan_block(self, kt: int = 2) -> int:
        """PANBlock of DKGA02 (6.5.3.1): the 16 digits after the first, as hex nibbles;
        for a common key (KT 3) the DRN part is zeros."""
        block = self.digits[1:17]
        if kt == 3:
            keep = 5 if len(self.drn) == 11 else 3
            block = block[:keep] + "0" * (16 - keep)
        return int(block, 16)

    @classmethod
    def parse(cls, text: str) -> MeterPAN:
        """Parse 18 digits; a bad IIN, length or check digit is a KeyFormatError naming it."""
        pan = text.strip().replace(" ", "").replace("-", "")
        if not pan.isdigit() or len(pan) != 18:
            raise KeyFormatError(f"MeterPAN must be 18 digits, got {text!r}")
        if pan.startswith(STS_IIN):
            iin, drn = STS_IIN, pan[6:17]
        elif pan.startswith(SHORT_IIN):
            iin, drn = SHORT_IIN, pan[4:17]
        else:
            raise KeyFormatError(
                f"MeterPAN {pan} starts with neither IIN 600727 (11-digit DRN) "
                "nor IIN 0000 (13-digit DRN)"
            )
        cls._check_drn(drn)
        expected = luhn_check_digit(pan[:17])
        if int(pan[17]) != expected:
            raise KeyFormatError(
                f"MeterPAN {pan}: PAN check digit is {pan[17]}, Luhn gives {expected}"
            )
        return cls(iin, drn)

    @classmethod
    def from_drn(cls, drn: str) -> MeterPAN:
        """Build the MeterPAN of a meter number (11 or 13 digits, Luhn checked)."""
        drn = drn.strip()
        if not drn.isdigit() or len(drn) not in (11, 13):
            raise KeyFormatError(f"a DRN (meter number) is 11 or 13 digits, got {drn!r}")
        cls._check_drn(drn)
        return cls(STS_IIN if len(drn) == 11 else SHORT_IIN, drn)

    @staticmethod
    def _check_drn(drn: str) -> None:
        expected = luhn_check_digit(drn[:-1])
        if int(drn[-1]) != expected:
            raise KeyFormatError(
                f"meter number (DRN) {drn}: check digit is {drn[-1]}, Luhn gives {expected}"
            )
