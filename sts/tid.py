"""TokenIdentifier: minutes since the base date (IEC 62055-41 6.3.5).

A TID is a 24-bit count of minutes since the BaseDate of the vending key (1993-01-01,
2014-01-01 or 2035-01-01, 00:00); seconds are dropped. The last minute of each base date is
0xFFFFFF (the rollover date: 2024-11-24 20:15, 2045-11-24 20:15, 2066-11-24 20:15).

Vending rules followed by compliant vending systems (STS 531-1 CTSA09): the minute 00:01 of
each day is the SpecialReservedTokenIdentifier and is never issued (a token asked for at
00:01 gets 00:02), and the TIDs issued for one meter strictly increase, so several tokens
asked for in the same minute get the following minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sts.errors import KeyExpiryError, KeyFormatError, TIDRangeError

TID_MAX = 0xFFFFFF
MINUTES_PER_DAY = 1440
RESERVED_MINUTE_OF_DAY = 1  # 00:01, the SpecialReservedTokenIdentifier
BASE_DATES: dict[int, datetime] = {
    1993: datetime(1993, 1, 1),
    2014: datetime(2014, 1, 1),
    2035: datetime(2035, 1, 1),
}
_MINUTE = timedelta(minutes=1)


def parse_base_date(value: int | str | datetime) -> int:
    """The base date as its year (1993, 2014, 2035); accepts 1993, "93", "1993-01-01"."""
    if isinstance(value, datetime):
        year = value.year if value.replace(tzinfo=None) in BASE_DATES.values() else None
    else:
        text = str(value).strip()
        if text in {"93", "14", "35"}:
            text = {"93": "1993", "14": "2014", "35": "2035"}[text]
        if text.endswith("-01-01"):
            text = text[:-6]
        year = int(text) if text.isdigit() else None
    if year not in BASE_DATES:
        raise KeyFormatError(f"base date {value!r} is not one of 1993, 2014, 2035")
    return year


def _naive(at: datetime) -> datetime:
    """A naive datetime; an aware one is taken in UTC (the 2018 edition's BaseDate is UTC)."""
    if at.tzinfo is not None:
        return at.astimezone(UTC).replace(tzinfo=None)
    return at


def utc_now() -> datetime:
    """Now, as a naive UTC datetime."""
    return datetime.now(UTC).replace(tzinfo=None)


def minutes_since_base(at: datetime, base_date: int = 1993) -> int:
    """Whole minutes from the base date to `at` (seconds dropped); may be out of TID range."""
    delta = _naive(at) - BASE_DATES[parse_base_date(base_date)]
    return (delta.days * 86400 + delta.seconds) // 60


def rollover_date(base_date: int = 1993) -> datetime:
    """The last minute that has a TID under this base date (TID 0xFFFFFF)."""
    return BASE_DATES[parse_base_date(base_date)] + TID_MAX * _MINUTE


def base_date_in_force(at: datetime) -> int:
    """The base date a vending system uses at `at`: the oldest one whose TID range still
    covers that minute (1993 up to 2024-11-24 20:15, 2014 up to 2045-11-24 20:15, then 2035)."""
    for year in sorted(BASE_DATES):
        if 0 <= minutes_since_base(at, year) <= TID_MAX:
            return year
    raise TIDRangeError(f"{_naive(at):%Y-%m-%d %H:%M} is outside every base date's TID range "
                        f"(1993-01-01 00:00 .. {rollover_date(2035):%Y-%m-%d %H:%M})")


def check_tid(tid: int, base_date: int = 1993) -> int:
    """`tid` if it fits 24 bits, else TIDRangeError naming the base date's range."""
    if tid < 0:
        base = parse_base_date(base_date)
        raise TIDRangeError(f"TID {tid} is before the base date {base}-01-01 00:00")
    if tid > TID_MAX:
        base = parse_base_date(base_date)
        raise TIDRangeError(
            f"TID {tid} is past 0xFFFFFF: the {base} base date rolled over after "
            f"{rollover_date(base):%Y-%m-%d %H:%M}; change to a newer base date"
        )
    return tid


def tid_from_datetime(at: datetime, base_date: int = 1993) -> int:
    """The TID of `at` under the base date (no reserved-minute rule: see `TidAllocator`)."""
    base = parse_base_date(base_date)
    minutes = minutes_since_base(at, base)
    if minutes < 0:
        raise TIDRangeError(f"{_naive(at):%Y-%m-%d %H:%M} is before the base date {base}-01-01")
    if minutes > TID_MAX:
        raise TIDRangeError(
            f"{_naive(at):%Y-%m-%d %H:%M} is past the rollover date of the {base} base date "
            f"({rollover_date(base):%Y-%m-%d %H:%M}); change to a newer base date"
        )
    return minutes


def datetime_from_tid(tid: int, base_date: int = 1993) -> datetime:
    """The (naive) date and minute a TID stands for."""
    return BASE_DATES[parse_base_date(base_date)] + tid * _MINUTE


def is_reserved_tid(tid: int) -> bool:
    """True for a TID at minute 00:01 of a day (the SpecialReservedTokenIdentifier)."""
    return tid % MINUTES_PER_DAY == RESERVED_MINUTE_OF_DAY


def key_expired(tid: int, ken: int) -> bool:
    """True when the TID is past the key expiry number: (TID >> 16) > KEN."""
    return (tid >> 16) > ken


@dataclass
class TidAllocator:
    """Hands out strictly increasing TIDs for one meter, never at minute 00:01.

    `ken` (if given) makes it refuse a TID whose high byte is past the key expiry number,
    as vending systems must (KeyExpiryError).
    """

    base_date: int = 1993
    ken: int | None = None
    last: int = -1

    def __post_init__(self) -> None:
        self.base_date = parse_base_date(self.base_date)

    def allocate(self, at: datetime | None = None, tid: int | None = None) -> int:
        """The TID for a token asked for at `at` (default now, UTC), or exactly `tid`."""
        if tid is not None:
            value = check_tid(int(tid), self.base_date)
        else:
            value = tid_from_datetime(utc_now() if at is None else at, self.base_date)
            if value <= self.last:
                value = self.last + 1
            if is_reserved_tid(value):
                value += 1
            check_tid(value, self.base_date)
        if self.ken is not None and key_expired(value, self.ken):
            raise KeyExpiryError(
                f"TID {value} ({datetime_from_tid(value, self.base_date):%Y-%m-%d %H:%M}) is "
                f"past the key expiry number {self.ken} (TID >> 16 = {value >> 16})"
            )
        self.last = max(self.last, value)
        return value
