"""What the emulated meter offers on its optical port: exactly its profile's register facts.

The model knows every fact (its internal state); the profile says which of them this model
puts on the optical port, under which address, in which format and scale. So the default
profile's meter answers the rig-defined C.5x registers and the minimal one only what real
meters commonly offer; every other address is unknown to it, as to a real meter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from meterprofile import MeterProfile, RegisterSource
from meterprofile.fact_catalogue import FACTS

#: registers a meter answers whatever its profile says (IEC 62056-21 device address)
IDENTIFICATION = ("0.0.0",)

#: what the emulated meter's rig-defined diagnostic registers hold (docs/CONTRACTS.md 3.3);
#: no fact names them and no verdict rests on them
DIAGNOSTIC_MEANINGS = {
    "C.50.1": "credit, water (subclass 1)", "C.50.2": "credit, gas (subclass 2)",
    "C.50.3": "credit, time (subclass 3)", "C.50.4": "currency credit, electricity",
    "C.50.5": "currency credit, water", "C.50.6": "currency credit, gas",
    "C.50.7": "currency credit, time", "C.51.0": "relay closed (1) or open (0)",
    "C.51.1": "bench time of the last relay contact change",
    "C.51.2": "bench time the meter last commanded the relay",
    "C.51.4": "bench time the meter last commanded the relay open",
    "C.51.5": "bench time the meter last commanded the relay closed",
    "C.52.1": "last token entered", "C.52.3": "bench time the last entry was processed",
    "C.58.0": "lock-out remaining", "C.58.2": "bench time the last lock-out ends",
    "C.60.0": "bench time now",
}


def format_value(value: Any, src: RegisterSource) -> str:
    """The wire text of a fact value under its register declaration (value / scale)."""
    if src.format == "flag" or isinstance(value, bool):
        return "1" if value else "0"
    if src.format == "int":
        return str(round(float(value) / src.scale))
    if src.format.startswith("%"):
        return src.format % (float(value) / src.scale)
    return str(value)


def register_rows(profile: MeterProfile, values: dict[str, Any], drn: str,
                  internal: list[tuple[str, str, str]] = ()) -> list[tuple[str, str, str]]:
    """(address, value, unit) of the identification registers, every register fact, and the
    profile's diagnostic registers (taken from the model's `internal` table)."""
    rows = [("0.0.0", drn, "")]
    for name, src in profile.register_facts().items():
        if name not in FACTS or name not in values:
            continue
        rows.append((src.address, format_value(values[name], src), src.unit))
    diagnostic = set(profile.optical.diagnostic_registers)
    rows += [row for row in internal if row[0] in diagnostic]
    return rows


def fact_values(model: Any, now: float, wall: datetime) -> dict[str, Any]:
    """Every fact of the vocabulary from the model's state at bench time `now`."""
    st, reg = model.state, model.validator.register
    closed = model.relay.closed
    return {
        "meter_number": model.identity.drn, "meter_pan": model.identity.pan,
        "firmware": model.identity.firmware,
        "clock_time": wall.strftime("%H:%M:%S"), "clock_date": wall.strftime("%y-%m-%d"),
        "energy_import": st.energy_kwh, "voltage": model._meter_voltage(),
        "current": model.circuit.load_current(closed), "power": model._power(),
        "frequency": model.circuit.source.frequency, "error_register": "00000000",
        "credit": st.credit[0], "relay_closed": closed, "relay_reason": model.relay.reason,
        "entry_result": st.last_outcome, "entry_count": st.entries,
        "display_text": model._display(), "key_revision": reg.krn, "key_type": reg.kt,
        "tariff_index": reg.ti, "supply_group": reg.sgc, "key_expiry": reg.ken,
        "base_date": reg.base_date, "tamper": st.tamper,
        "low_credit_alarm": st.credit[0] <= st.alarm_level_kwh,
        "alarm_level": st.alarm_level_kwh, "power_limit": st.power_limit_w,
        "unbalance_limit": st.unbalance_limit_w, "overload_trips": st.overload_trips,
        "lockout_refusals": model.lockout.refusals, "outages": st.outages,
        "tamper_events": st.tamper_events,
    }
