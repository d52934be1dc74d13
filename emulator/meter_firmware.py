"""The emulated meter's firmware: what the meter decides, apart from the bench's physics.

Tokens and short codes off the keypad, the credit registers and their depletion, the relay
decisions (credit, overload, relay test, power), the keypad lock-out, the tamper latch, the
entry timeout, what the display shows and the registers the optical port serves. It runs on
the supply the bench gives it: `emulator.model.BenchModel` (the physics: source, load, relay
contact, energy drawn, scope signals) advances time, and calls in here when the meter must act
(a key, a change of supply or load, a deadline of the firmware's own). The firmware reads the
physics it needs (volts, amps, the contact) through `bench` and commands the relay through it.
The memory and judgement it builds on are in `emulator.meter`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sts
from drivers.bounded_read import InputRefused, read_file
from emulator.meter import (
    CREDIT_UNITS,
    Entry,
    LockoutTracker,
    MeterState,
    TokenJudge,
    display_for,
    short_code_value,
)
from emulator.served_facts import fact_values, register_rows
from emulator.setup import MeterSetup
from meterprofile import MeterProfile
from sts.digits import TOKEN_DIGITS

__all__ = ["ENTRY_MAX_DIGITS", "KWH", "MeterFirmware", "MeterIdentity"]

log = logging.getLogger("emulator.model")

KWH = 3.6e6  # joules
ENTRY_MAX_DIGITS = 24  # the entry buffer ignores digits beyond this
KCT_KINDS = ("kct1", "kct2", "kct3", "kct4")

Event = tuple[float, Callable[[float], None]]


STATE_FILE_MAX = 1024 * 1024  # bytes: a meter state file is a page of JSON


@dataclass(frozen=True)
class MeterIdentity:
    manufacturer_id: str
    firmware: str
    pan: str
    drn: str
    password: str
    baud_char: str
    reaction_ms: int


class MeterFirmware:
    """The meter's own logic and memory, driven by the bench model (`bench`) in bench time.

    `bench` is the physics side: it has `relay` (the contact, commanded here), `circuit`
    (source and load) and `power()` (watts through the contact). Not thread-safe by itself:
    the bench model holds its lock around every call.
    """

    def __init__(self, setup: MeterSetup, profile: MeterProfile, faults: frozenset[str],
                 state_path: Path | None, t: float) -> None:
        self.profile = profile
        self.faults = faults
        self.setup = setup
        self.state_path = state_path
        self.bench: Any = None  # the physics, attached by the bench model (`attach`)
        pan = setup.meter_pan
        self.identity = MeterIdentity(
            manufacturer_id=profile.meter.optical_manufacturer_id, firmware=profile.meter.firmware,
            pan=pan.digits, drn=pan.drn, password=profile.optical.password,
            baud_char=profile.optical.baud_char, reaction_ms=profile.optical.reaction_ms)
        self._wall0 = datetime.now().replace(microsecond=0)
        self.state = self._load_state()
        self.validator = self._make_validator()
        self.judge = TokenJudge(profile, self.validator, faults)
        self.lockout = LockoutTracker(profile.lockout, enabled="no-lockout" not in faults,
                                      early="early-lockout" in faults,
                                      endless="endless-lockout" in faults)
        # volatile meter state
        self.powered = False
        self._entry: list[str] = []
        self._last_key = t
        self._last_entry_at = 0.0
        self._test_end: float | None = None
        self._over_since: float | None = None
        self._overload_open = False
        self._overload_reconnect: float | None = None
        self._trip_times: list[float] = []
        self._credit_disconnected = False
        self._free_supply = False  # fault exhausted-reconnects: closed since power-up, no credit
        self._muted = False
        self._tamper_switch = False

    def attach(self, bench: Any, powered: bool) -> None:
        """Connect the firmware to the bench's physics (relay, circuit) at start-up."""
        self.bench = bench
        self.powered = powered
        # an exhausted meter (relay open for want of credit), even one that came up so
        self._credit_disconnected = not bench.relay.closed

    def credit_connects(self) -> bool:
        """At power-up with no history: is there credit to keep the relay closed?"""
        return self.state.credit[0] > self.profile.relay.disconnect_credit_kwh

    # --- non-volatile memory ------------------------------------------------------------------

    def _load_state(self) -> MeterState:
        if self.state_path and self.state_path.exists():
            try:
                raw = read_file(self.state_path, STATE_FILE_MAX, what="meter state file")
                return MeterState.from_dict(json.loads(raw))
            except InputRefused as exc:
                raise ValueError(str(exc)) from None
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"meter state file {self.state_path} is unreadable: {exc}"
                                 ) from None
        state = MeterState()
        state.alarm_level_kwh = self.profile.alarm.low_credit_kwh
        state.alarm_repeat_min = self.profile.alarm.repeat_min
        state.power_limit_w = self.profile.overload.power_limit_w
        return state

    def _make_validator(self) -> sts.MeterValidator:
        tokens = self.profile.tokens
        if self.state.validator:
            v = sts.MeterValidator.from_dict(self.state.validator)
        else:
            v = sts.MeterValidator(
                self.setup.key_register(), mfr_code=self.setup.meter_pan.mfr_code,
                tid_store_depth=tokens.tid_store_depth, key_expiry=tokens.key_expiry,
                supported_credit_subclasses=tokens.credit_subclasses,
                phase_unbalance=tokens.phase_unbalance,
                wide_keys=tokens.key_change_128bit is not False)
        v.check_used = "accept-used" not in self.faults
        v.check_old = "ignore-old" not in self.faults
        v.check_key_expiry = "ignore-key-expiry" not in self.faults
        v.tid_store_depth = tokens.tid_store_depth - (1 if "short-tid-store" in self.faults else 0)
        v.extra_kct_keys = ([bytes.fromhex(k) for k in self.state.previous_keys[:1]]
                            if "kct-wrong-key" in self.faults else [])
        return v

    def save(self) -> None:
        """Write the non-volatile memory to `state_path` (tmp file + atomic replace)."""
        if not self.state_path:
            return
        self.state.validator = self.validator.to_dict()
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(self.state.to_dict()))
        os.replace(tmp, self.state_path)

    # --- metering -----------------------------------------------------------------------------

    def _energy_factor(self) -> float:
        """Registered energy per joule drawn (1: a meter within its class)."""
        return 1.05 if "fast-energy" in self.faults else 1.0

    def _credit_factor(self) -> float:
        """Credit deducted per kWh registered (1: as the standard requires)."""
        return 0.95 if "credit-drift" in self.faults else 1.0

    def meter_energy(self, joules: float) -> None:
        """Register `joules` drawn through the contact and deduct the credit for it."""
        kwh = joules / KWH * self._energy_factor()
        self.state.energy_kwh += kwh
        self.state.credit[0] = max(self.state.credit[0] - kwh * self._credit_factor(), 0.0)

    def _short(self, fault: str, value: float) -> float:
        """A declared time as the meter keeps it: 85% of it under `fault`."""
        return value * 0.85 if fault in self.faults else value

    def deadlines(self, t: float, power: float, relay_due: float | None) -> list[Event]:
        """The firmware's own next events (bench time, action): credit reaching the
        disconnect threshold at the present `power`, overload trip and reconnect, the end
        of a relay test, the entry timeout."""
        candidates: list[Event] = []
        thr = self.profile.relay.disconnect_credit_kwh
        if self.powered and self.bench.relay.closed and power > 0 and self.state.credit[0] > thr:
            rate = power * self._energy_factor() * self._credit_factor()
            candidates.append((t + (self.state.credit[0] - thr) * KWH / rate, self._exhausted))
        if self._over_since is not None and relay_due is None:
            candidates.append((self._over_since + self._short(
                "short-trip-delay", self.profile.overload.trip_delay_s), self._overload_trip))
        if self._overload_reconnect is not None:
            candidates.append((self._overload_reconnect, self._overload_end))
        if self._test_end is not None:
            candidates.append((self._test_end, self._relay_test_end))
        if self._entry and self.powered:
            candidates.append((self._last_key + self._short(
                "short-entry-timeout", self.profile.tokens.entry_timeout_s), self._entry_timeout))
        return candidates

    # --- relay decisions ----------------------------------------------------------------------

    def _want_closed(self) -> bool:
        if not self.powered or self._test_end is not None or self._overload_open:
            return False
        if self._credit_disconnected and "no-reconnect" in self.faults:
            return False
        if self._free_supply:
            return True
        return self.state.credit[0] > self.profile.relay.disconnect_credit_kwh

    def _update_relay(self, t: float, reason: str) -> None:
        self.bench.relay.command(t, self._want_closed(), reason)

    def relay_moved(self, t: float, closed: bool, reason: str) -> None:
        """The contact moved (as commanded): note a disconnect for want of credit."""
        if not closed and reason == "CREDIT":
            self._credit_disconnected = True
        if closed:
            self._credit_disconnected = False

    def _exhausted(self, t: float) -> None:
        self.state.credit[0] = self.profile.relay.disconnect_credit_kwh
        self._update_relay(t, "CREDIT")

    def check_loads(self, t: float) -> None:
        """Overload timer and earth-leakage tamper, after any change of V, I or relay."""
        limit = self.state.power_limit_w
        if "trip-below-limit" in self.faults:
            limit *= 0.95
        closed = self.bench.relay.closed
        if limit > 0 and closed and self.powered and self.bench.power() > limit:
            if self._over_since is None:
                self._over_since = t
        else:
            self._over_since = None
        ld = self.bench.circuit.load
        if (closed and self.powered and ld.on
                and ld.leak > self.profile.tamper.leak_threshold_a and not self.state.tamper):
            self._raise_tamper()

    def _raise_tamper(self) -> None:
        if not self.powered:
            return  # no supply, no detection
        self.state.tamper = True
        self.state.tamper_events += 1
        self.state.display = ""  # the idle display now shows PERIKSA
        self.save()

    def tamper_switch(self, active: bool) -> None:
        """The tamper switch opened (True) or closed: each opening latches tamper."""
        if active and not self._tamper_switch:
            self._raise_tamper()
        self._tamper_switch = bool(active)

    def _overload_trip(self, t: float) -> None:
        o = self.profile.overload
        self._over_since = None
        self.state.overload_trips += 1
        self._trip_times = [x for x in self._trip_times if x > t - o.window_s] + [t]
        self._overload_open = True
        if len(self._trip_times) < o.max_trips:
            self._overload_reconnect = t + self._short("early-reconnect", o.reconnect_s)
        else:  # too many trips: open until a token or a power cycle
            self._overload_reconnect = None
        self._update_relay(t, "OVERLOAD")
        self.save()

    def _overload_end(self, t: float) -> None:
        self._overload_reconnect = None
        self._overload_open = False
        self._update_relay(t, "OVERLOAD")

    def _relay_test_end(self, t: float) -> None:
        self._test_end = None
        self._update_relay(t, "TEST")

    def _entry_timeout(self, t: float) -> None:
        self._entry = []
        self.state.display = ""

    def power_change(self, t: float, up: bool) -> None:
        """The electronics lost (up False) or regained their supply at t."""
        self.powered = up
        self._entry = []
        if not up:
            log.debug("meter lost its supply at %.6f", t)
            self.bench.relay.cancel()
            self._test_end = None
            self._over_since = None
            self._free_supply = False
            self.save()
            return
        self.state.outages += 1
        if "volatile-credit" in self.faults:
            self.state.credit = [0.0] * 8
        if self.profile.lockout.reset_on_power_cycle and "sticky-lockout" not in self.faults:
            self.lockout.reset()
        self._overload_open = False
        self._overload_reconnect = None
        self._trip_times = []
        self._credit_disconnected = False
        self._free_supply = ("exhausted-reconnects" in self.faults
                             and self.state.credit[0] <= self.profile.relay.disconnect_credit_kwh)
        self.state.display = ""
        self._update_relay(t, "POWER")
        self.save()

    # --- keypad -------------------------------------------------------------------------------

    def key_held(self, t: float) -> None:
        """A key went down: a key held down keeps the entry alive."""
        if self.powered:
            self._last_key = t

    def key(self, t: float, key: str) -> None:
        """A key came up: the meter acts on it."""
        if not self.powered:
            return
        self._last_key = t
        if key == "BS":
            if self._entry:
                self._entry.pop()
        elif key == "ENT":
            digits = "".join(self._entry)
            self._entry = []
            self._process(t, digits)
            return
        elif len(self._entry) < ENTRY_MAX_DIGITS:
            self._entry.append(key)
        self.state.display = "".join(self._entry)

    def _process(self, t: float, digits: str) -> None:
        if len(digits) == TOKEN_DIGITS:
            result = self._token(t, digits)
            self.state.last_token = digits
        elif 2 <= len(digits) <= 6:
            result = self._code(t, digits)
        else:
            result = Entry(outcome="FORMAT_ERROR")
            self.state.display = display_for(result.outcome)
        self.state.entries += 1
        self._last_entry_at = t
        self.state.last_outcome = result.outcome or "NONE"
        log.debug("entry %s at %.6f: %s", "token" if len(digits) == TOKEN_DIGITS else "code", t,
                  self.state.last_outcome)
        for test in result.tests:
            self._run_test(t, test)
        self.save()

    def _token(self, t: float, digits: str) -> Entry:
        result = Entry()
        cls = self.judge.token_class(digits)
        if cls in (0, 2) and self.lockout.locked(t):
            result.outcome = "LOCKED"
            self.state.display = display_for("LOCKED")
            return result
        outcome, token = self.judge.judge(digits, self.state)
        if token is not None:
            outcome = self._apply(t, token, result)
        result.outcome = outcome
        if outcome == "ACCEPT" and cls in (0, 2):
            self.lockout.reset()
            if self._overload_open and self._overload_reconnect is None:
                self._overload_open = False  # a token releases a meter past its max trips
                self._trip_times = []
                self._update_relay(t, "OVERLOAD")
        elif outcome not in ("ACCEPT", "KCT_HELD"):
            self.lockout.refuse(t)
        self.state.display = display_for(outcome, len(self.validator.held_sections))
        return result

    def _apply(self, t: float, token: sts.ValidatedToken, result: Entry) -> str:
        """Commit an accepted token and carry out what it says; returns the outcome."""
        kind = token.kind
        if kind in KCT_KINDS:
            old_key = self.validator.register.decoder_key.hex()
            outcome = self.validator.commit(token).value
            if outcome == "ACCEPT":
                self.state.previous_keys.insert(0, old_key)
                del self.state.previous_keys[3:]
                if "kct-wrong-key" in self.faults:
                    self.validator.extra_kct_keys = [bytes.fromhex(old_key)]
                if "kct-loses-credit" in self.faults:
                    self.state.credit = [0.0] * 8
                    self._update_relay(t, "CREDIT")
            return outcome
        try:
            self.validator.commit(token)
        except sts.TokenRejected as exc:
            return exc.outcome.value
        fields = token.fields
        if kind in ("credit", "currency"):
            amount = self.judge.credited_amount(token)
            self.state.credit[token.subclass] += amount
            self.state.credit_tokens.insert(0, (token.digits, amount))
            del self.state.credit_tokens[5:]
            result.credit_added = True
            self._free_supply = False
            self._update_relay(t, "CREDIT")
        elif kind == "test":
            control = int(fields["control"])
            bits = 36 if fields.get("mfr_digits", 2) == 2 else 28
            if control == (1 << bits) - 1:
                result.tests = (0,)
            else:
                result.tests = tuple(n + 1 for n in range(bits) if control >> n & 1)
        else:
            self.state.mgmt_tokens.insert(0, token.digits)
            del self.state.mgmt_tokens[3:]
            self._management(t, kind, fields)
        return "ACCEPT"

    def _management(self, t: float, kind: str, fields: dict[str, Any]) -> None:
        if kind == "power_limit":
            self.state.power_limit_w = int(fields["watts"])
            self.check_loads(t)
        elif kind == "clear_credit":
            register = int(fields["register"])
            kept = "clear-credit-ignored" in self.faults  # the fault: BENAR, nothing cleared
            for i in range(8):
                if register in (i, 0xFFFF) and not kept:
                    self.state.credit[i] = 0.0
            self._update_relay(t, "CREDIT")
        elif kind == "clear_tamper":
            self.state.tamper = False
            if "tamper-clear-credit" in self.faults:
                self.state.credit = [0.0] * 8
                self._update_relay(t, "CREDIT")
        elif kind == "phase_unbalance":
            self.state.unbalance_limit_w = int(fields["watts"])
        elif kind == "tariff_rate":
            self.state.tariff_rate = int(fields["rate"])
        elif kind == "water_factor":
            self.state.water_factor = int(fields["factor"])

    def _code(self, t: float, code: str) -> Entry:
        result = Entry(outcome="ACCEPT")
        if code.startswith("456") and len(code) == 5:
            self.state.alarm_level_kwh = float(code[3:])
            self.state.display = f"{self.state.alarm_level_kwh:.0f} kWh"
        elif code.startswith("123") and len(code) in (5, 6):
            self.state.alarm_repeat_min = int(code[3:])
            self.state.display = f"{self.state.alarm_repeat_min} min"
        elif code == "812":
            self._muted = True
            self.state.display = "MUTE"
        else:
            value = short_code_value(code, self._reading())
            if value is None:
                result.outcome = "FUNCTION_ERROR"
                self.state.display = display_for(result.outcome)
                return result
            self.state.display = value
            if len(code) == 2 and int(code) <= 11:
                result.tests = (int(code),)
        return result

    def _run_test(self, t: float, test: int) -> None:
        """Test n of a class 1 token or short code 0n (0 = all: relay and display)."""
        if test in (0, 1):
            self._test_end = t + self.profile.relay.test_duration_s
            self._update_relay(t, "TEST")
        if test == 1:
            self.state.display = "RELAY TEST"
            return
        value = short_code_value(f"{test:02d}", self._reading())
        if value is not None:
            self.state.display = value

    # --- what the meter shows -----------------------------------------------------------------

    def meter_voltage(self) -> float:
        """The supply voltage as the meter measures it (0 with its electronics off)."""
        high = 1.03 if "voltage-reads-high" in self.faults else 1.0
        return self.bench.circuit.source.voltage * high if self.powered else 0.0

    def _reading(self) -> dict[str, Any]:
        reg = self.validator.register
        return {
            "credit": self.state.credit[0], "energy": self.state.energy_kwh,
            "voltage": self.meter_voltage(),
            "current": self.bench.circuit.load_current(self.bench.relay.closed),
            "power": self.bench.power(),
            "overload_trips": self.state.overload_trips, "outages": self.state.outages,
            "tamper_events": self.state.tamper_events, "tamper": self.state.tamper,
            "drn": self.identity.drn, "sgc": reg.sgc, "krn": reg.krn, "kt": reg.kt, "ti": reg.ti,
            "power_limit": self.state.power_limit_w,
            "unbalance_limit": self.state.unbalance_limit_w,
            "firmware": self.identity.firmware, "alarm_level": self.state.alarm_level_kwh,
            "alarm_repeat": self.state.alarm_repeat_min,
            "credit_tokens": self.state.credit_tokens,
        }

    def display(self) -> str:
        """What the display shows now (an entry, a result, PERIKSA or the credit)."""
        if self.state.display:
            return self.state.display
        if self.state.tamper:
            return "PERIKSA"
        return f"{self.state.credit[0]:.2f}"

    def wall(self, now: float) -> datetime:
        """The meter's clock at bench time `now` (fault frozen-clock: stopped at its start)."""
        return self._wall0 + timedelta(seconds=0.0 if "frozen-clock" in self.faults else now)

    def registers(self, now: float) -> list[tuple[str, str, str]]:
        """Every register of the meter's state (address, value, unit) at bench time `now`."""
        st, reg = self.state, self.validator.register
        relay = self.bench.relay
        wall = self.wall(now)
        i, p = self.bench.circuit.load_current(relay.closed), self.bench.power()
        rows = [
            ("0.0.0", self.identity.drn, ""), ("C.1.0", self.identity.drn, ""),
            ("C.1.1", self.identity.pan, ""), ("0.2.0", self.identity.firmware, ""),
            ("0.9.1", wall.strftime("%H:%M:%S"), ""), ("0.9.2", wall.strftime("%y-%m-%d"), ""),
            ("1.8.0", f"{st.energy_kwh:010.3f}", "kWh"),
            ("32.7.0", f"{self.meter_voltage():.1f}", "V"),
            ("31.7.0", f"{i:.3f}", "A"), ("1.7.0", f"{p / 1000:.3f}", "kW"),
            ("14.7.0", f"{self.bench.circuit.source.frequency:.2f}", "Hz"),
            ("F.F", "00000000", ""),
        ]
        for sub in range(8):
            fmt = "{:.3f}" if sub < 4 else "{:.5f}"
            rows.append((f"C.50.{sub}", fmt.format(st.credit[sub]), CREDIT_UNITS[sub]))
        low = st.credit[0] <= st.alarm_level_kwh
        rows += [
            ("C.51.0", "1" if relay.closed else "0", ""),
            ("C.51.1", f"{relay.changed_at:.6f}", "s"),
            ("C.51.2", f"{relay.commanded_at:.6f}", "s"),
            ("C.51.3", relay.reason, ""),
            ("C.51.4", f"{relay.opened_cmd_at:.6f}", "s"),
            ("C.51.5", f"{relay.closed_cmd_at:.6f}", "s"),
            ("C.52.0", st.last_outcome, ""), ("C.52.1", st.last_token or "0" * 20, ""),
            ("C.52.2", str(st.entries), ""),
            ("C.52.3", f"{self._last_entry_at:.6f}", "s"),
            ("C.53.0", str(reg.krn), ""), ("C.53.1", str(reg.kt), ""), ("C.53.2", reg.ti, ""),
            ("C.53.3", reg.sgc, ""), ("C.53.4", str(reg.ken), ""),
            ("C.53.5", str(reg.base_date), ""),
            ("C.54.0", "1" if st.tamper else "0", ""),
            ("C.55.0", "1" if low else "0", ""), ("C.55.1", f"{st.alarm_level_kwh:.2f}", "kWh"),
            ("C.56.0", self.display(), ""),
            ("C.57.0", str(st.power_limit_w), "W"), ("C.57.1", str(st.unbalance_limit_w), "W"),
            ("C.57.2", str(st.overload_trips), ""),
            ("C.58.0", f"{self.lockout.remaining(now):.3f}", "s"),
            ("C.58.1", str(self.lockout.refusals), ""),
            ("C.58.2", f"{max(self.lockout.until, 0.0):.6f}", "s"),
            ("C.59.0", str(st.outages), ""), ("C.59.1", str(st.tamper_events), ""),
            ("C.60.0", f"{now:.6f}", "s"),
        ]
        return rows

    def offered(self, now: float, model: Any) -> list[tuple[str, str, str]]:
        """The registers the optical port offers: identification plus the profile's register
        facts (and its diagnostic registers), from `model`'s view at bench time `now`."""
        internal = self.registers(now) if self.profile.optical.diagnostic_registers else []
        return register_rows(self.profile, fact_values(model, now, self.wall(now)),
                             self.identity.drn, internal)
