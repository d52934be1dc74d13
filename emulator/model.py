"""One physical model of the emulated bench: AC source -> meter (relay) -> load.

The model is lazy and event-driven: every public method first brings it up to `clock.now()`,
processing the scheduled events in time order at their exact bench times (credit reaching
the disconnect threshold, computed from the piecewise-constant power; relay operations after
their operate delay; overload trips and reconnects; the end of a relay test; the entry
timeout). No thread ticks, so any clock speed keeps exact event times. One RLock makes every
method safe to call from the wire servers' threads.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sts
from emulator.clock import Clock
from emulator.faults import check_faults
from emulator.meter import (
    CREDIT_UNITS,
    Entry,
    LockoutTracker,
    MeterState,
    TokenJudge,
    display_for,
    short_code_value,
)
from emulator.physics import (
    LOAD_MODES,
    Circuit,
    LoadState,
    Measurements,
    Relay,
    SignalHistory,
    SourceState,
)
from emulator.served_facts import fact_values, register_rows
from emulator.setup import MeterSetup
from meterprofile import MeterProfile

__all__ = ["BenchModel", "LoadState", "Measurements", "MeterIdentity", "SourceState"]

log = logging.getLogger(__name__)

MIN_OPERATING_FRACTION = 0.6  # of rated voltage: below it the meter's electronics are off
KWH = 3.6e6  # joules
ENTRY_MAX_DIGITS = 24  # the entry buffer ignores digits beyond this
KCT_KINDS = ("kct1", "kct2", "kct3", "kct4")


@dataclass(frozen=True)
class MeterIdentity:
    manufacturer_id: str
    firmware: str
    pan: str
    drn: str
    password: str
    baud_char: str
    reaction_ms: int


class BenchModel:
    """The emulated bench's physics and meter, in bench time."""

    def __init__(self, setup: MeterSetup, profile: MeterProfile, clock: Clock,
                 faults: frozenset[str] = frozenset(), state_path: Path | None = None,
                 seed: int = 62055) -> None:
        self.clock = clock
        self.profile = profile
        self.faults = check_faults(faults)
        self.setup = setup
        self.state_path = Path(state_path) if state_path else None
        self._lock = threading.RLock()
        pan = setup.meter_pan
        self.identity = MeterIdentity(
            manufacturer_id=profile.meter.optical_manufacturer_id, firmware=profile.meter.firmware,
            pan=pan.digits, drn=pan.drn, password=profile.optical.password,
            baud_char=profile.optical.baud_char, reaction_ms=profile.optical.reaction_ms)
        self._wall0 = datetime.now().replace(microsecond=0)
        self.state = self._load_state()
        self.validator = self._make_validator()
        self.judge = TokenJudge(profile, self.validator, self.faults)
        self._t = clock.now()
        r = profile.ratings
        self.circuit = Circuit(SourceState(r.voltage_v, r.frequency_hz, True),
                               LoadState("CURR", 0.0, 0.0, False, 0.0))
        self.history = SignalHistory(self._t, r.frequency_hz)
        rp = profile.relay
        self.relay = Relay(self.state.credit[0] > rp.disconnect_credit_kwh, self._t,
                           operate_s=rp.operate_s, spread_s=rp.spread_s,
                           rng=random.Random(seed),
                           factor=10.0 if "late-relay" in self.faults else 1.0,
                           offset_s=(1.25 * rp.operate_limit_s - rp.operate_s
                                     if "marginal-relay" in self.faults else 0.0))
        self.lockout = LockoutTracker(profile.lockout, enabled="no-lockout" not in self.faults,
                                      early="early-lockout" in self.faults,
                                      endless="endless-lockout" in self.faults)
        # volatile meter state
        self._entry: list[str] = []
        self._last_key = self._t
        self._last_entry_at = 0.0
        self._test_end: float | None = None
        self._over_since: float | None = None
        self._overload_open = False
        self._overload_reconnect: float | None = None
        self._trip_times: list[float] = []
        # an exhausted meter (relay open for want of credit), even one that came up so
        self._credit_disconnected = not self.relay.closed
        self._free_supply = False  # fault exhausted-reconnects: closed since power-up, no credit
        self._muted = False
        self._tamper_switch = False
        self._powered = self._supply_ok()
        self._update_signals(self._t)
        self.undeclared_reads: list[str] = []  # R1 addresses the profile does not declare
        self.read_log: Path | None = None      # each of them appended here too, if set

    # --- non-volatile memory ------------------------------------------------------------------

    def _load_state(self) -> MeterState:
        if self.state_path and self.state_path.exists():
            try:
                return MeterState.from_dict(json.loads(self.state_path.read_text()))
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
                phase_unbalance=tokens.phase_unbalance)
        v.check_used = "accept-used" not in self.faults
        v.check_old = "ignore-old" not in self.faults
        v.check_key_expiry = "ignore-key-expiry" not in self.faults
        v.tid_store_depth = tokens.tid_store_depth - (1 if "short-tid-store" in self.faults else 0)
        v.extra_kct_keys = ([bytes.fromhex(k) for k in self.state.previous_keys[:1]]
                            if "kct-wrong-key" in self.faults else [])
        return v

    def save(self) -> None:
        """Write the non-volatile memory to `state_path` (tmp file + atomic replace)."""
        with self._lock:
            if not self.state_path:
                return
            self.state.validator = self.validator.to_dict()
            tmp = self.state_path.with_name(self.state_path.name + ".tmp")
            tmp.write_text(json.dumps(self.state.to_dict()))
            os.replace(tmp, self.state_path)

    def close(self) -> None:
        """Bring the model up to now and save the non-volatile memory."""
        with self._lock:
            self._advance()
            self.save()

    # --- physics ------------------------------------------------------------------------------

    def _supply_ok(self) -> bool:
        src = self.circuit.source
        return src.output and src.voltage >= MIN_OPERATING_FRACTION * self.profile.ratings.voltage_v

    def _power(self) -> float:
        return self.circuit.load_power(self.relay.closed)

    def _update_signals(self, t: float) -> None:
        self.history.set_load_voltage(t, self.circuit.load_voltage(self.relay.closed),
                                      self.circuit.source.frequency)

    # --- time ---------------------------------------------------------------------------------

    def _advance(self) -> float:
        """Process every event due by now, each at its own bench time; returns now."""
        now = max(self.clock.now(), self._t)
        while True:
            t_next, action = self._next_event()
            if t_next is None or t_next > now:
                break
            self._integrate(max(t_next, self._t))
            action(self._t)
        self._integrate(now)
        return now

    def _integrate(self, t: float) -> None:
        """Meter the energy drawn from self._t to t (power is constant in between)."""
        dt = t - self._t
        if dt <= 0:
            return
        p = self._power()
        if p > 0 and self._powered:
            kwh = p * dt / KWH * self._energy_factor()
            self.state.energy_kwh += kwh
            self.state.credit[0] = max(self.state.credit[0] - kwh * self._credit_factor(), 0.0)
        self._t = t

    def _energy_factor(self) -> float:
        """Registered energy per joule drawn (1: a meter within its class)."""
        return 1.05 if "fast-energy" in self.faults else 1.0

    def _credit_factor(self) -> float:
        """Credit deducted per kWh registered (1: as the standard requires)."""
        return 0.95 if "credit-drift" in self.faults else 1.0

    def _short(self, fault: str, value: float) -> float:
        """A declared time as the meter keeps it: 85% of it under `fault`."""
        return value * 0.85 if fault in self.faults else value

    def _next_event(self) -> tuple[float | None, Callable[[float], None]]:
        candidates: list[tuple[float, Callable[[float], None]]] = []
        due = self.relay.due()
        if due is not None:
            candidates.append((due, self._operate))
        thr = self.profile.relay.disconnect_credit_kwh
        p = self._power()
        if self._powered and self.relay.closed and p > 0 and self.state.credit[0] > thr:
            rate = p * self._energy_factor() * self._credit_factor()
            candidates.append((self._t + (self.state.credit[0] - thr) * KWH / rate,
                               self._exhausted))
        if self._over_since is not None and due is None:
            candidates.append((self._over_since + self._short(
                "short-trip-delay", self.profile.overload.trip_delay_s), self._overload_trip))
        if self._overload_reconnect is not None:
            candidates.append((self._overload_reconnect, self._overload_end))
        if self._test_end is not None:
            candidates.append((self._test_end, self._relay_test_end))
        if self._entry and self._powered:
            candidates.append((self._last_key + self._short(
                "short-entry-timeout", self.profile.tokens.entry_timeout_s), self._entry_timeout))
        if not candidates:
            return None, self._operate
        return min(candidates, key=lambda c: c[0])

    # --- relay --------------------------------------------------------------------------------

    def _want_closed(self) -> bool:
        if not self._powered or self._test_end is not None or self._overload_open:
            return False
        if self._credit_disconnected and "no-reconnect" in self.faults:
            return False
        if self._free_supply:
            return True
        return self.state.credit[0] > self.profile.relay.disconnect_credit_kwh

    def _update_relay(self, t: float, reason: str) -> None:
        self.relay.command(t, self._want_closed(), reason)

    def _operate(self, t: float) -> None:
        self.relay.operate()
        closed = self.relay.closed
        if not closed and self.relay.reason == "CREDIT":
            self._credit_disconnected = True
        if closed:
            self._credit_disconnected = False
        log.debug("relay %s at %.6f (%s)", "closed" if closed else "opened", t,
                  self.relay.reason)
        self._update_signals(t)
        self._check_loads(t)

    def _exhausted(self, t: float) -> None:
        self.state.credit[0] = self.profile.relay.disconnect_credit_kwh
        self._update_relay(t, "CREDIT")

    def _check_loads(self, t: float) -> None:
        """Overload timer and earth-leakage tamper, after any change of V, I or relay."""
        limit = self.state.power_limit_w
        if "trip-below-limit" in self.faults:
            limit *= 0.95
        if limit > 0 and self.relay.closed and self._powered and self._power() > limit:
            if self._over_since is None:
                self._over_since = t
        else:
            self._over_since = None
        ld = self.circuit.load
        if (self.relay.closed and self._powered and ld.on
                and ld.leak > self.profile.tamper.leak_threshold_a and not self.state.tamper):
            self._raise_tamper()

    def _raise_tamper(self) -> None:
        if not self._powered:
            return  # no supply, no detection
        self.state.tamper = True
        self.state.tamper_events += 1
        self.state.display = ""  # the idle display now shows PERIKSA
        self.save()

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

    # --- the supply and the load (SCPI servers) -----------------------------------------------

    def set_source(self, *, voltage: float | None = None, frequency: float | None = None,
                   output: bool | None = None) -> None:
        """Set the AC source (volts rms, hertz, output on/off)."""
        with self._lock:
            t = self._advance()
            s = self.circuit.source
            self.circuit.source = SourceState(
                s.voltage if voltage is None else float(voltage),
                s.frequency if frequency is None else float(frequency),
                s.output if output is None else bool(output))
            powered = self._supply_ok()
            if powered != self._powered:
                self._powered = powered
                self._power_change(t, powered)
            self._update_signals(t)
            self._check_loads(t)

    def _power_change(self, t: float, up: bool) -> None:
        self._entry = []
        if not up:
            log.debug("meter lost its supply at %.6f", t)
            self.relay.cancel()
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

    def source(self) -> SourceState:
        with self._lock:
            self._advance()
            return self.circuit.source

    def set_load(self, *, mode: str | None = None, current: float | None = None,
                 power: float | None = None, on: bool | None = None,
                 leak: float | None = None) -> None:
        """Set the AC load: mode CURR (current A) or POW (power W), on/off, and a
        live-to-earth leakage current (rig extension, a tamper stimulus)."""
        with self._lock:
            if mode is not None and mode.upper() not in LOAD_MODES:
                raise ValueError(f"load mode {mode!r} must be one of {', '.join(LOAD_MODES)}")
            for name, value in (("current", current), ("power", power), ("leak", leak)):
                if value is not None and float(value) < 0:
                    raise ValueError(f"load {name} must not be negative, got {value}")
            t = self._advance()
            ld = self.circuit.load
            self.circuit.load = LoadState(
                ld.mode if mode is None else mode.upper(),
                ld.current if current is None else float(current),
                ld.power if power is None else float(power),
                ld.on if on is None else bool(on),
                ld.leak if leak is None else float(leak))
            self._check_loads(t)

    def load(self) -> LoadState:
        with self._lock:
            self._advance()
            return self.circuit.load

    def measure(self) -> Measurements:
        """Rms volts, amps and watts at the source output and at the load terminals."""
        with self._lock:
            self._advance()
            return self.circuit.measure(self.relay.closed, self._powered)

    # --- scope --------------------------------------------------------------------------------

    def sample(self, channel: int, t: float) -> float:
        """Instantaneous volts at bench time t: CHAN1 load voltage, CHAN2 ENTER sync."""
        with self._lock:
            self._advance()
            return self.history.sample(channel, t)

    def find_trigger(self, after: float, *, channel: int, kind: str, slope: str,
                     level: float, drop_time: float) -> float | None:
        """The first trigger point at or after `after` (None: not yet triggered)."""
        with self._lock:
            now = self._advance()
            return self.history.find_trigger(after, now, channel=channel, kind=kind.upper(),
                                             slope=slope.upper(), level=level,
                                             drop_time=drop_time)

    def last_rising_edge(self, channel: int, at_or_before: float) -> float | None:
        with self._lock:
            self._advance()
            return self.history.last_rising_edge(channel, at_or_before)

    def last_pulse_width(self, channel: int, at_or_before: float) -> float | None:
        with self._lock:
            self._advance()
            return self.history.last_pulse_width(channel, at_or_before)

    # --- tamper (a stimulus for tests: e.g. a terminal cover switch) ---------------------------

    def set_tamper(self, active: bool) -> None:
        """Open (True) or close (False) the tamper switch (e.g. the terminal cover). Each
        opening is a tamper event and latches the meter's tamper state (PERIKSA, credit
        tokens refused when the profile says so) until a clear-tamper token; closing the
        switch alone does not clear it."""
        with self._lock:
            self._advance()
            if active and not self._tamper_switch:
                self._raise_tamper()
            self._tamper_switch = bool(active)

    # --- keypad -------------------------------------------------------------------------------

    def powered(self) -> bool:
        """True when the meter's electronics have supply (keypad and optical port work)."""
        with self._lock:
            self._advance()
            return self._powered

    def key_down(self, key: str) -> float:
        """A key goes down (ENTER raises the injector's sync line); returns the bench time."""
        self._check_key(key)
        with self._lock:
            t = self._advance()
            if key == "ENT":
                self.history.sync_down(t)
            if self._powered:
                self._last_key = t  # a key held down keeps the entry alive
            return t

    def key_up(self, key: str) -> float:
        """A key comes up: the meter acts on it now; returns the bench time."""
        self._check_key(key)
        with self._lock:
            t = self._advance()
            if key == "ENT":
                self.history.sync_up(t)
            if self._powered:
                self._key(t, key)
            return t

    @staticmethod
    def _check_key(key: str) -> None:
        if key not in ("BS", "ENT") and not (len(key) == 1 and key in "0123456789"):
            raise ValueError(f"bad key {key!r}: use 0-9, BS or ENT")

    def _key(self, t: float, key: str) -> None:
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
        if len(digits) == 20:
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
        log.debug("entry %s at %.6f: %s", "token" if len(digits) == 20 else "code", t,
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
            self._check_loads(t)
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

    def _meter_voltage(self) -> float:
        high = 1.03 if "voltage-reads-high" in self.faults else 1.0
        return self.circuit.source.voltage * high if self._powered else 0.0

    def _reading(self) -> dict[str, Any]:
        reg = self.validator.register
        return {
            "credit": self.state.credit[0], "energy": self.state.energy_kwh,
            "voltage": self._meter_voltage(),
            "current": self.circuit.load_current(self.relay.closed), "power": self._power(),
            "overload_trips": self.state.overload_trips, "outages": self.state.outages,
            "tamper_events": self.state.tamper_events, "tamper": self.state.tamper,
            "drn": self.identity.drn, "sgc": reg.sgc, "krn": reg.krn, "kt": reg.kt, "ti": reg.ti,
            "power_limit": self.state.power_limit_w,
            "unbalance_limit": self.state.unbalance_limit_w,
            "firmware": self.identity.firmware, "alarm_level": self.state.alarm_level_kwh,
            "alarm_repeat": self.state.alarm_repeat_min,
            "credit_tokens": self.state.credit_tokens,
        }

    def _display(self) -> str:
        if self.state.display:
            return self.state.display
        if self.state.tamper:
            return "PERIKSA"
        return f"{self.state.credit[0]:.2f}"

    def _wall(self, now: float) -> datetime:
        """The meter's clock at bench time `now` (fault frozen-clock: stopped at its start)."""
        return self._wall0 + timedelta(seconds=0.0 if "frozen-clock" in self.faults else now)

    def _registers(self, now: float) -> list[tuple[str, str, str]]:
        st, reg = self.state, self.validator.register
        wall = self._wall(now)
        i, p = self.circuit.load_current(self.relay.closed), self._power()
        rows = [
            ("0.0.0", self.identity.drn, ""), ("C.1.0", self.identity.drn, ""),
            ("C.1.1", self.identity.pan, ""), ("0.2.0", self.identity.firmware, ""),
            ("0.9.1", wall.strftime("%H:%M:%S"), ""), ("0.9.2", wall.strftime("%y-%m-%d"), ""),
            ("1.8.0", f"{st.energy_kwh:010.3f}", "kWh"),
            ("32.7.0", f"{self._meter_voltage():.1f}", "V"),
            ("31.7.0", f"{i:.3f}", "A"), ("1.7.0", f"{p / 1000:.3f}", "kW"),
            ("14.7.0", f"{self.circuit.source.frequency:.2f}", "Hz"), ("F.F", "00000000", ""),
        ]
        for sub in range(8):
            fmt = "{:.3f}" if sub < 4 else "{:.5f}"
            rows.append((f"C.50.{sub}", fmt.format(st.credit[sub]), CREDIT_UNITS[sub]))
        low = st.credit[0] <= st.alarm_level_kwh
        rows += [
            ("C.51.0", "1" if self.relay.closed else "0", ""),
            ("C.51.1", f"{self.relay.changed_at:.6f}", "s"),
            ("C.51.2", f"{self.relay.commanded_at:.6f}", "s"),
            ("C.51.3", self.relay.reason, ""),
            ("C.51.4", f"{self.relay.opened_cmd_at:.6f}", "s"),
            ("C.51.5", f"{self.relay.closed_cmd_at:.6f}", "s"),
            ("C.52.0", st.last_outcome, ""), ("C.52.1", st.last_token or "0" * 20, ""),
            ("C.52.2", str(st.entries), ""),
            ("C.52.3", f"{self._last_entry_at:.6f}", "s"),
            ("C.53.0", str(reg.krn), ""), ("C.53.1", str(reg.kt), ""), ("C.53.2", reg.ti, ""),
            ("C.53.3", reg.sgc, ""), ("C.53.4", str(reg.ken), ""),
            ("C.53.5", str(reg.base_date), ""),
            ("C.54.0", "1" if st.tamper else "0", ""),
            ("C.55.0", "1" if low else "0", ""), ("C.55.1", f"{st.alarm_level_kwh:.2f}", "kWh"),
            ("C.56.0", self._display(), ""),
            ("C.57.0", str(st.power_limit_w), "W"), ("C.57.1", str(st.unbalance_limit_w), "W"),
            ("C.57.2", str(st.overload_trips), ""),
            ("C.58.0", f"{self.lockout.remaining(now):.3f}", "s"),
            ("C.58.1", str(self.lockout.refusals), ""),
            ("C.58.2", f"{max(self.lockout.until, 0.0):.6f}", "s"),
            ("C.59.0", str(st.outages), ""), ("C.59.1", str(st.tamper_events), ""),
            ("C.60.0", f"{now:.6f}", "s"),
        ]
        return rows

    def _offered(self, now: float) -> list[tuple[str, str, str]]:
        """The registers this model offers: identification plus its profile's register facts."""
        wall = self._wall(now)
        internal = self._registers(now) if self.profile.optical.diagnostic_registers else []
        return register_rows(self.profile, fact_values(self, now, wall), self.identity.drn,
                             internal)

    def readout(self) -> list[tuple[str, str, str]]:
        """Every register of the model's state (address, value, unit), rig-defined ones
        included: for tests of the model. The optical port serves `offered_readout`."""
        with self._lock:
            return self._registers(self._advance())

    def read_register(self, address: str) -> tuple[str, str] | None:
        """One register of the model's state (None: no such address), for model tests."""
        with self._lock:
            for addr, value, unit in self._registers(self._advance()):
                if addr == address:
                    return value, unit
            return None

    def offered_readout(self) -> list[tuple[str, str, str]]:
        """The readout of the optical port: identification plus the profile's register
        facts, nothing else."""
        with self._lock:
            return self._offered(self._advance())

    def read_offered(self, address: str) -> tuple[str, str] | None:
        """An R1 read on the optical port: (value, unit) of an offered register, or None for
        an address the profile does not declare (counted in `undeclared_reads`, so a test
        can show that no plan reads one)."""
        with self._lock:
            for addr, value, unit in self._offered(self._advance()):
                if addr == address:
                    return value, unit
            self.undeclared_reads.append(address)
            log.warning("R1 of an address the profile does not declare: %s", address)
            if self.read_log is not None:
                with self.read_log.open("a", encoding="utf-8") as fh:
                    fh.write(address + "\n")
            return None
