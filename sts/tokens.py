"""Token records and the 64-bit data block layouts (IEC 62055-41 6.2, 6.3).

A 64-bit data block is `SubClass(4) | payload(44) | CRC(16)`; the class (2 bits) is not in
the block but enters the CRC and is inserted into the token number after encryption
(`sts.digits`). Payload layouts (token bit numbers, 59..16):

class 0, subclass 0..3   RND(4)  TID(24)  Amount(16)          credit in 0.1 kWh/m3/m3/min
class 0, subclass 4..7   S&E(4)  TID(24)  Amount(16)          currency, CRC_C
class 1, subclass 0      Control(36)  MfrCode(8)              test token, 2-digit code
class 1, subclass 1      Control(28)  MfrCode(16)             test token, 4-digit code
class 2, subclass 0,1,2,5,6,7   RND(4)  TID(24)  Value(16)    management tokens
class 2, subclass 3      KENHO(4) KRN(4) RO(1) 3KCT(1) KT(2) NKHO(32)
class 2, subclass 4      KENLO(4) TI(8, binary) NKLO(32)
class 2, subclass 8      SGCLO(12) NKMO2(32)  (128-bit key)  | SGC(24) 0(20)  (3-token set)
class 2, subclass 9      SGCHO(12) NKMO1(32)  (128-bit key)

For a 128-bit key, NKHO is key bytes 0..3, NKMO2 bytes 4..7, NKMO1 bytes 8..11 and NKLO
bytes 12..15 (the placement of the compliance vectors; the standard's names are crossed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sts import amount as amt
from sts.crc import token_crc
from sts.errors import AmountRangeError, KeyFormatError

MASK16 = 0xFFFF
MASK24 = 0xFFFFFF
MASK32 = 0xFFFFFFFF
MASK44 = (1 << 44) - 1

CREDIT_UNITS = {0: "kWh", 1: "m3", 2: "m3", 3: "min"}
CREDIT_NAMES = {0: "electricity", 1: "water", 2: "gas", 3: "time"}
CURRENCY_UNIT = "currency units"
CLASS_NAMES = {0: "TransferCredit", 1: "NonMeterSpecificManagement",
               2: "MeterSpecificManagement", 3: "Reserved"}
CLASS2_KINDS = {
    0: "power_limit",
    1: "clear_credit",
    2: "tariff_rate",
    3: "kct1",
    4: "kct2",
    5: "clear_tamper",
    6: "phase_unbalance",
    7: "water_factor",
    8: "kct3",
    9: "kct4",
}
KCT_KINDS = frozenset({"kct1", "kct2", "kct3", "kct4"})
KCT_SUBCLASS = {"kct1": 3, "kct2": 4, "kct3": 8, "kct4": 9}
SUBCLASS_NAMES = {
    (0, 0): "ElectricityCredit", (0, 1): "WaterCredit", (0, 2): "GasCredit",
    (0, 3): "TimeCredit", (0, 4): "ElectricityCurrency", (0, 5): "WaterCurrency",
    (0, 6): "GasCurrency", (0, 7): "TimeCurrency",
    (1, 0): "InitiateMeterTest/Display (2-digit MfrCode)",
    (1, 1): "InitiateMeterTest/Display (4-digit MfrCode)",
    (2, 0): "SetMaximumPowerLimit", (2, 1): "ClearCredit", (2, 2): "SetTariffRate",
    (2, 3): "Set1stSectionDecoderKey", (2, 4): "Set2ndSectionDecoderKey",
    (2, 5): "ClearTamperCondition", (2, 6): "SetMaximumPhasePowerUnbalanceLimit",
    (2, 7): "SetWaterMeterFactor", (2, 8): "Set3rdSectionDecoderKey",
    (2, 9): "Set4thSectionDecoderKey",
}
ALL_REGISTERS = 0xFFFF


def kind_of(cls: int, subclass: int) -> str:
    """The token kind name of a class and subclass (`reserved` for anything undefined)."""
    if cls == 0:
        return "credit" if subclass < 4 else "currency" if subclass < 8 else "reserved"
    if cls == 1:
        return "test" if subclass < 2 else "reserved"
    if cls == 2:
        return CLASS2_KINDS.get(subclass, "reserved")
    return "reserved"


def subclass_name(cls: int, subclass: int) -> str:
    """The standard's name of a subclass ("Reserved" when it has none)."""
    return SUBCLASS_NAMES.get((cls, subclass), "Reserved")


# --- the 64-bit block -----------------------------------------------------------------------


def make_block(cls: int, subclass: int, payload44: int) -> int:
    """The plaintext 64-bit data block: subclass, payload and its CRC (CRC_C for currency)."""
    return (subclass << 60) | (payload44 << 16) | token_crc(cls, subclass, payload44)


def block_subclass(block: int) -> int:
    """The subclass nibble of a plaintext block."""
    return block >> 60


def block_payload(block: int) -> int:
    """The 44 payload bits of a plaintext block."""
    return (block >> 16) & MASK44


def crc_ok(cls: int, block: int) -> bool:
    """True when the block's CRC field matches its data (CRC_C for currency)."""
    return token_crc(cls, block >> 60, (block >> 16) & MASK44) == block & MASK16


# --- payloads -------------------------------------------------------------------------------


def _check_int(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AmountRangeError(f"{name} {value!r} is not an integer")
    if not low <= value <= high:
        raise AmountRangeError(f"{name} {value} is out of range {low}..{high}")
    return value


def rnd_tid_payload(rnd: int, tid: int, value16: int) -> int:
    """Payload `RND(4) | TID(24) | value(16)` of credit and management tokens."""
    return (rnd << 40) | (tid << 16) | value16


def test_payload(control: int, mfr_code: int = 0, mfr_digits: int = 2) -> tuple[int, int]:
    """(subclass, payload) of a class 1 test token: 36-bit control + 2-digit MfrCode
    (subclass 0) or 28-bit control + 4-digit MfrCode (subclass 1)."""
    if mfr_digits == 2:
        _check_int("control", control, 0, (1 << 36) - 1)
        _check_int("2-digit manufacturer code", mfr_code, 0, 99)
        return 0, (control << 8) | mfr_code
    if mfr_digits == 4:
        _check_int("control", control, 0, (1 << 28) - 1)
        _check_int("4-digit manufacturer code", mfr_code, 0, 9999)
        return 1, (control << 16) | mfr_code
    raise AmountRangeError(f"manufacturer code digits {mfr_digits!r} must be 2 or 4")


def ti_to_int(ti: str | int) -> int:
    """Tariff index "01".."99" as its number (carried 8-bit binary in the 2nd KCT)."""
    text = f"{ti:02d}" if isinstance(ti, int) and not isinstance(ti, bool) else str(ti).strip()
    if not (text.isdigit() and len(text) == 2):
        raise KeyFormatError(f"tariff index {ti!r} must be 2 decimal digits, e.g. '01'")
    return int(text)


def sgc_to_int(sgc: str | int) -> int:
    """Supply group code (6 decimal digits) as the 24-bit number a KCT carries."""
    text = f"{sgc:06d}" if isinstance(sgc, int) and not isinstance(sgc, bool) else str(sgc)
    text = text.strip()
    if not (text.isdigit() and len(text) == 6):
        raise KeyFormatError(f"supply group code {sgc!r} must be 6 decimal digits")
    return int(text)


def kct_payloads(new_key: bytes, *, kt: int, krn: int, ti: str | int, ken: int = 255,
                 rollover: bool = False, sgc: str | int | None = None) -> list[tuple[int, int]]:
    """(subclass, payload) of each section of a key change set, in entry order.

    An 8-byte key gives 2 sections, or 3 when a new SGC is given (bit 50 of the 1st section
    says a 3rd follows; the 3rd carries the SGC); a 16-byte key gives 4 sections and needs
    the SGC (its low and high 12 bits ride in sections 3 and 4).
    """
    _check_int("key type", kt, 0, 3)
    _check_int("key revision number", krn, 0, 15)
    _check_int("key expiry number", ken, 0, 255)
    ti_value = ti_to_int(ti)
    sgc_value = None if sgc is None else sgc_to_int(sgc)
    ro = 1 if rollover else 0
    if len(new_key) == 8:
        key = int.from_bytes(new_key, "big")
        three = 1 if sgc_value is not None else 0
        sections = [
            (3, (ken >> 4) << 40 | krn << 36 | ro << 35 | three << 34 | kt << 32 | key >> 32),
            (4, (ken & 15) << 40 | ti_value << 32 | (key & MASK32)),
        ]
        if sgc_value is not None:
            sections.append((8, sgc_value << 20))
        return sections
    if len(new_key) == 16:
        if sgc_value is None:
            raise KeyFormatError("a 128-bit key change carries the supply group code: give it")
        key = int.from_bytes(new_key, "big")
        return [
            (3, (ken >> 4) << 40 | krn << 36 | ro << 35 | kt << 32 | key >> 96),
            (4, (ken & 15) << 40 | ti_value << 32 | (key & MASK32)),
            (8, (sgc_value & 0xFFF) << 32 | ((key >> 64) & MASK32)),
            (9, (sgc_value >> 12) << 32 | ((key >> 32) & MASK32)),
        ]
    raise KeyFormatError(f"new decoder key must be 8 or 16 bytes, got {len(new_key)}")


# --- fields of a plaintext block ------------------------------------------------------------


def _rnd_tid(payload: int) -> dict[str, Any]:
    return {"rnd": payload >> 40, "tid": (payload >> 16) & MASK24}


def block_fields(cls: int, block: int) -> dict[str, Any]:
    """The named fields of a plaintext block (raw `data` for reserved subclasses)."""
    subclass = block >> 60
    payload = (block >> 16) & MASK44
    value16 = payload & MASK16
    kind = kind_of(cls, subclass)
    if kind == "credit":
        fields = _rnd_tid(payload)
        fields["amount"] = Decimal(amt.decode_count(value16)) / 10
        fields["unit"] = CREDIT_UNITS[subclass]
        fields["amount_field"] = value16
        return fields
    if kind == "currency":
        se = payload >> 40
        return {
            "sign": se >> 3,
            "exponent": amt.currency_exponent(se, value16),
            "mantissa": value16 & amt.MANTISSA_MAX,
            "tid": (payload >> 16) & MASK24,
            "amount": amt.decode_currency(se, value16),
            "unit": CURRENCY_UNIT,
            "amount_field": value16,
        }
    if kind == "test":
        if subclass == 0:
            return {"control": payload >> 8, "mfr_code": payload & 0xFF, "mfr_digits": 2}
        return {"control": payload >> 16, "mfr_code": value16, "mfr_digits": 4}
    if kind in ("power_limit", "phase_unbalance"):
        fields = _rnd_tid(payload)
        fields["watts"] = amt.decode_count(value16)
        fields["field16"] = value16
        return fields
    if kind == "clear_credit":
        return {**_rnd_tid(payload), "register": value16}
    if kind == "tariff_rate":
        return {**_rnd_tid(payload), "rate": value16}
    if kind == "clear_tamper":
        return {**_rnd_tid(payload), "pad": value16}
    if kind == "water_factor":
        return {**_rnd_tid(payload), "factor": value16}
    if kind == "kct1":
        return {
            "ken_high": payload >> 40,
            "krn": (payload >> 36) & 15,
            "ro": (payload >> 35) & 1,
            "kct3_follows": (payload >> 34) & 1,
            "kt": (payload >> 32) & 3,
            "nkho": payload & MASK32,
        }
    if kind == "kct2":
        return {"ken_low": payload >> 40, "ti": (payload >> 32) & 0xFF, "nklo": payload & MASK32}
    if kind == "kct3":
        return {
            "sgc_low": payload >> 32,
            "nkmo2": payload & MASK32,
            "sgc_3kct": payload >> 20,  # the 3-token (64-bit key) reading: SGC in bits 59..36
        }
    if kind == "kct4":
        return {"sgc_high": payload >> 32, "nkmo1": payload & MASK32}
    if cls == 2 and subclass == 10:  # STS 202-5 extended token set: RND TID Index(6) Value(10)
        return {**_rnd_tid(payload), "field16": value16, "index": value16 >> 10,
                "value": value16 & 0x3FF, "data": payload}
    return {"data": payload}


def tid_of(cls: int, block: int) -> int | None:
    """The TID of a plaintext block, or None for tokens that carry none (class 1, KCTs)."""
    kind = kind_of(cls, block >> 60)
    if cls == 1 or kind in KCT_KINDS or (kind == "reserved" and not (cls == 2 and
                                                                     block >> 60 == 10)):
        return None
    return (block >> 32) & MASK24


@dataclass(slots=True)
class Token:
    """A vended token: its 20 digits and what it carries (`fields`, decoded on first use)."""

    digits: str
    cls: int
    subclass: int
    kind: str
    block: int  # the plaintext 64-bit data block (before encryption and class insertion)
    _fields: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.digits

    @property
    def fields(self) -> dict[str, Any]:
        """The named fields of the token (see `block_fields`)."""
        if self._fields is None:
            self._fields = block_fields(self.cls, self.block)
        return self._fields

    @property
    def tid(self) -> int | None:
        """The token's TID (None for class 1 and key change tokens)."""
        return tid_of(self.cls, self.block)

    @property
    def grouped(self) -> str:
        """The digits in 4-4-4-4-4 groups, as printed on a receipt."""
        d = self.digits
        return " ".join(d[i:i + 4] for i in range(0, 20, 4))
