"""The vending side: build, encrypt and print tokens for one meter.

A `Vendor` holds one meter's decoder key and hands out strictly increasing TIDs (never at
minute 00:01, see `sts.tid`). Every method returns a `Token` (20 digits plus the plaintext
block and its fields); `key_change` returns the 2, 3 or 4 tokens of a key change set.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime
from decimal import Decimal

from sts import amount as amt
from sts.ciphers import encrypt_block
from sts.crc import token_crc
from sts.decode import check_key, default_ea, normalize_ea
from sts.digits import insert_class
from sts.errors import AmountRangeError, KeyFormatError
from sts.tid import TidAllocator, parse_base_date
from sts.tokens import (
    ALL_REGISTERS,
    Token,
    kct_payloads,
    kind_of,
    make_block,
    test_payload,
)

Number = Decimal | str | int | float


def _issue(cls: int, block: int, digits_block: int) -> Token:
    subclass = block >> 60
    return Token(f"{insert_class(digits_block, cls):020d}", cls, subclass,
                 kind_of(cls, subclass), block)


def test_token(control: int, *, mfr_code: int = 0, mfr_digits: int = 2) -> Token:
    """A class 1 InitiateMeterTest/Display token (not encrypted, so no key needed).

    `control` selects the tests (bit n = test n; all bits set = test 0 "all tests").
    """
    subclass, payload = test_payload(control, mfr_code, mfr_digits)
    block = make_block(1, subclass, payload)
    return _issue(1, block, block)


class Vendor:
    """Vends tokens for one meter under its decoder key.

    `ken` (optional) makes the vendor refuse TIDs past the key expiry number; `sgc` is the
    meter's supply group code, used by a 128-bit key change that is not given a new one;
    `rng` replaces the per-vendor random source of the RND nibble (for repeatable runs).
    """

    def __init__(self, decoder_key: bytes, ea: str = "07", base_date: int = 1993, kt: int = 2,
                 *, ken: int | None = None, sgc: str | None = None,
                 rng: random.Random | None = None, last_tid: int = -1) -> None:
        self.ea = normalize_ea(ea)
        self._key = check_key(decoder_key, self.ea)
        self.base_date = parse_base_date(base_date)
        if kt not in (0, 1, 2, 3):
            raise KeyFormatError(f"key type {kt!r} must be 0..3")
        self.kt = kt
        self.sgc = sgc
        self._tids = TidAllocator(self.base_date, ken, last_tid)
        self._rng = rng if rng is not None else random.Random(secrets.randbits(64))

    def __repr__(self) -> str:  # never shows the key
        return f"Vendor(ea={self.ea!r}, base_date={self.base_date}, kt={self.kt})"

    @property
    def ken(self) -> int | None:
        """The key expiry number the vendor enforces (None: not enforced)."""
        return self._tids.ken

    @property
    def last_tid(self) -> int:
        """The last TID handed out (-1 before the first)."""
        return self._tids.last

    # --- building blocks -------------------------------------------------------------------

    def _rnd(self, rnd: int | None) -> int:
        if rnd is None:
            return self._rng.getrandbits(4)
        if isinstance(rnd, bool) or not isinstance(rnd, int) or not 0 <= rnd <= 15:
            raise AmountRangeError(f"random number {rnd!r} must be 0..15")
        return rnd

    def _encrypted(self, cls: int, subclass: int, payload: int) -> Token:
        block = (subclass << 60) | (payload << 16) | token_crc(cls, subclass, payload)
        return _issue(cls, block, encrypt_block(self.ea, self._key, block))

    def _rnd_tid_token(self, subclass: int, value16: int, at: datetime | None,
                       tid: int | None, rnd: int | None) -> Token:
        rnd_value = self._rnd(rnd)
        tid_value = self._tids.allocate(at, tid)
        return self._encrypted(2, subclass, (rnd_value << 40) | (tid_value << 16) | value16)

    # --- class 0 ---------------------------------------------------------------------------

    def credit(self, subclass: int, amount: Number, *, at: datetime | None = None,
               tid: int | None = None, rnd: int | None = None) -> Token:
        """A credit token: subclass 0 electricity (kWh), 1 water (m3), 2 gas (m3), 3 time
        (minutes); the amount is rounded up to what the field carries (0.1 at best)."""
        if subclass not in (0, 1, 2, 3):
            raise AmountRangeError(f"credit subclass {subclass!r} must be 0..3 (4..7: currency)")
        field16 = amt.encode_count(amt.amount_to_tenths(amount))
        rnd_value = self._rnd(rnd)
        tid_value = self._tids.allocate(at, tid)
        return self._encrypted(0, subclass, (rnd_value << 40) | (tid_value << 16) | field16)

    def currency(self, subclass: int, amount: Number, *, at: datetime | None = None,
                 tid: int | None = None, rnd: int | None = None) -> Token:
        """A currency token: subclass 4..7 (electricity, water, gas, time), 0.00001 units,
        may be negative; carries S&E instead of RND (`rnd` is accepted and ignored)."""
        if subclass not in (4, 5, 6, 7):
            raise AmountRangeError(f"currency subclass {subclass!r} must be 4..7 (0..3: credit)")
        se, field16 = amt.encode_currency(amount)
        tid_value = self._tids.allocate(at, tid)
        return self._encrypted(0, subclass, (se << 40) | (tid_value << 16) | field16)

    # --- class 2 ---------------------------------------------------------------------------

    def power_limit(self, watts: Number, *, at: datetime | None = None, tid: int | None = None,
                    rnd: int | None = None) -> Token:
        """SetMaximumPowerLimit (watts, rounded up to what the field carries)."""
        return self._rnd_tid_token(0, amt.encode_watts(watts), at, tid, rnd)

    def clear_credit(self, register: int | str, *, at: datetime | None = None,
                     tid: int | None = None, rnd: int | None = None) -> Token:
        """ClearCredit of one register (0..7 = the class 0 subclasses) or "all" (0xFFFF)."""
        if isinstance(register, str):
            text = register.strip().lower()
            if text == "all":
                value = ALL_REGISTERS
            elif text.isdigit():
                value = int(text)
            else:
                raise AmountRangeError(f"register {register!r} must be 0..65535 or 'all'")
        else:
            value = register
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
            raise AmountRangeError(f"register {register!r} must be 0..65535 or 'all'")
        return self._rnd_tid_token(1, value, at, tid, rnd)

    def tariff_rate(self, value: int, *, at: datetime | None = None, tid: int | None = None,
                    rnd: int | None = None) -> Token:
        """SetTariffRate (a raw 16-bit value: the standard leaves its meaning to the STSA)."""
        return self._rnd_tid_token(2, _raw16("tariff rate", value), at, tid, rnd)

    def clear_tamper(self, *, at: datetime | None = None, tid: int | None = None,
                     rnd: int | None = None) -> Token:
        """ClearTamperCondition."""
        return self._rnd_tid_token(5, 0, at, tid, rnd)

    def phase_unbalance(self, watts: Number, *, at: datetime | None = None,
                        tid: int | None = None, rnd: int | None = None) -> Token:
        """SetMaximumPhasePowerUnbalanceLimit (watts, same encoding as the power limit)."""
        return self._rnd_tid_token(6, amt.encode_watts(watts), at, tid, rnd)

    def water_factor(self, value: int, *, at: datetime | None = None, tid: int | None = None,
                     rnd: int | None = None) -> Token:
        """SetWaterMeterFactor (a raw 16-bit value, reserved for water applications)."""
        return self._rnd_tid_token(7, _raw16("water meter factor", value), at, tid, rnd)

    def key_change(self, new_decoder_key: bytes, *, new_kt: int, new_krn: int, new_ti: str,
                   new_ken: int = 255, new_sgc: str | None = None, rollover: bool = False,
                   new_ea: str | None = None) -> list[Token]:
        """The key change set (2, 3 or 4 tokens, in entry order), encrypted under the
        current key: 2 for a 64-bit key, 3 for a 64-bit key with a new SGC, 4 for a
        128-bit key (EA11; the SGC goes with it, the vendor's own if `new_sgc` is None).
        `rollover` sets RO: the meter clears its TID store (needed with a new base date)."""
        ea = normalize_ea(new_ea) if new_ea is not None else default_ea(new_decoder_key)
        key = check_key(new_decoder_key, ea, "new decoder key")
        sgc = new_sgc
        if len(key) == 16 and sgc is None:
            sgc = self.sgc
        payloads = kct_payloads(key, kt=new_kt, krn=new_krn, ti=new_ti, ken=new_ken,
                                rollover=rollover, sgc=sgc)
        return [self._encrypted(2, subclass, payload) for subclass, payload in payloads]


def _raw16(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise AmountRangeError(f"{name} {value!r} must be an integer 0..65535")
    return value
