"""The emulated meter's memory, judgement and display: what does not depend on physics.

`MeterState` is what the meter keeps in non-volatile memory (credit registers, counters,
the token validator with its key register and TID store); it is saved as JSON and survives
power cycles. `TokenJudge` adds the meter's own rules (tamper, credit overflow, credit
rounding fault) to the sts validator; `LockoutTracker` counts refused tokens; `short_code_value`
is the keypad code table. The decisions that depend on time and power (relay, depletion,
overload, entry timeout) live in the meter's firmware, `emulator.meter_firmware`, which
calls here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import sts
from meterprofile import Lockout, MeterProfile
from sts import Outcome, TokenRejected

DISPLAY = {
    "ACCEPT": "BENAR", "KCT_HELD": "KCT", "USED": "USED", "OLD": "USANG", "OVERFLOW": "OVER",
    "TAMPER": "PERIKSA", "LOCKED": "BLOKIR",
}
CREDIT_UNITS = ("kWh", "m3", "m3", "min", "CU", "CU", "CU", "CU")


def display_for(outcome: str, held: int = 0) -> str:
    """The PLN display text of an outcome (GAGAL for every other refusal)."""
    if outcome == "KCT_HELD":
        return f"KCT {held}"
    return DISPLAY.get(outcome, "GAGAL")


@dataclass
class MeterState:
    """Non-volatile memory of the meter."""

    credit: list[float] = field(default_factory=lambda: [0.0] * 8)
    energy_kwh: float = 0.0
    power_limit_w: int = 0
    unbalance_limit_w: int = 0
    tariff_rate: int = 0
    water_factor: int = 0
    alarm_level_kwh: float = 10.0
    alarm_repeat_min: int = 30
    tamper: bool = False
    tamper_events: int = 0
    overload_trips: int = 0
    outages: int = 0
    entries: int = 0
    last_outcome: str = "NONE"
    last_token: str = ""
    display: str = ""
    credit_tokens: list[tuple[str, float]] = field(default_factory=list)  # newest first
    mgmt_tokens: list[str] = field(default_factory=list)
    previous_keys: list[str] = field(default_factory=list)  # hex, newest first (fault hook)
    validator: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeterState:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        state = cls(**known)
        state.credit_tokens = [tuple(x) for x in state.credit_tokens]  # type: ignore[misc]
        return state


class LockoutTracker:
    """Consecutive refused tokens and the keypad lock-out they cause (profile [lockout]).

    Volatile: a power cycle resets it when the profile says so (the model decides).
    """

    def __init__(self, policy: Lockout, enabled: bool = True, *, early: bool = False,
                 endless: bool = False) -> None:
        self.policy = policy
        self.enabled = enabled
        self.early = early  # fault early-lockout: counts one refusal more than it saw
        self.endless = endless  # fault endless-lockout: a lock-out never ends by itself
        self.refusals = 0
        self.until = -1.0  # bench time the last lock-out ends (-1: none)

    def locked(self, t: float) -> bool:
        return self.enabled and t < self.until

    def remaining(self, t: float) -> float:
        return max(self.until - t, 0.0) if self.enabled else 0.0

    def refuse(self, t: float) -> None:
        """One more refused token at t; locks the keypad once past the threshold."""
        self.refusals += 1
        duration = self.policy.duration(self.refusals + (1 if self.early else 0))
        if self.enabled and duration > 0:
            self.until = math.inf if self.endless else t + duration

    def reset(self) -> None:
        self.refusals = 0
        self.until = -1.0


@dataclass
class Entry:
    """What a key press led to (for the model to act on)."""

    outcome: str | None = None  # set when an entry was processed
    accepted: sts.ValidatedToken | None = None
    tests: tuple[int, ...] = ()  # test numbers to run (relay test etc.)
    credit_added: bool = False
    management: str | None = None  # kind of an accepted class 2 token


class TokenJudge:
    """Judges a 20-digit token against the validator and the meter's own rules."""

    def __init__(self, profile: MeterProfile, validator: sts.MeterValidator,
                 faults: frozenset[str]) -> None:
        self.profile = profile
        self.validator = validator
        self.faults = faults

    def token_class(self, digits: str) -> int | None:
        try:
            return sts.digits.extract_class(sts.parse_digits(digits))[0]
        except sts.TokenFormatError:
            return None

    def judge(self, digits: str, state: MeterState) -> tuple[str, sts.ValidatedToken | None]:
        """(outcome, the validated token when accepted); applies nothing."""
        try:
            token = self.validator.validate(digits)
        except TokenRejected as exc:
            return exc.outcome.value, None
        if token.kind in ("credit", "currency"):
            if state.tamper and self.profile.tamper.refuse_credit:
                return "TAMPER", None
            amount = self.credited_amount(token)
            cap = self.profile.tokens.max_credit_kwh
            if "max-credit-short" in self.faults:
                cap -= 1.0
            if token.subclass == 0 and state.credit[0] + amount > cap + 1e-9:
                return Outcome.OVERFLOW.value, None
        return Outcome.ACCEPT.value, token

    def credited_amount(self, token: sts.ValidatedToken) -> float:
        amount = Decimal(token.fields["amount"])
        if "credit-rounding" in self.faults:
            amount = amount.quantize(Decimal(1), rounding=ROUND_DOWN)
        return float(amount)


def short_code_value(code: str, reading: dict[str, Any]) -> str | None:
    """The display text of a short code (None: not a code this meter knows)."""
    simple = {
        "37": f"{reading['credit']:.2f} kWh", "38": f"{reading['energy']:.2f} kWh",
        "03": f"{reading['energy']:.2f} kWh",
        "41": f"{reading['voltage']:.1f} V", "44": f"{reading['current']:.3f} A",
        "47": f"{reading['power']:.0f} W", "09": f"{reading['power']:.0f} W",
        "68": str(reading["overload_trips"]), "69": str(reading["outages"]),
        "70": str(reading["tamper_events"]), "71": "0", "72": str(reading["tamper_events"]),
        "75": reading["drn"], "77": reading["sgc"],
        "04": f"KRN {reading['krn']} KT {reading['kt']}",
        "05": f"TI {reading['ti']}", "07": f"{reading['power_limit']} W",
        "08": f"TAMPER {int(reading['tamper'])}", "10": reading["firmware"],
        "11": f"{reading['unbalance_limit']} W", "06": "TEST 6 OK",
        "78": f"{reading['alarm_repeat']} min", "79": f"{reading['alarm_level']:.0f} kWh",
        "00": "888888888", "02": "888888888", "01": "RELAY TEST",
    }
    if code in simple:
        return simple[code]
    tokens = reading["credit_tokens"]
    if code in ("54", "55", "56", "57", "58"):
        i = int(code) - 54
        return tokens[i][0] if i < len(tokens) else "-"
    if code in ("59", "60", "61", "62", "63"):
        i = int(code) - 59
        return f"{tokens[i][1]:.1f} kWh" if i < len(tokens) else "-"
    return None
