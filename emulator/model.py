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
    MeterState,
    TokenJudge,
    display_for,
    short_code_value,
)
from emulator.physics import SignalHistory
from emulator.setup import MeterSetup
from meterprofile import MeterProfile

MIN_OPERATING_FRACTION = 0.6  # of rated voltage: below it the meter is unpowered
MIN_LOAD_VOLTAGE = 10.0  # an electronic load draws nothing below this
KWH = 3.6e6  # joules


@dataclass(frozen=True)
class MeterIdentity:
    manufacturer_id: str
    firmware: str
    pan: str
    drn: str
    password: str
    baud_char: str
    reaction_ms: int


@dataclass(frozen=True)
class SourceState:
    voltage: float
    frequency: float
    output: bool


@dataclass(frozen=True)
class LoadState:
    mode: str
    current: float
    power: float
    on: bool
    leak: float


@dataclass(frozen=True)
class Measurements:
    source_v: float
    source_i: float
    source_p: float
    load_v: float
    load_i: float
    load_p: float


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
        self._rng = random.Random(seed)
        pan = setup.meter_pan
        self.identity = MeterIdentity(
            manufacturer_id=profile.meter.optical_manufacturer_id, firmware=profile.meter.firmware,
            pan=pan.digits, drn=pan.drn, password=profile.optical.password,
            baud_char=profile.optical.baud_char, reaction_ms=profile.optical.reaction_ms)
        self._wall0 = datetime.now().replace(microsecond=0)
        self.state = self._load_state()
        self.validator = self._make_validator()
        self.judge = TokenJudge(profile, self.validator, self.faults)
        self.history = SignalHistory()
        r = profile.ratings
        self._src = SourceState(r.voltage_v, r.frequency_hz, True)
        self._load = LoadState("CURR", 0.0, 0.0, False, 0.0)
        self._t = clock.now()
        # volatile meter state
        self._contact = self.state.credit[0] > profile.relay.disconnect_credit_kwh
        self._pending: tuple[float, bool, str] | None = None  # (time, close?, reason)
        self._relay_changed_at = self._t
        self._relay_commanded_at = self._t
        self._relay_reason = "POWER"
        self._entry: list[str] = []
        self._last_key = self._t
        self._test_end: float | None = None
        self._over_since: float | None = None
        self._overload_open = False
        self._overload_reconnect: float | None = None
        self._trip_times: list[float] = []
        self._credit_disconnected = False
        self._refusals = 0
        self._locked_until = -1.0
        self._muted = False
        self._powered = self._supply_ok()
        self._update_signals(self._t)

    # --- persistence --------------------------------------------------------------------------

    def _load_state(self) -> MeterState:
        if self.state_path and self.state_path.exists():
            return MeterState.from_dict(json.loads(self.state_path.read_text()))
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
        v.extra_kct_keys = ([bytes.fromhex(k) for k in self.state.previous_keys[:1]]
                            if "kct-wrong-key" in self.faults else [])
        return v

    def save(self) -> None:
        """Write the non-volatile memory (atomic replace)."""
        if not self.state_path:
            return
        self.state.validator = self.validator.to_dict()
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state.to_dict()))
        os.replace(tmp, self.state_path)

    def close(self) -> None:
        with self._lock:
            self._advance()
            self.save()

    # --- physics ------------------------------------------------------------------------------

    def _supply_ok(self) -> bool:
        rated = self.profile.ratings.voltage_v
        return self._src.output and self._src.voltage >= MIN_OPERATING_FRACTION * rated

    def _load_voltage(self) -> float:
        return self._src.voltage if (self._src.output and self._contact) else 0.0

    def _load_current(self) -> float:
        v = self._load_voltage()
        if not self._load.on or v < MIN_LOAD_VOLTAGE:
            return 0.0
        if self._load.mode == "POW":
            return self._load.power / v
        return self._load.current

    def _power(self) -> float:
        return self._load_voltage() * self._load_current()

    def _update_signals(self, t: float) -> None:
        self.history.set_load_voltage(t, self._load_voltage(), self._src.frequency)

    # --- time ---------------------------------------------------------------------------------

    def _advance(self) -> float:
        now = self.clock.now()
        while True:
            t_next, action = self._next_event()
            if t_next is None or t_next > now:
                break
            self._integrate(max(t_next, self._t))
            action(self._t)
        self._integrate(now)
        return now

    def _integrate(self, t: float) -> None:
        dt = t - self._t
        if dt > 0:
            p = self._power()
            if p > 0:
                kwh = p * dt / KWH
                self.state.energy_kwh += kwh
                self.state.credit[0] = max(self.state.credit[0] - kwh, 0.0)
            self._t = t

    def _next_event(self) -> tuple[float | None, Callable[[float], None]]:
        candidates: list[tuple[float, Callable[[float], None]]] = []
        if self._pending:
            candidates.append((self._pending[0], self._operate))
        thr = self.profile.relay.disconnect_credit_kwh
        p = self._power()
        if self._powered and self._contact and p > 0 and self._pending is None \
                and self.state.credit[0] > thr:
            candidates.append((self._t + (self.state.credit[0] - thr) * KWH / p, self._exhausted))
        if self._over_since is not None and self._pending is None:
            candidates.append((self._over_since + self.profile.overload.trip_delay_s,
                               self._overload_trip))
        if self._overload_reconnect is not None:
            candidates.append((self._overload_reconnect, self._overload_end))
        if self._test_end is not None:
            candidates.append((self._test_end, self._relay_test_end))
        if self._entry and self._powered:
            candidates.append((self._last_key + self.profile.tokens.entry_timeout_s,
                               self._entry_timeout))
        if not candidates:
            return None, self._operate
        return min(candidates, key=lambda c: c[0])

    # --- relay --------------------------------------------------------------------------------

    def _operate_delay(self) -> float:
        r = self.profile.relay
        delay = r.operate_s + self._rng.uniform(-r.spread_s, r.spread_s)
        if "late-relay" in self.faults:
            delay *= 10.0
        return max(delay, 0.0)

    def _want_closed(self) -> bool:
        if not self._powered or self._test_end is not None or self._overload_open:
            return False
        if self._credit_disconnected and "no-reconnect" in self.faults:
            return False
        return self.state.credit[0] > self.profile.relay.disconnect_credit_kwh

    def _update_relay(self, t: float, reason: str) -> None:
        want = self._want_closed()
        target = self._pending[1] if self._pending else self._contact
        if want == target:
            return
        if self._pending and want == self._contact:
            self._pending = None  # the command is withdrawn before the contact moved
            return
        self._pending = (t + self._operate_delay(), want, reason)
        self._relay_commanded_at = t
        self._relay_reason = reason

    def _operate(self, t: float) -> None:
        assert self._pending is not None
        _, close, reason = self._pending
        self._pending = None
        self._contact = close
        self._relay_changed_at = t
        self._relay_reason = reason
        if not close and reason == "CREDIT":
            self._credit_disconnected = True
        if close:
            self._credit_disconnected = False
        self._update_signals(t)
        self._check_loads(t)

    def _exhausted(self, t: float) -> None:
        self.state.credit[0] = self.profile.relay.disconnect_credit_kwh
        self._update_relay(t, "CREDIT")

    def _check_loads(self, t: float) -> None:
        """Overload timer and earth-leakage tamper, after any change of V, I or relay."""
        limit = self.state.power_limit_w
        if limit > 0 and self._power() > limit and self._contact:
            if self._over_since is None:
                self._over_since = t
        else:
            self._over_since = None
        if (self._contact and self._powered and self._load.on
                and self._load.leak > self.profile.tamper.leak_threshold_a
                and not self.state.tamper):
            self.state.tamper = True
            self.state.tamper_events += 1
            self.save()

    def _overload_trip(self, t: float) -> None:
        o = self.profile.overload
        self._over_since = None
        self.state.overload_trips += 1
        self._trip_times = [x for x in self._trip_times if x > t - o.window_s] + [t]
        self._overload_open = True
        self._overload_reconnect = (t + o.reconnect_s) if len(self._trip_times) < o.max_trips \
            else None
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
        with self._lock:
            t = self._advance()
            s = self._src
            self._src = SourceState(s.voltage if voltage is None else float(voltage),
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
            self._pending = None
            self._test_end = None
            self._over_since = None
            self.save()
            return
        self.state.outages += 1
        if "volatile-credit" in self.faults:
            self.state.credit = [0.0] * 8
        if self.profile.lockout.reset_on_power_cycle:
            self._refusals = 0
            self._locked_until = -1.0
        self._overload_open = False
        self._overload_reconnect = None
        self._trip_times = []
        self._credit_disconnected = False
        self.state.display = ""
        self._update_relay(t, "POWER")
        self.save()

    def source(self) -> SourceState:
        with self._lock:
            self._advance()
            return self._src

    def set_load(self, *, mode: str | None = None, current: float | None = None,
                 power: float | None = None, on: bool | None = None,
                 leak: float | None = None) -> None:
        with self._lock:
            t = self._advance()
            ld = self._load
            self._load = LoadState(
                ld.mode if mode is None else mode.upper(),
                ld.current if current is None else float(current),
                ld.power if power is None else float(power),
                ld.on if on is None else bool(on),
                ld.leak if leak is None else float(leak))
            self._check_loads(t)

    def load(self) -> LoadState:
        with self._lock:
            self._advance()
            return self._load

    def measure(self) -> Measurements:
        with self._lock:
            self._advance()
            v_load, i_load = self._load_voltage(), self._load_current()
            v_src = self._src.voltage if self._src.output else 0.0
            i_src = i_load + (0.01 if self._powered else 0.0)  # the meter's own burden
            return Measurements(v_src, i_src, v_src * i_src, v_load, i_load, v_load * i_load)

    # --- scope --------------------------------------------------------------------------------

    def sample(self, channel: int, t: float) -> float:
        with self._lock:
            self._advance()
            return self.history.sample(channel, t)

    def find_trigger(self, after: float, *, channel: int, kind: str, slope: str,
                     level: float, drop_time: float) -> float | None:
        with self._lock:
            now = self._advance()
            return self.history.find_trigger(after, now, channel=channel, kind=kind.upper(),
                                             slope=slope.upper(), level=level,
                                             drop_time=drop_time)

    def last_rising_edge(self, channel: int, at_or_before: float) -> float | None:
        with self._lock:
            self._advance()
            return self.history.last_rising_edge(channel, at_or_before)

    # --- tamper (a stimulus for tests: e.g. a terminal cover switch) ---------------------------

    def set_tamper(self, active: bool) -> None:
        with self._lock:
            self._advance()
            if active and not self.state.tamper:
                self.state.tamper_events += 1
            self.state.tamper = active
            self.save()

    # --- keypad -------------------------------------------------------------------------------

    def powered(self) -> bool:
        with self._lock:
            self._advance()
            return self._powered

    def key_down(self, key: str) -> float:
        with self._lock:
            t = self._advance()
            if key == "ENT":
                self.history.sync_down(t)
            return t

    def key_up(self, key: str) -> float:
        with self._lock:
            t = self._advance()
            if key == "ENT":
                self.history.sync_up(t)
            if self._powered:
                self._key(t, key)
            return t

    def _key(self, t: float, key: str) -> None:
        self._last_key = t
        if key == "BS":
            if self._entry:
                self._entry.pop()
        elif key == "ENT":
            digits = "".join(self._entry)
            self._entry = []
            if digits:
                self._process(t, digits)
            return
        elif key.isdigit() and len(key) == 1 and len(self._entry) < 24:
            self._entry.append(key)
        self.state.display = "".join(self._entry)

    def _process(self, t: float, digits: str) -> None:
        result = Entry()
        if len(digits) == 20:
            result = self._token(t, digits)
        elif 2 <= len(digits) <= 6:
            result = self._code(t, digits)
        else:
            result.outcome = "FORMAT_ERROR"
            self.state.display = display_for(result.outcome)
        self.state.entries += 1
        self.state.last_outcome = result.outcome or "NONE"
        if len(digits) == 20:
            self.state.last_token = digits
        for test in result.tests:
            self._run_test(t, test)
        self.save()

    def _token(self, t: float, digits: str) -> Entry:
        result = Entry()
        cls = self.judge.token_class(digits)
        locked = t < self._locked_until and "no-lockout" not in self.faults
        if locked and cls in (0, 2):
            result.outcome = "LOCKED"
            self.state.display = display_for("LOCKED")
            return result
        outcome, token = self.judge.judge(digits, self.state)
        if token is not None:
            outcome = self._apply(t, token, result)
        result.outcome = outcome
        if outcome in ("ACCEPT", "KCT_HELD"):
            if cls in (0, 2) and outcome == "ACCEPT":
                self._refusals = 0
                self._locked_until = -1.0
                if self._overload_open and self._overload_reconnect is None:
                    self._overload_open = False
                    self._update_relay(t, "OVERLOAD")
        elif cls != 1:  # class 1 tokens are not meter-specific: no lock-out count
            self._refusals += 1
            duration = self.profile.lockout.duration(self._refusals)
            if duration > 0:
                self._locked_until = t + duration
        self.state.display = display_for(outcome, len(self.validator.held_sections))
        return result

    def _apply(self, t: float, token: sts.ValidatedToken, result: Entry) -> str:
        kind = token.kind
        if kind in ("kct1", "kct2", "kct3", "kct4"):
            old_key = self.validator.register.decoder_key.hex()
            outcome = self.validator.commit(token).value
            if outcome == "ACCEPT":
                self.state.previous_keys.insert(0, old_key)
                del self.state.previous_keys[3:]
                if "kct-wrong-key" in self.faults:
                    self.validator.extra_kct_keys = [bytes.fromhex(old_key)]
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
            if kind == "power_limit":
                self.state.power_limit_w = int(fields["watts"])
                self._check_loads(t)
            elif kind == "clear_credit":
                register = int(fields["register"])
                for i in range(8):
                    if register in (i, 0xFFFF):
                        self.state.credit[i] = 0.0
                self._update_relay(t, "CREDIT")
            elif kind == "clear_tamper":
                self.state.tamper = False
            elif kind == "phase_unbalance":
                self.state.unbalance_limit_w = int(fields["watts"])
            elif kind == "tariff_rate":
                self.state.tariff_rate = int(fields["rate"])
            elif kind == "water_factor":
                self.state.water_factor = int(fields["factor"])
        return "ACCEPT"

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
        if test in (0, 1):
            self._test_end = t + self.profile.relay.test_duration_s
            self._update_relay(t, "TEST")
        if test != 1:
            value = short_code_value(f"{test:02d}", self._reading())
            if value is not None:
                self.state.display = value
        else:
            self.state.display = "RELAY TEST"

    # --- what the meter shows -----------------------------------------------------------------

    def _reading(self) -> dict[str, Any]:
        reg = self.validator.register
        v = self._src.voltage if self._powered else 0.0
        i = self._load_current()
        return {
            "credit": self.state.credit[0], "energy": self.state.energy_kwh,
            "voltage": v, "current": i, "power": self._power(),
            "overload_trips": self.state.overload_trips, "outages": self.state.outages,
            "tamper_events": self.state.tamper_events, "tamper": self.state.tamper,
            "drn": self.identity.drn, "sgc": reg.sgc, "krn": reg.krn, "kt": reg.kt, "ti": reg.ti,
            "power_limit": self.state.power_limit_w,
            "unbalance_limit": self.state.unbalance_limit_w,
            "firmware": self.identity.firmware, "alarm_level": self.state.alarm_level_kwh,
            "alarm_repeat": self.state.alarm_repeat_min,
            "credit_tokens": self.state.credit_tokens,
        }

    def _registers(self, now: float) -> list[tuple[str, str, str]]:
        st, reg = self.state, self.validator.register
        wall = self._wall0 + timedelta(seconds=now)
        v = self._src.voltage if self._powered else 0.0
        i, p = self._load_current(), self._power()
        rows = [
            ("0.0.0", self.identity.drn, ""), ("C.1.0", self.identity.drn, ""),
            ("C.1.1", self.identity.pan, ""), ("0.2.0", self.identity.firmware, ""),
            ("0.9.1", wall.strftime("%H:%M:%S"), ""), ("0.9.2", wall.strftime("%y-%m-%d"), ""),
            ("1.8.0", f"{st.energy_kwh:010.3f}", "kWh"), ("32.7.0", f"{v:.1f}", "V"),
            ("31.7.0", f"{i:.3f}", "A"), ("1.7.0", f"{p / 1000:.3f}", "kW"),
            ("14.7.0", f"{self._src.frequency:.2f}", "Hz"), ("F.F", "00000000", ""),
        ]
        for sub in range(8):
            fmt = "{:.3f}" if sub < 4 else "{:.5f}"
            rows.append((f"C.50.{sub}", fmt.format(st.credit[sub]), CREDIT_UNITS[sub]))
        locked = max(self._locked_until - now, 0.0) if "no-lockout" not in self.faults else 0.0
        low = st.credit[0] <= st.alarm_level_kwh
        rows += [
            ("C.51.0", "1" if self._contact else "0", ""),
            ("C.51.1", f"{self._relay_changed_at:.6f}", "s"),
            ("C.51.2", f"{self._relay_commanded_at:.6f}", "s"),
            ("C.51.3", self._relay_reason, ""),
            ("C.52.0", st.last_outcome, ""), ("C.52.1", st.last_token or "0" * 20, ""),
            ("C.52.2", str(st.entries), ""),
            ("C.53.0", str(reg.krn), ""), ("C.53.1", str(reg.kt), ""), ("C.53.2", reg.ti, ""),
            ("C.53.3", reg.sgc, ""), ("C.53.4", str(reg.ken), ""),
            ("C.53.5", str(reg.base_date), ""),
            ("C.54.0", "1" if st.tamper else "0", ""),
            ("C.55.0", "1" if low else "0", ""), ("C.55.1", f"{st.alarm_level_kwh:.2f}", "kWh"),
            ("C.56.0", st.display or f"{st.credit[0]:.2f}", ""),
            ("C.57.0", str(st.power_limit_w), "W"), ("C.57.1", str(st.unbalance_limit_w), "W"),
            ("C.57.2", str(st.overload_trips), ""),
            ("C.58.0", f"{locked:.3f}", "s"), ("C.58.1", str(self._refusals), ""),
            ("C.59.0", str(st.outages), ""), ("C.59.1", str(st.tamper_events), ""),
            ("C.60.0", f"{now:.6f}", "s"),
        ]
        return rows

    def readout(self) -> list[tuple[str, str, str]]:
        """Every register (address, value, unit), in the readout's order."""
        with self._lock:
            return self._registers(self._advance())

    def read_register(self, address: str) -> tuple[str, str] | None:
        """One register's (value, unit), or None for an address the meter does not have."""
        with self._lock:
            for addr, value, unit in self._registers(self._advance()):
                if addr == address:
                    return value, unit
            return None
