"""TransferAmount encodings (IEC 62055-41 6.3.6): unit-based and currency.

Unit-based (class 0 subclass 0..3 in 0.1 kWh / m3 / minutes, and the power limits of
class 2 subclass 0 and 6 in watts): 16 bits = 2-bit base-10 exponent e (bits 15..14) and a
14-bit mantissa m (bits 13..0); value = m * 10^e + sum_{n=1..e} 2^14 * 10^(n-1).

Currency (class 0 subclass 4..7, in 0.00001 base currency units): a 5-bit exponent (e0, e1
in bits 15..14 of the field, e2..e4 in bits 2..0 of the S&E nibble), the sign in bit 3 of
the S&E nibble and the same 14-bit mantissa series, extended to e = 31.

"All TransferAmount conversions shall be rounded up in favour of the customer": a positive
amount is rounded up (to the next step the field can carry) with the smallest exponent that
fits; a negative currency amount has its magnitude rounded down. The count functions work
on plain ints (the vending hot path); the amount functions take and give `Decimal`.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation, localcontext

from sts.errors import AmountRangeError

MANTISSA_MAX = 0x3FFF
# offset of exponent e: sum_{n=1..e} 2^14 * 10^(n-1) (0, 16384, 180224, 1818624, ...)
_OFFSETS = tuple(16384 * (10**e - 1) // 9 for e in range(32))
_PREC = 200  # digits of the Decimal context when rounding input amounts: never rounds early
_POW10 = tuple(10**e for e in range(32))

UNIT_COUNT_MAX = MANTISSA_MAX * 1000 + _OFFSETS[3]          # 18201624 (field 0xFFFF)
CURRENCY_COUNT_MAX = MANTISSA_MAX * 10**31 + _OFFSETS[31]
UNIT_STEP = Decimal("0.1")
CURRENCY_STEP = Decimal("0.00001")



def _scaled(count: int, exponent: int) -> Decimal:
    """count * 10**exponent as an exact Decimal (no context rounding, unlike `scaleb`)."""
    sign = 1 if count < 0 else 0
    return Decimal((sign, tuple(int(d) for d in str(abs(count))), exponent))


UNIT_MAX = _scaled(UNIT_COUNT_MAX, -1)                       # 1820162.4
CURRENCY_MAX = _scaled(CURRENCY_COUNT_MAX, -5)


def to_decimal(value: Decimal | str | int | float, what: str = "amount") -> Decimal:
    """A number given as Decimal, int, str or float as an exact `Decimal` (floats by repr)."""
    if isinstance(value, bool):
        raise AmountRangeError(f"{what} {value!r} is not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise AmountRangeError(f"{what} {value!r} is not a number") from None
    else:
        raise AmountRangeError(f"{what} {value!r} is not a number")
    if not number.is_finite():
        raise AmountRangeError(f"{what} {value!r} is not a finite number")
    return number


# --- unit-based -----------------------------------------------------------------------------


def encode_count(count: int, *, what: str = "amount", unit: str = "0.1 units") -> int:
    """16-bit field for a count of steps (0.1 units or watts), rounded up to a value it holds.

    Raises AmountRangeError for a negative count or one past 18201624 (field 0xFFFF).
    """
    if count < 0:
        raise AmountRangeError(f"{what} {count} {unit} is negative; the field carries 0 or more")
    for e in range(4):
        excess = count - _OFFSETS[e]
        mantissa = -(-excess // _POW10[e]) if excess > 0 else 0
        if mantissa <= MANTISSA_MAX:
            return (e << 14) | mantissa
    raise AmountRangeError(
        f"{what} {count} {unit} is past the maximum {UNIT_COUNT_MAX} {unit} (field 0xFFFF)"
    )


def decode_count(field: int) -> int:
    """The count of steps (0.1 units or watts) a 16-bit unit-based field stands for."""
    e = (field >> 14) & 3
    return (field & MANTISSA_MAX) * _POW10[e] + _OFFSETS[e]


def _plain_tenths(text: str) -> int | None:
    """Tenths of a plain "123" or "123.4" (the common case, without Decimal); else None."""
    whole, dot, frac = text.partition(".")
    if whole.isdigit() and whole.isascii():
        if not dot:
            return int(whole) * 10
        if len(frac) == 1 and frac.isdigit() and frac.isascii():
            return int(whole) * 10 + int(frac)
    return None


def amount_to_tenths(amount: Decimal | str | int | float) -> int:
    """An amount in whole units (kWh, m3, minutes) as a count of 0.1 units, rounded up."""
    if type(amount) is int:
        tenths = amount * 10
    elif type(amount) is str and (fast := _plain_tenths(amount)) is not None:
        tenths = fast
    else:
        number = to_decimal(amount)
        if number > UNIT_MAX:
            raise AmountRangeError(f"amount {amount} is past the maximum {UNIT_MAX}")
        if number < 0:
            raise AmountRangeError(f"amount {amount} is negative; a credit token carries 0 or more")
        with localcontext(prec=_PREC):
            tenths = int(number.scaleb(1).to_integral_value(rounding=ROUND_CEILING))
    if tenths < 0:
        raise AmountRangeError(f"amount {amount} is negative; a credit token carries 0 or more")
    if tenths > UNIT_COUNT_MAX:
        raise AmountRangeError(f"amount {amount} is past the maximum {UNIT_MAX}")
    return tenths


def encode_amount(amount: Decimal | str | int | float) -> int:
    """16-bit TransferAmount field for an amount in units (0.1 resolution, rounded up)."""
    return encode_count(amount_to_tenths(amount))


def decode_amount(field: int) -> Decimal:
    """The amount in units (kWh, m3, minutes) of a 16-bit TransferAmount field."""
    return _scaled(decode_count(field), -1)


def encode_watts(watts: Decimal | str | int | float) -> int:
    """16-bit field of a maximum power (or phase unbalance) limit in watts, rounded up."""
    if isinstance(watts, int) and not isinstance(watts, bool):
        count = watts
    else:
        number = to_decimal(watts, "power")
        if number > UNIT_COUNT_MAX:
            raise AmountRangeError(f"power {watts} W is past the maximum {UNIT_COUNT_MAX} W")
        count = int(number.to_integral_value(rounding=ROUND_CEILING))
    if count < 0:
        raise AmountRangeError(f"power {watts} W is negative")
    if count > UNIT_COUNT_MAX:
        raise AmountRangeError(f"power {watts} W is past the maximum {UNIT_COUNT_MAX} W")
    return encode_count(count, what="power", unit="W")


# --- currency -------------------------------------------------------------------------------


def encode_currency_count(count: int) -> tuple[int, int]:
    """(S&E nibble, 16-bit field) for a signed count of 0.00001 currency units.

    The magnitude must already be rounded in favour of the customer (see `encode_currency`).
    """
    negative = count < 0
    magnitude = -count if negative else count
    for e in range(32):
        excess = magnitude - _OFFSETS[e]
        # negative: rounded down, the smallest e whose floor fits (excess >= 0 there);
        # positive: rounded up, m = 0 when the offset alone covers the amount
        mantissa = (excess // _POW10[e] if negative
                    else -(-excess // _POW10[e]) if excess > 0 else 0)
        if 0 <= mantissa <= MANTISSA_MAX:
            se = (8 if negative else 0) | (e >> 2)
            return se, ((e & 3) << 14) | mantissa
    raise AmountRangeError(
        f"currency amount {_scaled(count, -5)} is past the maximum {CURRENCY_MAX}"
    )


def decode_currency_count(se: int, field: int) -> int:
    """Signed count of 0.00001 currency units of an S&E nibble and 16-bit field."""
    e = ((se & 7) << 2) | ((field >> 14) & 3)
    magnitude = (field & MANTISSA_MAX) * _POW10[e] + _OFFSETS[e]
    return -magnitude if se & 8 else magnitude


def encode_currency(amount: Decimal | str | int | float) -> tuple[int, int]:
    """(S&E nibble, field) of a currency amount (0.00001 resolution; may be negative).

    Positive amounts round up, negative ones round toward zero: both favour the customer.
    """
    number = to_decimal(amount)
    if abs(number) > CURRENCY_MAX:
        raise AmountRangeError(f"currency amount {amount} is past the maximum {CURRENCY_MAX}")
    with localcontext(prec=_PREC):
        scaled = number.scaleb(5)
        if number < 0:
            count = -int((-scaled).to_integral_value(rounding=ROUND_FLOOR))
        else:
            count = int(scaled.to_integral_value(rounding=ROUND_CEILING))
    if abs(count) > CURRENCY_COUNT_MAX:
        raise AmountRangeError(f"currency amount {amount} is past the maximum {CURRENCY_MAX}")
    return encode_currency_count(count)


def decode_currency(se: int, field: int) -> Decimal:
    """The signed currency amount (in base currency units) of an S&E nibble and field."""
    return _scaled(decode_currency_count(se, field), -5)


def currency_exponent(se: int, field: int) -> int:
    """The 5-bit exponent of a currency amount."""
    return ((se & 7) << 2) | ((field >> 14) & 3)


__all__ = [
    "CURRENCY_MAX",
    "UNIT_COUNT_MAX",
    "UNIT_MAX",
    "amount_to_tenths",
    "decode_amount",
    "decode_count",
    "decode_currency",
    "encode_amount",
    "encode_count",
    "encode_currency",
    "encode_watts",
]
