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
    # both sides of every declared number
    "early-lockout": "locks the keypad one invalid token before the declared threshold",
    "short-tid-store": "TID store one shorter than declared: the oldest TID of a full store is OLD",
    "trip-below-limit": "overload trips at 95% of the power limit (just below the limit trips)",
    "max-credit-short": "refuses (OVER) credit into the last 1 kWh below the declared maximum",
    # both outcomes of every state kept across an event
    "tamper-clear-credit": "a clear-tamper token also clears the credit registers",
    "kct-loses-credit": "a completed key change clears the credit registers",
    "sticky-lockout": "a keypad lock-out survives a power cycle the profile says resets it",
    "exhausted-reconnects": "an exhausted meter closes its relay after a power cycle (free supply)",
    # the wire protocol in full
    "frozen-clock": "time and date registers (0.9.1, 0.9.2) stand still at the meter's start",
    "readout-no-end": "the data readout lacks its end line (! CR LF before ETX)",
    "slow-reaction": "identification sent 1.8 s after the request (IEC 62056-21: at most 1.5 s)",
    # the meter cross-checked against the bench
    "fast-energy": "energy register and credit deduction count 5% more than the load drew",
    "credit-drift": "deducts 0.95 kWh of credit per kWh its energy register counts",
    "voltage-reads-high": "shows and reports the voltage 3% above the supply (class 1: 1%)",
    # preconditions first, waits bounded
    "clear-credit-ignored": "accepts a clear-credit token (BENAR) but leaves the credit as it was",
    "endless-lockout": "a keypad lock-out never ends by itself (only a power cycle releases it)",
    # the same verdict at every clock speed
    "short-entry-timeout": "drops a half-typed entry after 85% of the declared entry timeout",
    "short-trip-delay": "overload trips after 85% of the declared trip delay",
    "early-reconnect": "reconnects after an overload trip at 85% of the declared reconnect time",
    "marginal-relay": "relay operate time a quarter over the declared limit (125 ms +/- spread)",
}


def check_faults(names: Iterable[str]) -> frozenset[str]:
    """The set of fault names; an unknown one is a ValueError listing the known faults."""
    chosen = frozenset(names)
    unknown = sorted(chosen - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown fault {unknown[0]!r} (known: {', '.join(FAULTS)})")
    return chosen
