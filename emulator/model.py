"""The emulated bench's physics: AC source -> meter (relay contact) -> load, in bench time.

The model is lazy and event-driven: every public method first brings it up to `clock.now()`,
processing the scheduled events in time order at their exact bench times (relay operations
after their operate delay, and the deadlines of the meter's firmware: credit reaching the
disconnect threshold, computed from the piecewise-constant power; overload trips and
reconnects; the end of a relay test; the entry timeout). No thread ticks, so any clock speed
keeps exact event times. One RLock makes every method safe to call from the wire servers'
threads.

What the meter decides (tokens, credit, relay commands, lock-out, tamper, display, registers)
is its firmware, `emulator.meter_firmware.MeterFirmware`; this module is what the bench
sees: the supply, the load, the energy drawn through the contact, the scope's signals, and
when the contact moves. `BenchModel` is the one object the wire servers talk to.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import sts
from emulator.clock import Clock
from emulator.faults import check_faults
from emulator.meter import LockoutTracker, MeterState, TokenJudge
from emulator.meter_firmware import ENTRY_MAX_DIGITS, KWH, MeterFirmware, MeterIdentity
from emulator.physics import (
    LOAD_MODES,
    Circuit,
    LoadState,
    Measurements,
    Relay,
    SignalHistory,
    SourceState,
)
from emulator.setup import MeterSetup
from meterprofile import MeterProfile

__all__ = ["ENTRY_MAX_DIGITS", "KWH", "BenchModel", "LoadState", "Measurements",
           "MeterIdentity", "SourceState"]

log = logging.getLogger(__name__)

MIN_OPERATING_FRACTION = 0.6  # of rated voltage: below it the meter's electronics are off


class BenchModel:
    """The emulated bench's physics, with the meter's firmware on its supply, in bench time."""

    def __init__(self, setup: MeterSetup, profile: MeterProfile, clock: Clock,
                 faults: frozenset[str] = frozenset(), state_path: Path | None = None,
                 seed: int = 62055) -> None:
        self.clock = clock
        self.profile = profile
        self.faults = check_faults(faults)
        self.setup = setup
        self.state_path = Path(state_path) if state_path else None
        self._lock = threading.RLock()
        self._t = clock.now()
        self.load_energy_j = 0.0  # joules drawn through the contact (a power meter integrates it)
        self.firmware = MeterFirmware(setup, profile, self.faults, self.state_path, self._t)
        r = profile.ratings
        self.circuit = Circuit(SourceState(r.voltage_v, r.frequency_hz, True),
                               LoadState("CURR", 0.0, 0.0, False, 0.0))
        self.history = SignalHistory(self._t, r.frequency_hz)
        rp = profile.relay
        self.relay = Relay(self.firmware.credit_connects(), self._t,
                           operate_s=rp.operate_s, spread_s=rp.spread_s,
                           rng=random.Random(seed),
                           factor=10.0 if "late-relay" in self.faults else 1.0,
                           offset_s=(1.25 * rp.operate_limit_s - rp.operate_s
                                     if "marginal-relay" in self.faults else 0.0))
        self.firmware.attach(self, self._supply_ok())
        self._update_signals(self._t)
        self.undeclared_reads: list[str] = []  # R1 addresses the profile does not declare
        self.read_log: Path | None = None      # each of them appended here too, if set

    # --- the meter's firmware, as the rest of the emulator sees it ------------------------------

    @property
    def identity(self) -> MeterIdentity:
        return self.firmware.identity

    @property
    def state(self) -> MeterState:
        """The meter's non-volatile memory."""
        return self.firmware.state

    @property
    def validator(self) -> sts.MeterValidator:
        return self.firmware.validator

    @property
    def judge(self) -> TokenJudge:
        return self.firmware.judge

    @property
    def lockout(self) -> LockoutTracker:
        return self.firmware.lockout

    @property
    def _powered(self) -> bool:
        return self.firmware.powered

    @property
    def _wall0(self) -> datetime:
        return self.firmware._wall0

    def _meter_voltage(self) -> float:
        return self.firmware.meter_voltage()

    def _display(self) -> str:
        return self.firmware.display()

    def save(self) -> None:
        """Write the meter's non-volatile memory to `state_path` (atomic replace)."""
        with self._lock:
            self.firmware.save()

    def close(self) -> None:
        """Bring the model up to now and save the non-volatile memory."""
        with self._lock:
            self._advance()
            self.save()

    # --- physics ------------------------------------------------------------------------------

    def _supply_ok(self) -> bool:
        src = self.circuit.source
        return src.output and src.voltage >= MIN_OPERATING_FRACTION * self.profile.ratings.voltage_v

    def power(self) -> float:
        """Watts drawn through the meter's contact now."""
        return self.circuit.load_power(self.relay.closed)

    _power = power

    def _update_signals(self, t: float) -> None:
        self.history.set_load_voltage(t, self.circuit.load_voltage(self.relay.closed),
                                      self.circuit.source.frequency)

    # --- time ---------------------------------------------------------------------------------

    def _advance(self, until: float | None = None) -> float:
        """Process every event due by now (or by `until`, a bench time not yet passed),
        each at its own bench time; returns that time."""
        now = max(self.clock.now() if until is None else until, self._t)
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
        p = self.power()
        self.load_energy_j += p * dt
        if p > 0 and self.firmware.powered:
            self.firmware.meter_energy(p * dt)
        self._t = t

    def _next_event(self) -> tuple[float | None, Callable[[float], None]]:
        due = self.relay.due()
        candidates: list[tuple[float, Callable[[float], None]]] = []
        if due is not None:
            candidates.append((due, self._operate))
        candidates += self.firmware.deadlines(self._t, self.power(), due)
        if not candidates:
            return None, self._operate
        return min(candidates, key=lambda c: c[0])

    # --- relay contact --------------------------------------------------------------------------

    def _operate(self, t: float) -> None:
        self.relay.operate()
        closed = self.relay.closed
        self.firmware.relay_moved(t, closed, self.relay.reason)
        log.debug("relay %s at %.6f (%s)", "closed" if closed else "opened", t,
                  self.relay.reason)
        self._update_signals(t)
        self.firmware.check_loads(t)

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
            if powered != self.firmware.powered:
                self.firmware.power_change(t, powered)
            self._update_signals(t)
            self.firmware.check_loads(t)


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
            self.firmware.check_loads(t)

    def load(self) -> LoadState:
        with self._lock:
            self._advance()
            return self.circuit.load

    def measure(self) -> Measurements:
        """Rms volts, amps and watts at the source output and at the load terminals."""
        with self._lock:
            self._advance()
            return self.circuit.measure(self.relay.closed, self.firmware.powered)

    def load_energy(self) -> float:
        """Joules drawn through the contact since the bench started (a power meter's
        integrator reads differences of it)."""
        with self._lock:
            self._advance()
            return self.load_energy_j

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
            self.firmware.tamper_switch(active)

    # --- keypad -------------------------------------------------------------------------------

    def powered(self) -> bool:
        """True when the meter's electronics have supply (keypad and optical port work)."""
        with self._lock:
            self._advance()
            return self.firmware.powered

    def key_down(self, key: str) -> float:
        """A key goes down (ENTER raises the injector's sync line); returns the bench time."""
        self._check_key(key)
        with self._lock:
            t = self._advance()
            if key == "ENT":
                self.history.sync_down(t)
            self.firmware.key_held(t)
            return t

    def key_up(self, key: str, at: float | None = None) -> float:
        """A key comes up: the meter acts on it now, or at bench time `at` (the end of a
        press of a given length: an injector holds a key for its time, however late the
        host that emulates it wakes up); returns the bench time."""
        self._check_key(key)
        with self._lock:
            t = self._advance(at)
            if key == "ENT":
                self.history.sync_up(t)
            self.firmware.key(t, key)
            if at is not None:
                self._advance()  # and on to now
            return t

    @staticmethod
    def _check_key(key: str) -> None:
        if key not in ("BS", "ENT") and not (len(key) == 1 and key in "0123456789"):
            raise ValueError(f"bad key {key!r}: use 0-9, BS or ENT")

    # --- what the meter shows on its optical port -----------------------------------------------

    def _registers(self, now: float) -> list[tuple[str, str, str]]:
        return self.firmware.registers(now)

    def _offered(self, now: float) -> list[tuple[str, str, str]]:
        """The registers this model offers: identification plus its profile's register facts."""
        return self.firmware.offered(now, self)

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
