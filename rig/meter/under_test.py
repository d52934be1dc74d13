"""The meter under test, as the plans see it: tokens in, facts and results out.

A small strategy layer over the drivers (labgrid style). Plans ask for facts ("credit",
"relay_closed", "key_revision"), never for register addresses; the resolver
(rig/meter/fact_resolver.py)
reads each from where the meter's profile says this model gives it: an optical register, the
display (through the bench camera), an instrument, the operator. A fact the meter does not
offer skips the test, naming the fact. Entry results come from the result register where the
model has one, else from the message its display shows after ENTER. Waits are in bench time,
so a plan runs the same on a real bench (speed 1) and on a fast emulated one.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from meterprofile import describe_source
from rig.bench.devices import Bench
from rig.meter.fact_resolver import FactResolver, FactUnavailable

log = logging.getLogger("rig.meter.under_test")

_COUNTED = re.compile(r"^(\S+) [0-9]+$")  # "KCT 2": the message KCT with a count


@dataclass(frozen=True)
class EntryResult:
    """What the meter said about one entry: its outcome where the model reports one
    (a result register), else only the message its display showed (`outcome` None)."""

    outcome: str | None
    display: str
    t_enter: float  # bench time ENTER was pressed (the injector's clock)
    messages: dict[str, str] = field(default_factory=dict, repr=False)
    code: bool = False  # a short code (its display is a value, not a message)
    how: str = ""  # where the result was read: "register C.52.0", "display"

    @property
    def seen(self) -> str:
        """The outcome, or the message shown ("KCT 2" reads as the message "KCT")."""
        if self.outcome is not None:
            return self.outcome
        counted = _COUNTED.match(self.display)
        if counted and counted[1] in self.messages.values():
            return counted[1]
        return self.display

    def want(self, outcome: str) -> str:
        """What `seen` must be for `outcome`: the outcome itself, or its declared message
        (on a display-only meter KEY_EXPIRED and CRC_ERROR are both GAGAL)."""
        if self.outcome is not None:
            return outcome
        return self.messages.get(outcome, outcome)

    @property
    def accepted(self) -> bool:
        """Accepted: ACCEPT, or its message, or a code that showed a value (no refusal)."""
        if self.outcome is not None:
            return self.outcome == "ACCEPT"
        if self.code:
            refusals = {m for o, m in self.messages.items() if o != "ACCEPT"}
            return self.seen not in refusals
        return self.seen == self.want("ACCEPT")


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

    # --- facts ----------------------------------------------------------------------------

    def fact(self, name: str) -> Any:
        """The fact's value now; the test is skipped, naming the fact, if the meter does not
        offer it by any declared source."""
        try:
            return self.facts.value(name)
        except FactUnavailable as exc:
            pytest.skip(str(exc))

    def offers(self, name: str) -> bool:
        """True when this meter offers `name` on this bench (for optional checks)."""
        return self.facts.offers(name)

    def via(self, *names: str) -> str:
        """" [register C.50.0]": how the named facts are obtained, for a measurement name."""
        return " [" + "; ".join(describe_source(self.profile.fact_source(n)) for n in names) + "]"

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
        if self.facts.source_kind("display_text") != "display":
            return text
        from meterprofile.lcd import canonical

        return canonical(text, _layout(self.profile))

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
        digits = str(token)
        if len(digits) != 20 or not digits.isdigit():
            raise ValueError(f"a token has 20 digits, got {len(digits)} characters")
        result = self.entry(digits + "#", press_ms, gap_ms)
        self.entries.note(result)
        return result

    def code(self, digits: str) -> EntryResult:
        """Type a short code (e.g. "41") and ENTER."""
        return self.entry(digits + "#", code=True)

    def keys(self, keys: str, press_ms: float | None = None,
             gap_ms: float | None = None) -> tuple[float, float]:
        """Press keys without waiting for a result (0-9, < backspace, # enter)."""
        return self.bench.keypad.type_keys(keys, press_ms or self.press_ms,
                                           gap_ms or self.gap_ms)

    def entry(self, keys: str, press_ms: float | None = None, gap_ms: float | None = None,
              *, code: bool = False) -> EntryResult:
        """Type `keys` (ending with ENTER, '#') and read the result of that entry."""
        kind = self.facts.source_kind("entry_result")
        if kind == "register":
            return self._register_result(keys, press_ms, gap_ms, code)
        if kind == "display":
            return self._display_result(keys, press_ms, gap_ms, code)
        self.fact("entry_result")  # skips, naming the fact
        raise AssertionError("unreachable")

    def _register_result(self, keys: str, press_ms: float | None, gap_ms: float | None,
                         code: bool) -> EntryResult:
        counted = self.offers("entry_count")
        before = self.fact("entry_count") if counted else None
        _, t_enter = self.keys(keys, press_ms, gap_ms)
        if counted:
            moved = self.wait_until(lambda: self.fact("entry_count") != before, 60.0, 0.2)
            how = describe_source(self.profile.fact_source("entry_result"))
            if not moved:
                return EntryResult("NO_RESULT", self._display_now(), t_enter,
                                   self.profile.display.messages, code, how)
        else:
            self.wait(1.0)
        return EntryResult(self.fact("entry_result"), self._display_now(), t_enter,
                           self.profile.display.messages, code,
                           describe_source(self.profile.fact_source("entry_result")))

    def _display_now(self) -> str:
        return str(self.fact("display_text")) if self.offers("display_text") else ""

    def _display_result(self, keys: str, press_ms: float | None, gap_ms: float | None,
                        code: bool) -> EntryResult:
        if self.display_reader is None:
            self.fact("entry_result")  # skips: no camera on this bench
        messages = self.profile.display.messages
        shown = set(messages.values())
        typed = keys.rstrip("#").replace("<", "")
        _, t_enter = self.keys(keys, press_ms, gap_ms)

        def is_result(text: str) -> bool:
            if code:
                return text != "" and text != typed[-8:]
            counted = _COUNTED.match(text)
            return text in shown or bool(counted and counted[1] in shown)

        reading = self.display_reader.read_until(is_result, 30.0)
        return EntryResult(None, reading.text, t_enter, messages, code, "display")

    # --- supply ---------------------------------------------------------------------------

    def supply(self, on: bool) -> None:
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
            if hasattr(type(load), "leakage") and type(load).leakage is not None:
                load.leakage = 0
        self.bench.keypad.type_keys("<" * 22, 40, 60)
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
    return record(f"{name} [{result.how}]", result.seen, nominal=result.want(expected))


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


_DISPLAY = pytest.StashKey[Any]()
_ENTRIES = pytest.StashKey[EntryLog]()  # the run's one log: refusals carry across tests


@pytest.fixture
def dut(request: pytest.FixtureRequest, profile: Any, operator: Any) -> MeterUnderTest:
    """The meter under test (`MeterUnderTest`), in a known state."""
    from rig.plugin.fixtures import meter_bench

    bench = meter_bench(request)
    if not bench.has("keypad"):
        pytest.skip("no keypad injector on this bench: the meter cannot be driven")
    stash = request.config.stash
    if _DISPLAY not in stash:
        try:
            stash[_DISPLAY] = open_display(bench, profile)
        except Exception as exc:  # a camera that does not answer: display facts unusable
            log.warning("the display camera did not open: %s", exc)
            stash[_DISPLAY] = None
    if _ENTRIES not in stash:
        stash[_ENTRIES] = EntryLog()
    meter = MeterUnderTest(bench, profile, display=stash[_DISPLAY], operator=operator,
                           entries=stash[_ENTRIES])
    meter.prepare()
    return meter
