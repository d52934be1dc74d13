"""The meter under test, as the plans see it: tokens in, facts and results out.

A small strategy layer over the drivers (labgrid style). Plans ask for facts ("credit",
"relay_closed", "key_revision"), never for register addresses; the resolver
(rig/meter/fact_resolver.py)
reads each from where the meter's profile says this model gives it: an optical register, the
display (through the bench camera), an instrument, the operator. A fact the meter does not
offer raises `FactNotOffered` naming the fact (the pytest layer, `rig.plugin`, skips the test
on it; a command reports it). Entry results are read by the source the profile declares for
`entry_result`: the result register where the model has one, else the message its display
shows after ENTER. Waits are in bench time, so a plan runs the same on a real bench (speed 1)
and on a fast emulated one. This module knows nothing of pytest: the `dut` fixture is in
`rig.plugin.fixtures`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rig.bench.devices import Bench
from rig.meter.entry_result import EntryResult
from rig.meter.fact_resolver import FactNotOffered, FactResolver, FactUnavailable
from sts.digits import token_text

__all__ = ["EntryLog", "EntryResult", "FactNotOffered", "FactUnavailable", "MeterUnderTest",
           "open_display", "record_outcome"]

log = logging.getLogger("rig.meter.under_test")


@dataclass
class EntryLog:
    """What the rig saw the meter answer to its tokens, across the tests of a run: the
    refusals since the last accepted token. That is the meter's lock-out count as far as the
    rig can know it without a register, so each test can start with no lock-out pending."""

    refusals: int = 0
    last_refusal_at: float | None = None  # bench time of that ENTER (the injector's clock)

    def note(self, result: EntryResult) -> None:
        if result.accepted or result.seen == result.want("KCT_HELD"):
            self.refusals, self.last_refusal_at = 0, None
        else:
            self.refusals += 1
            self.last_refusal_at = result.t_enter


class MeterUnderTest:
    """The meter on the bench (optical port, display camera, injector, instruments)."""

    def __init__(self, bench: Bench, profile: Any, *, display: Any = None,
                 operator: Any = None, entries: EntryLog | None = None) -> None:
        self.bench = bench
        self.profile = profile
        self.entries = entries if entries is not None else EntryLog()
        self.speed = bench.speed
        self.press_ms = profile.tokens.press_ms
        self.gap_ms = profile.tokens.gap_ms
        self.display_reader = display
        self.facts = FactResolver(profile, bench, display=display, operator=operator,
                                  type_keys=self.keys)
        # host-side timestamps (a TIME? query around an instrument command) are good to a
        # few hundred ms of real time: this much bench time, at the bench's clock speed
        self.host_slack_s = 0.25 * self.speed
        # the entry counter read before the first key of an entry still being typed
        self._entry_count_at_start: Any = None
        # the entry counter as the last judged entry left it (None: not known): no ENTER
        # has been typed since, so the next entry need not read it again first
        self._entry_count_known: Any = None

    # --- facts ----------------------------------------------------------------------------

    def fact(self, name: str) -> Any:
        """The fact's value now; `FactNotOffered`, naming the fact, if the meter does not
        offer it by any declared source on this bench (a plan's test is then skipped)."""
        return self.facts.value(name)

    def offers(self, name: str) -> bool:
        """True when this meter offers `name` on this bench (for optional checks)."""
        return self.facts.offers(name)

    def via(self, *names: str) -> str:
        """" [register C.50.0]": how the named facts are obtained, for a measurement name."""
        return " [" + "; ".join(self.facts.describe(n) for n in names) + "]"

    def credit(self) -> Decimal:
        """Available credit of subclass 0 (kWh)."""
        return Decimal(str(round(self.fact("credit"), 6)))

    def relay_closed(self) -> bool:
        """The supply control switch, as the profile declares it is seen (the load-side
        voltage on both packaged profiles)."""
        return bool(self.fact("relay_closed"))

    def shown(self, text: str) -> str:
        """`text` as this meter's display shows it (7-segment canonical form) when results
        are read off the display; unchanged when they come from a register."""
        return self.facts.shown(text)

    def reports(self, name: str) -> bool:
        """True when the meter itself reports fact `name` on this bench (e.g. a register),
        apart from its display: a plan may check that report against an instrument."""
        return self.facts.reported_by_meter(name)

    @staticmethod
    def shown_number(text: str) -> float:
        """The first number in display text ("230.0 V" -> 230.0), read as the display
        source reads it; ValueError naming the text when it shows none."""
        from rig.meter.sources.display_source import first_number

        number = first_number(text)
        if number is None:
            raise ValueError(f"the display shows {text!r}, no number")
        return number

    # --- time -----------------------------------------------------------------------------

    def now(self) -> float:
        """Bench time (the injector's clock)."""
        return self.bench.keypad.time()

    def wait(self, bench_s: float) -> None:
        """Let `bench_s` seconds of bench time pass."""
        if bench_s > 0:
            time.sleep(bench_s / self.speed)

    def wait_until(self, predicate: Callable[[], bool], timeout_bench_s: float,
                   poll_bench_s: float = 1.0) -> bool:
        """Poll `predicate` until true or the bench-time timeout passes."""
        end = self.now() + timeout_bench_s
        while True:
            if predicate():
                return True
            if self.now() > end:
                return False
            time.sleep(max(poll_bench_s / self.speed, 0.005))

    # --- entries --------------------------------------------------------------------------

    def enter(self, token: Any, press_ms: float | None = None,
              gap_ms: float | None = None) -> EntryResult:
        """Type a 20-digit token and ENTER; the meter's outcome and display."""
        digits = token_text(str(token))  # TokenTextError (a ValueError) naming what is wrong
        result = self.entry(digits + "#", press_ms, gap_ms)
        self.entries.note(result)
        return result

    def code(self, digits: str) -> EntryResult:
        """Type a short code (e.g. "41") and ENTER."""
        return self.entry(digits + "#", code=True)

    def keys(self, keys: str, press_ms: float | None = None,
             gap_ms: float | None = None) -> tuple[float, float]:
        """Press keys without waiting for a result (0-9, < backspace, # enter).

        The first keys of an entry left without its ENTER read the meter's entry counter
        first (where it has one): the ENTER typed later by `entry` is then told by that
        count, with no read between the last digit and ENTER, which on a slow optical link
        would outlast the meter's entry timeout and drop the token."""
        if (self._entry_count_at_start is None and "#" not in keys
                and self.offers("entry_count")):
            self._entry_count_at_start = self.entry_count_before()
        try:
            return self.bench.keypad.type_keys(keys, press_ms or self.press_ms,
                                               gap_ms or self.gap_ms)
        finally:
            if "#" in keys:
                self._entry_count_at_start = None
                self._entry_count_known = None  # an ENTER moved it: known again once read

    def entry_count_before(self) -> Any:
        """The entry counter as it was before this entry's first key: noted by `keys` when
        the entry was begun without its ENTER, else as the last judged entry left it (no
        ENTER since), else read now (before any key is typed)."""
        if self._entry_count_at_start is not None:
            return self._entry_count_at_start
        if self._entry_count_known is not None:
            return self._entry_count_known
        return self.fact("entry_count")

    def entry_count_seen(self, count: Any) -> None:
        """The entry counter read after an entry's ENTER (its result is then in): the next
        entry starts from it unless a key with ENTER or the supply moves in between."""
        self._entry_count_known = count

    def entry(self, keys: str, press_ms: float | None = None, gap_ms: float | None = None,
              *, code: bool = False) -> EntryResult:
        """Type `keys` (ending with ENTER, '#') and read the result of that entry, by the
        source the profile declares for `entry_result`."""
        return self.facts.entry_result(self, keys, press_ms, gap_ms, code)

    def display_now(self) -> str:
        """What the display shows now, where the meter offers it ("" where not)."""
        return str(self.fact("display_text")) if self.offers("display_text") else ""

    # --- supply ---------------------------------------------------------------------------

    def _supply_moves(self) -> None:
        """The supply is about to change: a half-typed entry does not survive it, nor, on
        some meters, the entry count."""
        self._entry_count_at_start = None
        self._entry_count_known = None

    def supply(self, on: bool) -> None:
        self._supply_moves()
        source = self.bench.instrument("source")
        if on:
            source.voltage = self.profile.ratings.voltage_v
            source.frequency = self.profile.ratings.frequency_hz
        source.output = on

    def power_cycle(self, off_s: float = 2.0) -> None:
        """Supply off for `off_s` bench seconds, then on again; waits for the meter."""
        self.supply(False)
        self.wait(off_s)
        self.supply(True)
        self._powered_up()

    def sag(self, fraction: float, bench_s: float) -> None:
        """The supply left on at `fraction` of the rated voltage for `bench_s` bench seconds,
        then at rated voltage again; waits for the meter. Below the level where its
        electronics stop this is an interruption, the source's output never switched."""
        self._supply_moves()
        source = self.bench.instrument("source")
        rated = self.profile.ratings.voltage_v
        source.voltage = fraction * rated
        self.wait(bench_s)
        source.voltage = rated
        self._powered_up()

    def _powered_up(self) -> None:
        """After the supply came back: the meter's start-up, and what it resets."""
        self.wait(1.0)
        if self.profile.lockout.reset_on_power_cycle:
            self.entries.refusals, self.entries.last_refusal_at = 0, None

    # --- known state ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Supply on at rated voltage, load off, no half-typed entry."""
        if self.bench.has("source"):
            source = self.bench.instrument("source")
            if not source.output:
                self.supply(True)
                self.wait(1.0)
        if self.bench.has("load"):
            load = self.bench.instrument("load")
            load.on = False
        if self.bench.has("switch"):  # no earth-leak resistor left connected
            self.bench.instrument("switch").set_named("earth_leak", False)
        self.bench.keypad.type_keys("<" * 22, 40, 60)
        self._entry_count_at_start = None
        self._no_lockout_pending()

    def _no_lockout_pending(self) -> None:
        """Refusals left by an earlier test must not lock this one: a power cycle resets
        them where the profile declares so; else a lock-out is waited out, for at most the
        declared length (a refusal count below the threshold cannot be undone without an
        accepted token, and locks nothing yet)."""
        log_ = self.entries
        if not log_.refusals:
            return
        lockout = self.profile.lockout
        if lockout.reset_on_power_cycle and self.bench.has("source"):
            self.power_cycle()
            return
        length = lockout.duration(log_.refusals)
        if length and log_.last_refusal_at is not None:
            self.wait(min(log_.last_refusal_at + length - self.now(), lockout.cap_s) + 1.0)


def record_outcome(record: Callable[..., Any], name: str, result: EntryResult,
                   expected: str) -> Any:
    """Record an entry's outcome against the expected one: the outcome where the meter
    reports it, else the message shown against the message declared for `expected`."""
    return record(name, result.seen, nominal=result.want(expected),
                  source=result.source or "meter", obtained=result.how or None)


def _layout(profile: Any) -> Any:
    from meterprofile.lcd import profile_layout

    return profile_layout(profile)


def open_display(bench: Any, profile: Any) -> Any:
    """The camera reader of the meter's display, or None when the bench has no camera (the
    bench file's [meter] camera, or the emulated bench's camera)."""
    config = bench.config.meter
    spec = getattr(config, "camera", None)
    emulator = getattr(bench, "emulator", None)
    if not spec and emulator is not None:
        spec = emulator.endpoints.get("camera")
    if not spec:
        return None
    from drivers.segment_reader import DisplayReader, open_camera

    calibration = getattr(config, "camera_calibration", None)
    corners = getattr(calibration, "corners", None)
    rotate = getattr(calibration, "rotate", 0) or 0
    if corners is None and emulator is not None:  # the emulated camera says where the LCD is
        corners = emulator.endpoints.get("camera_corners")
    return DisplayReader(open_camera(spec), _layout(profile), corners, rotate)
