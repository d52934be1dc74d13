"""The bench clock shared by the emulated meter and instruments.

Real time by default; `speed` N runs it N times faster so a one-hour depletion takes seconds.
Every time a device reports is in this clock (seconds since the emulator started).
"""

from __future__ import annotations

import time


class Clock:
    """Bench time = (monotonic time since start) x speed."""

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed!r}")
        self.speed = float(speed)
        self._t0 = time.monotonic()

    def now(self) -> float:
        """Bench seconds since the clock started."""
        return (time.monotonic() - self._t0) * self.speed

    def sleep(self, bench_s: float) -> None:
        """Sleep `bench_s` bench seconds (bench_s / speed real seconds)."""
        if bench_s > 0:
            time.sleep(bench_s / self.speed)


class ManualClock(Clock):
    """A clock that only moves when told: for exact-time tests of the model."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(1.0)
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, bench_s: float) -> None:
        self.t += max(bench_s, 0.0)

    def advance(self, bench_s: float) -> None:
        self.t += bench_s
