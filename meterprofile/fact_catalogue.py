"""The facts a conformance plan asks of a meter, in one vocabulary.

Plans ask the meter under test for facts ("credit", "relay_closed", "entry_result"), never
for register addresses; a meter profile declares, per fact, where its model gives it (an
optical register, the display, an instrument, the operator, or nowhere). The emulated meter
serves a register fact from its internal state under the address its profile declares, and
the rig resolves the same fact from the same declaration, so both sides read this one table.

No timing fact is in the vocabulary: when the relay moved, when an entry was judged, how long
a lock-out lasts are measured by the bench's instruments and the injector's clock, never read
from what a meter says about itself.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FACTS", "KINDS", "OUTCOMES", "Fact", "fact"]

#: value kinds: number (float in `unit`), text, flag (bool), outcome (an sts Outcome value)
KINDS = ("number", "text", "flag", "outcome")

#: outcomes an entry can have (sts.Outcome values plus the meter's own refusals)
OUTCOMES = ("ACCEPT", "KCT_HELD", "FORMAT_ERROR", "CRC_ERROR", "MFR_CODE_ERROR", "OLD", "USED",
            "KEY_EXPIRED", "DDTK_ERROR", "KEY_TYPE_ERROR", "RANGE_ERROR", "FUNCTION_ERROR",
            "OVERFLOW", "TAMPER", "LOCKED")


@dataclass(frozen=True)
class Fact:
    """One thing a plan may ask of the meter: its name, value kind, unit and meaning."""

    name: str
    kind: str
    unit: str
    meaning: str


_ROWS = [
    ("meter_number", "text", "", "meter number (DRN, 11 or 13 digits)"),
    ("meter_pan", "text", "", "MeterPAN (18 digits)"),
    ("firmware", "text", "", "firmware version"),
    ("clock_time", "text", "", "meter clock, hh:mm:ss"),
    ("clock_date", "text", "", "meter date, YY-MM-DD"),
    ("energy_import", "number", "kWh", "cumulative active import energy"),
    ("voltage", "number", "V", "supply voltage the meter measures"),
    ("current", "number", "A", "load current the meter measures"),
    ("power", "number", "W", "active power the meter measures"),
    ("frequency", "number", "Hz", "supply frequency the meter measures"),
    ("error_register", "text", "", "error register (F.F)"),
    ("credit", "number", "kWh", "available credit of subclass 0 (electricity)"),
    ("relay_closed", "flag", "", "supply control switch closed (load supplied)"),
    ("relay_reason", "text", "", "reason of the last relay change (CREDIT, TEST, OVERLOAD, ...)"),
    ("entry_result", "outcome", "", "result of the last token or short code entered"),
    ("entry_count", "number", "", "entries processed since manufacture (spots a new result)"),
    ("display_text", "text", "", "what the display shows now"),
    ("key_revision", "number", "", "key revision number (KRN)"),
    ("key_type", "number", "", "key type (KT)"),
    ("tariff_index", "text", "", "tariff index (TI)"),
    ("supply_group", "text", "", "supply group code (SGC)"),
    ("key_expiry", "number", "", "key expiry number (KEN)"),
    ("base_date", "number", "", "base date of the TID (1993, 2014, 2035)"),
    ("tamper", "flag", "", "tamper condition latched"),
    ("low_credit_alarm", "flag", "", "low-credit alarm active"),
    ("alarm_level", "number", "kWh", "low-credit alarm level"),
    ("power_limit", "number", "W", "maximum power limit (0 = none)"),
    ("unbalance_limit", "number", "W", "maximum phase power unbalance limit"),
    ("overload_trips", "number", "", "overload trips counted"),
    ("lockout_refusals", "number", "", "consecutive refused tokens (lock-out counter)"),
    ("outages", "number", "", "supply outages counted"),
    ("tamper_events", "number", "", "tamper events counted"),
]

FACTS: dict[str, Fact] = {name: Fact(name, kind, unit, meaning)
                          for name, kind, unit, meaning in _ROWS}


def fact(name: str) -> Fact:
    """The fact called `name`; KeyError naming the known ones otherwise."""
    try:
        return FACTS[name]
    except KeyError:
        raise KeyError(f"no fact named {name!r} (known: {', '.join(FACTS)})") from None
