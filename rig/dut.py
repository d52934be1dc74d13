"""The meter under test, as the plans see it: tokens in, results and registers out.

A small strategy layer over the drivers (labgrid style): it types through the injector,
waits for the meter's entry counter to move, and reads the result over the optical port; it
waits in bench time, so a plan runs the same on a real bench (speed 1) and on a fast
emulated one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rig.bench import Bench


@dataclass(frozen=True)
class EntryResult:
    """What the meter said about one entry."""

    outcome: str
    display: str
    t_enter: float  # bench time ENTER was pressed


class MeterUnderTest:
    """The meter on the bench (optical port + keypad injector + AC source)."""

    def __init__(self, bench: Bench, profile: Any) -> None:
        self.bench = bench
        self.profile = profile
        self.speed = bench.speed
        self.press_ms = profile.tokens.press_ms
        self.gap_ms = profile.tokens.gap_ms
        # host-side timestamps (a TIME? query around an instrument command) are good to a
        # few hundred ms of real time: this much bench time, at the bench's clock speed
        self.host_slack_s = 0.25 * self.speed

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

    # --- registers ------------------------------------------------------------------------

    def register(self, address: str) -> str:
        return self.bench.optical.read(address).value

    def number(self, address: str) -> float:
        return float(self.register(address))

    def credit(self, subclass: int = 0) -> Decimal:
        return Decimal(self.register(f"C.50.{subclass}"))

    def relay_closed(self) -> bool:
        return self.register("C.51.0") == "1"

    # --- entries --------------------------------------------------------------------------

    def _result(self, before: str, t_enter: float, timeout_bench_s: float = 60.0) -> EntryResult:
        moved = self.wait_until(lambda: self.register("C.52.2") != before, timeout_bench_s,
                                poll_bench_s=0.2)
        if not moved:
            return EntryResult("NO_RESULT", self.register("C.56.0"), t_enter)
        return EntryResult(self.register("C.52.0"), self.register("C.56.0"), t_enter)

    def enter(self, token: Any) -> EntryResult:
        """Type a 20-digit token and ENTER; the meter's outcome and display."""
        before = self.register("C.52.2")
        _, t_enter = self.bench.keypad.type_token(str(token), self.press_ms, self.gap_ms)
        return self._result(before, t_enter)

    def code(self, digits: str) -> EntryResult:
        """Type a short code (e.g. "41") and ENTER."""
        before = self.register("C.52.2")
        _, t_enter = self.bench.keypad.type_keys(digits + "#", self.press_ms, self.gap_ms)
        return self._result(before, t_enter)

    def keys(self, keys: str) -> tuple[float, float]:
        """Press keys without waiting for a result (0-9, < backspace, # enter)."""
        return self.bench.keypad.type_keys(keys, self.press_ms, self.gap_ms)

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

    # --- known state ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Supply on at rated voltage, load off, no half-typed entry, lock-out waited out."""
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
        remaining = self.number("C.58.0")
        if remaining > 0:
            self.wait(remaining + 1.0)
