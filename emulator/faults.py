"""Named deviations from the standard that the emulated meter can be switched into.

A conformance plan is only worth what it catches: each fault must make at least one plan
test fail, and the clean meter none.
"""

from __future__ import annotations

from collections.abc import Iterable

FAULTS: dict[str, str] = {
    "accept-used": "accepts a token whose TID is already in the TID store",
    "ignore-old": "accepts a token older than the oldest TID of a full TID store",
    "ignore-key-expiry": "accepts tokens whose TID is past the key expiry number (KEN)",
    "credit-rounding": "credits the amount truncated to whole units (10.5 kWh adds 10.0)",
    "late-relay": "relay operate time 10 x the declared one (300 ms instead of 30 ms)",
    "no-reconnect": "relay stays open after credit is added to an exhausted meter",
    "no-lockout": "never locks the keypad after repeated invalid tokens",
    "volatile-credit": "loses its credit registers on a power cycle",
    "bad-bcc": "the optical port sends a wrong BCC on every data message",
    "kct-wrong-key": "accepts key change sections encrypted under its previous decoder key",
}


def check_faults(names: Iterable[str]) -> frozenset[str]:
    """The set of fault names; an unknown one is a ValueError listing the known faults."""
    chosen = frozenset(names)
    unknown = sorted(chosen - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown fault {unknown[0]!r} (known: {', '.join(FAULTS)})")
    return chosen
