"""The state-by-event matrix, declared once: for every event, what every persistent item
must become. A row names only the items the event changes; every other item must be KEPT.

Rules: KEPT (the value before the event), SET (to the value the event carries; the reference
model says which), CLEARED (0 / off / empty), COUNTED (one more), RESET (the lock-out count
back to 0), CLOSED / OPENED (the relay; its cause follows), PULSED (the relay opens for the
declared test time and comes back), FOLLOWS (what the declared policy says, e.g. the relay
follows the credit). The plan `testplans/test_state_matrix.py` walks every row in each meter
state of its `states`, judges each item against both its rule here and the reference
model's allowed values, and records one line per cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# persistent items and the facts that show each (docs/profile.md fact names)
ITEMS: dict[str, tuple[str, ...]] = {
    "credit": ("credit",),
    "TID store": ("tid_store",),  # probed: the last accepted token replayed must be USED
    "key data": ("key_revision", "key_type", "tariff_index", "supply_group", "key_expiry",
                 "base_date"),
    "power limit": ("power_limit",),
    "phase unbalance limit": ("unbalance_limit",),
    "tamper latch": ("tamper", "tamper_events"),
    "lock-out counter": ("lockout_refusals",),
    "overload trips": ("overload_trips",),
    "relay": ("relay_closed", "relay_reason"),
    "energy": ("energy_import",),
    "supply outages": ("outages",),
    "low-credit alarm": ("alarm_level", "low_credit_alarm"),
}

KEPT, SET, CLEARED, COUNTED, RESET = "kept", "set", "cleared", "counted", "reset"
CLOSED, OPENED, PULSED, FOLLOWS = "closed", "opened", "pulsed", "follows"

# meter states a row is walked in (built by the plan's fixtures)
CREDITED = "credited"  # credit above the alarm level, relay closed
LOW = "low credit"  # credit below the alarm level, relay closed
EXHAUSTED = "exhausted"  # no credit, relay open (cause CREDIT)
TRIPPED = "tripped"  # relay open on overload, reconnection pending
TAMPERED = "tampered"  # tamper latched (earth leakage)
LOCKED = "locked out"  # the declared lock-out running
DDTK = "under a DDTK"  # key type 1
EXPIRED = "key expired"  # KEN below today's TIDs


@dataclass(frozen=True)
class Row:
    """One event: how the plan does it (`action`), the outcome a compliant meter gives, the
    items it changes (all others KEPT), and the states it is walked in."""

    event: str
    action: str
    outcome: str | None
    changes: dict[str, str] = field(default_factory=dict)
    states: tuple[str, ...] = (CREDITED,)
    clause: str = ""
    quick: bool = True  # False: only in the full matrix (`rig run --explore N`)

    def rule(self, item: str) -> str:
        return self.changes.get(item, KEPT)

    @property
    def actions(self) -> list[str]:
        """The tokens or events of the row ("a+b": several of a kind, done in turn)."""
        return self.action.split("+")

    def outcome_of(self, i: int) -> str | None:
        """The outcome the matrix declares for the row's i-th action."""
        if self.outcome is None:
            return None
        parts = self.outcome.split("+")
        return parts[i] if len(parts) > 1 else parts[0]


REFUSED = {"lock-out counter": COUNTED}
GROUP = {"lock-out counter": FOLLOWS}  # several refusals (an accepted token between, so no
# lock-out starts): the count the declared policy gives
ACCEPTED = {"TID store": SET, "lock-out counter": RESET}
CREDIT_IN = {**ACCEPTED, "credit": SET, "relay": FOLLOWS, "low-credit alarm": FOLLOWS}
CL0 = "IEC 62055-41:2014 6.3.x class 0 TransferCredit"
CL1 = "IEC 62055-41:2014 6.3.7/6.3.8 class 1 InitiateMeterTest/Display"
CL2 = "IEC 62055-41:2014 6.3.9-6.3.17 class 2 management"
V737 = "IEC 62055-41:2014 7.3.6/7.3.7 authentication and validation"
KCT = "IEC 62055-41:2014 6.3.14-6.3.17, 6.5.2.4 key change"
SPLN = "SPLN D3.009-1:2010"

ROWS: tuple[Row, ...] = (
    # --- class 0 ------------------------------------------------------------------------
    Row("credit token accepted", "credit", "ACCEPT", CREDIT_IN,
        (CREDITED, LOW, EXHAUSTED, TRIPPED), CL0),
    Row("credit token replayed (USED)", "credit_used", "USED", REFUSED,
        (CREDITED, EXHAUSTED), V737),
    Row("credit token older than the TID store (OLD)", "credit_old", "OLD", REFUSED,
        (CREDITED,), V737),
    Row("credit token under another key (CRC)", "credit_wrong_key", "CRC_ERROR", REFUSED,
        (CREDITED, EXHAUSTED), V737),
    Row("credit for another meter, a mistyped digit, class 2 under another key (CRC)",
        "credit_other_meter+credit_mistyped+class2_wrong_key", "CRC_ERROR", GROUP, (LOW,),
        V737),
    Row("water, gas, time, currency credit, class 0 subclass 9 (not declared: FUNCTION)",
        "credit_sub1+credit_sub2+credit_sub3+currency_sub4+class0_reserved",
        "FUNCTION_ERROR", GROUP, (CREDITED,), CL0),
    Row("credit past the maximum (OVERFLOW)", "credit_overflow", "OVERFLOW", REFUSED,
        (CREDITED,), SPLN + " maximum credit"),
    Row("credit while tampered (PERIKSA)", "credit", "TAMPER", REFUSED, (TAMPERED,),
        SPLN + " tamper"),
    Row("credit during the lock-out (LOCKED)", "credit", "LOCKED", {}, (LOCKED,),
        SPLN + " lock-out"),
    Row("credit under a DDTK (DDTK error)", "credit", "DDTK_ERROR", REFUSED, (DDTK,),
        "IEC 62055-41:2014 6.5.2.3.3 DDTK"),
    Row("credit past the key expiry number", "credit", "KEY_EXPIRED", REFUSED, (EXPIRED,),
        V737 + " KEN"),
    # --- class 2 ------------------------------------------------------------------------
    Row("power limit token accepted", "power_limit", "ACCEPT",
        {**ACCEPTED, "power limit": SET}, (CREDITED, EXHAUSTED, DDTK), CL2),
    Row("power limit token replayed (USED)", "power_limit_used", "USED", REFUSED,
        (CREDITED,), V737),
    Row("clear credit (register 0)", "clear_credit", "ACCEPT",
        {**ACCEPTED, "credit": CLEARED, "relay": OPENED, "low-credit alarm": FOLLOWS},
        (CREDITED, LOW), CL2 + " ClearCredit"),
    Row("clear credit (all registers)", "clear_credit_all", "ACCEPT",
        {**ACCEPTED, "credit": CLEARED, "relay": OPENED, "low-credit alarm": FOLLOWS},
        (CREDITED,), CL2 + " ClearCredit"),
    Row("clear credit of register 1 (water: no register of this meter, taken or refused; "
        "its electricity credit kept)", "clear_credit_water", "either",
        {"lock-out counter": FOLLOWS, "TID store": FOLLOWS}, (CREDITED,),
        CL2 + " ClearCredit"),
    Row("clear credit of register 8, 0x8000, 0xFFFE (RANGE), class 2 subclass 11 "
        "(FUNCTION)",
        "clear_credit_range+clear_credit_top+clear_credit_below_all+class2_reserved",
        "RANGE_ERROR+RANGE_ERROR+RANGE_ERROR+FUNCTION_ERROR", GROUP,
        (CREDITED,), CL2),
    Row("clear tamper", "clear_tamper", "ACCEPT", {**ACCEPTED, "tamper latch": CLEARED},
        (TAMPERED, CREDITED), CL2 + " ClearTamperCondition"),
    Row("phase unbalance limit", "phase_unbalance", "declared",
        {"phase unbalance limit": FOLLOWS, "lock-out counter": FOLLOWS, "TID store": FOLLOWS},
        (CREDITED,), CL2 + " SetMaximumPhasePowerUnbalanceLimit"),
    Row("tariff rate (reserved for future definition), water meter factor (water meters)",
        "tariff_rate+water_factor", "either+either",
        {"lock-out counter": FOLLOWS, "TID store": FOLLOWS}, (CREDITED,),
        CL2 + " SetTariffRate, SetWaterMeterFactor"),
    Row("clear credit during the lock-out (LOCKED)", "clear_credit", "LOCKED", {},
        (LOCKED,), SPLN + " lock-out", quick=False),
    # --- class 1 ------------------------------------------------------------------------
    Row("relay test token (test 1)", "test_relay", "ACCEPT", {"relay": PULSED},
        (CREDITED, EXHAUSTED), CL1),
    Row("display test token (test 2)", "test_display", "ACCEPT", {}, (CREDITED, LOCKED),
        CL1),
    Row("test-all token (test 0)", "test_all", "ACCEPT", {"relay": PULSED}, (CREDITED,), CL1),
    Row("test token for another maker (MFR), with a wrong CRC, class 1 subclass 5",
        "test_wrong_mfr+test_bad_crc+class1_reserved",
        "MFR_CODE_ERROR+CRC_ERROR+FUNCTION_ERROR", GROUP, (CREDITED,), CL1 + " MfrCode"),
    Row("class 3 number (FORMAT)", "class3", "FORMAT_ERROR", REFUSED, (CREDITED,),
        "IEC 62055-41:2014 6.3.2 token classes"),
    # --- key change ---------------------------------------------------------------------
    Row("key change, 2-token set (new KRN)", "kct_krn", "ACCEPT",
        {"key data": SET, "lock-out counter": RESET}, (CREDITED, EXHAUSTED), KCT),
    Row("key change, sections in reverse order", "kct_reverse", "ACCEPT",
        {"key data": SET, "lock-out counter": RESET}, (LOW,), KCT),
    Row("key change, one section only (held)", "kct_half", "KCT_HELD", {}, (CREDITED,), KCT),
    Row("key change, 3-token set (new SGC)", "kct_sgc", "ACCEPT",
        {"key data": SET, "lock-out counter": RESET}, (CREDITED,), KCT),
    Row("key change with RO (TID store cleared)", "kct_rollover", "ACCEPT",
        {"key data": SET, "lock-out counter": RESET, "TID store": CLEARED}, (CREDITED,),
        KCT + ", TID rollover"),
    Row("key change to a DDTK (key type 1)", "kct_ddtk", "ACCEPT",
        {"key data": SET, "lock-out counter": RESET}, (CREDITED,), KCT),
    Row("key change to a DITK (KT 0), to a DCTK (KT 3), a section under another key",
        "kct_ditk+kct_dctk+kct_wrong_key", "KEY_TYPE_ERROR+KEY_TYPE_ERROR+CRC_ERROR", GROUP,
        (CREDITED,), KCT + " key type rules, authentication"),
    Row("key change with a KEN below today's TIDs", "kct_ken", "ACCEPT",
        {"key data": SET, "lock-out counter": RESET, "credit": FOLLOWS, "TID store": SET,
         "low-credit alarm": FOLLOWS}, (CREDITED,), KCT + " KENHO/KENLO"),
    # --- supply, keypad, load, tamper ---------------------------------------------------
    Row("power cycle", "power_cycle", None,
        {"supply outages": COUNTED, "lock-out counter": FOLLOWS, "relay": FOLLOWS},
        (CREDITED, EXHAUSTED, TRIPPED, TAMPERED, LOCKED), "IEC 62055-31 non-volatile "
        "registers; " + SPLN),
    Row("lock-out starts (threshold-th refusal)", "lockout_start", "CRC_ERROR",
        {"lock-out counter": SET}, (CREDITED,), SPLN + " lock-out"),
    Row("lock-out ends (declared length passes)", "lockout_end", None, {}, (LOCKED,),
        SPLN + " lock-out"),
    Row("earth leakage (tamper raised)", "earth_leak", None,
        {"tamper latch": SET, "energy": FOLLOWS, "credit": FOLLOWS}, (CREDITED,),
        SPLN + " tamper"),
    Row("load over the power limit (trip)", "overload_trip", None,
        {**ACCEPTED, "overload trips": COUNTED, "relay": OPENED, "energy": FOLLOWS,
         "credit": FOLLOWS, "power limit": SET},
        (CREDITED,), CL2 + " SetMaximumPowerLimit; declared overload.*"),
    Row("overload released (reconnect time passes)", "overload_release", None,
        {"relay": CLOSED}, (TRIPPED,), "declared overload.reconnect_s"),
    Row("relay test code 01", "code_relay", None, {"relay": PULSED}, (CREDITED, LOCKED),
        SPLN + " short codes"),
    Row("information code 41 (voltage)", "code_info", None, {}, (CREDITED,),
        SPLN + " short codes"),
    Row("alarm level code 456xx", "code_alarm", None, {"low-credit alarm": SET},
        (CREDITED, LOW), SPLN + " low-credit alarm"),
    Row("half-typed token left past the entry timeout", "half_typed", "ACCEPT", CREDIT_IN,
        (CREDITED,), SPLN + " keypad entry timeout"),
    Row("credit runs out under load (metering)", "deplete", "ACCEPT",
        {**CREDIT_IN, "energy": FOLLOWS}, (EXHAUSTED,),
        "IEC 62055-31 supply control switch at exhaustion; declared ratings.accuracy_class"),
    Row("long idle across every declared timer", "idle", None, {},
        (CREDITED,), "declared timers"),
)


def cells() -> list[tuple[Row, str, str]]:
    """Every (row, state, item) cell of the matrix."""
    return [(row, state, item) for row in ROWS for state in row.states for item in ITEMS]


def items_changed_by_nothing() -> list[str]:
    """Items no row changes (a gap in the matrix if any)."""
    touched = {item for row in ROWS for item in row.changes}
    return [item for item in ITEMS if item not in touched]
