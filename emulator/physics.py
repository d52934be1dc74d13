"""The wired part of the emulated bench: AC source -> meter relay -> AC load, and what the
scope sees of it over time.

`Circuit` says what flows for a given source, load and relay contact; `Relay` is the meter's
load switch, whose contact moves an operate time after the meter commands it; `SignalHistory`
records every change that shapes the scope's signals (load voltage on CHAN1, the keypad
injector's ENTER sync line on CHAN2) so samples and triggers are computed exactly, for any
bench time in the (bounded) past, whatever the clock speed.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

MIN_LOAD_VOLTAGE = 10.0  # an electronic load draws nothing below this
METER_BURDEN_A = 0.01  # the meter's own supply current, seen only at the source
SYNC_HIGH_V = 5.0
HISTORY = 10_000  # events kept per channel (at least)
LOAD_MODES = ("CURR", "POW")


@dataclass(frozen=True)
class SourceState:
    voltage: float  # rms volts set
    frequency: float
    output: bool


@dataclass(frozen=True)
class LoadState:
    mode: str  # "CURR" (constant current) or "POW" (constant power), resistive, PF 1
    current: float
    power: float
    on: bool
    leak: float = 0.0  # live-to-earth current (a tamper stimulus, rig extension)


@dataclass(frozen=True)
class Measurements:
    source_v: float
    source_i: float
    source_p: float
    load_v: float
    load_i: float
    load_p: float


class Circuit:
    """Source, load and the relay contact between them: volts, amps and watts at rest."""

    def __init__(self, source: SourceState, load: LoadState) -> None:
        self.source = source
        self.load = load

    def load_voltage(self, contact: bool) -> float:
        return self.source.voltage if (self.source.output and contact) else 0.0

    def load_current(self, contact: bool) -> float:
        v = self.load_voltage(contact)
        if not self.load.on or v < MIN_LOAD_VOLTAGE:
            return 0.0
        if self.load.mode == "POW":
            return self.load.power / v
        return self.load.current

    def load_power(self, contact: bool) -> float:
        return self.load_voltage(contact) * self.load_current(contact)

    def measure(self, contact: bool, meter_on: bool) -> Measurements:
        v_load, i_load = self.load_voltage(contact), self.load_current(contact)
        v_src = self.source.voltage if self.source.output else 0.0
        i_src = i_load + (METER_BURDEN_A if meter_on else 0.0)
        return Measurements(v_src, i_src, v_src * i_src, v_load, i_load, v_load * i_load)


class Relay:
    """The meter's latching load switch.

    A command takes effect after the operate time (nominal +/- spread, drawn per operation
    from the model's seeded RNG); a command back to the present position before the contact
    moved withdraws the pending one.
    """

    def __init__(self, closed: bool, t: float, *, operate_s: float, spread_s: float,
                 rng: random.Random, factor: float = 1.0, offset_s: float = 0.0) -> None:
        self.closed = closed
        self.pending: tuple[float, bool, str] | None = None  # (time, close?, reason)
        self.changed_at = t
        self.commanded_at = t
        self.opened_cmd_at = 0.0  # bench time of the last command to open
        self.closed_cmd_at = 0.0  # ... and to close
        self.reason = "POWER"
        self._operate_s, self._spread_s = operate_s, spread_s
        self._rng = rng
        self._factor = factor
        self._offset_s = offset_s  # added to every operate time (a fault hook)

    def delay(self) -> float:
        d = self._operate_s + self._rng.uniform(-self._spread_s, self._spread_s)
        return max(d * self._factor + self._offset_s, 0.0)

    def target(self) -> bool:
        """Where the contact is going (or is, with nothing pending)."""
        return self.pending[1] if self.pending else self.closed

    def command(self, t: float, close: bool, reason: str) -> None:
        if close == self.target():
            return
        if self.pending is not None and close == self.closed:
            self.pending = None  # withdrawn before the contact moved
            return
        self.pending = (t + self.delay(), close, reason)
        self.commanded_at = t
        if close:
            self.closed_cmd_at = t
        else:
            self.opened_cmd_at = t
        self.reason = reason

    def due(self) -> float | None:
        return self.pending[0] if self.pending else None

    def operate(self) -> float:
        """Move the contact as commanded; returns the bench time it moved."""
        assert self.pending is not None
        t, close, reason = self.pending
        self.pending = None
        self.closed = close
        self.changed_at = t
        self.reason = reason
        return t

    def cancel(self) -> None:
        self.pending = None


def _trim(*lists: list) -> None:
    if len(lists[0]) > 2 * HISTORY:
        for values in lists:
            del values[: len(values) - HISTORY]


class SignalHistory:
    """Bounded history of the load voltage (CHAN1) and the ENTER sync line (CHAN2).

    CHAN1 is a chain of segments: from `t` on, `amplitude` x sin(2 pi f t) (amplitude 0: no
    supply at the load). CHAN2 is a list of ENTER presses (down, up). Before the oldest kept
    event the oldest state is assumed.
    """

    def __init__(self, t0: float = 0.0, frequency: float = 50.0) -> None:
        self._seg_t: list[float] = [t0]
        self._seg_a: list[float] = [0.0]
        self._seg_f: list[float] = [frequency]
        self._down: list[float] = []
        self._up: list[float | None] = []

    # --- recording ------------------------------------------------------------------------

    def set_load_voltage(self, t: float, rms: float, frequency: float) -> None:
        amplitude = rms * math.sqrt(2.0)
        if self._seg_a[-1] == amplitude and self._seg_f[-1] == frequency:
            return
        if t <= self._seg_t[-1]:  # same instant: the later state wins
            self._seg_a[-1], self._seg_f[-1] = amplitude, frequency
            return
        self._seg_t.append(t)
        self._seg_a.append(amplitude)
        self._seg_f.append(frequency)
        _trim(self._seg_t, self._seg_a, self._seg_f)

    def sync_down(self, t: float) -> None:
        if self._up and self._up[-1] is None:
            return  # already pressed
        self._down.append(t)
        self._up.append(None)
        _trim(self._down, self._up)

    def sync_up(self, t: float) -> None:
        if self._up and self._up[-1] is None:
            self._up[-1] = t

    # --- sampling -------------------------------------------------------------------------

    def _index(self, t: float) -> int:
        return max(bisect.bisect_right(self._seg_t, t) - 1, 0)

    def _value(self, i: int, t: float) -> float:
        return self._seg_a[i] * math.sin(2.0 * math.pi * self._seg_f[i] * t)

    def sample(self, channel: int, t: float) -> float:
        """Instantaneous volts on CHAN1 (load) or CHAN2 (sync) at bench time t."""
        if channel == 2:
            i = bisect.bisect_right(self._down, t) - 1
            if i < 0:
                return 0.0
            up = self._up[i]
            return SYNC_HIGH_V if (up is None or t < up) else 0.0
        return self._value(self._index(t), t)

    def last_pulse_width(self, channel: int, at_or_before: float) -> float | None:
        """Width of the last complete positive pulse at or before t: CHAN2 one ENTER press
        (sync high while the key is down). CHAN1 carries no pulses (None)."""
        if channel != 2:
            return None
        i = bisect.bisect_right(self._down, at_or_before) - 1
        while i >= 0:
            up = self._up[i]
            if up is not None and up <= at_or_before:
                return up - self._down[i]
            i -= 1
        return None

    def last_rising_edge(self, channel: int, at_or_before: float) -> float | None:
        """Latest rising edge at or before t: CHAN2 the ENTER press, CHAN1 the supply
        appearing at the load (a dead stretch ending)."""
        if channel == 2:
            i = bisect.bisect_right(self._down, at_or_before) - 1
            return self._down[i] if i >= 0 else None
        i = bisect.bisect_right(self._seg_t, at_or_before) - 1
        while i > 0:
            if self._seg_a[i] > 0 and self._seg_a[i - 1] == 0:
                return self._seg_t[i]
            i -= 1
        return None

    # --- triggers -------------------------------------------------------------------------

    def find_trigger(self, after: float, now: float, *, channel: int, kind: str, slope: str,
                     level: float, drop_time: float) -> float | None:
        """The first trigger point at or after `after` that has fully happened by `now`.

        EDGE: the signal crossing `level` with the slope. DROP: the signal staying within
        +/-`level` for `drop_time`; the trigger point is where it went quiet. (A live sine's
        own zero crossings are not counted as quiet: use a drop time longer than them.)
        """
        if channel == 2:
            return self._sync_trigger(after, now, kind, slope, level, drop_time)
        if kind == "DROP":
            return self._drop_trigger(after, now, abs(level), drop_time)
        return self._edge_trigger(after, now, level, slope)

    def _sync_trigger(self, after: float, now: float, kind: str, slope: str, level: float,
                      drop_time: float) -> float | None:
        if kind == "DROP":
            if abs(level) >= SYNC_HIGH_V:
                return after if after + drop_time <= now else None
            quiet = after if self.sample(2, after) == 0.0 else None
            start = max(bisect.bisect_right(self._down, after) - 1, 0)
            for i in range(start, len(self._down)):
                down, up = self._down[i], self._up[i]
                if quiet is not None and down > quiet:
                    if min(down, now) - quiet >= drop_time:
                        return quiet
                    quiet = None
                if up is not None and up >= after:
                    quiet = up
            if quiet is not None and now - quiet >= drop_time:
                return quiet
            return None
        if not 0.0 < level < SYNC_HIGH_V:
            return None
        times = self._down if slope == "POS" else self._up
        start = max(bisect.bisect_left(self._down, after) - 1, 0)
        for i in range(start, len(times)):
            t = times[i]
            if t is not None and after <= t <= now:
                return t
            if t is not None and t > now:
                break
        return None

    def _ranges(self, after: float, now: float):
        """(start, end, segment index) of the segments overlapping [after, now]."""
        n = len(self._seg_t)
        for i in range(self._index(after), n):
            seg_t = self._seg_t[i]
            if seg_t > now:
                break
            end = self._seg_t[i + 1] if i + 1 < n else now
            end = min(end, now)
            if end < after:
                continue
            yield max(seg_t, after), end, i

    def _drop_trigger(self, after: float, now: float, level: float,
                      drop_time: float) -> float | None:
        quiet_since: float | None = None
        for start, end, i in self._ranges(after, now):
            if self._seg_a[i] <= level:  # a dead (or below-level) stretch
                if quiet_since is None:
                    quiet_since = start
                    if start == self._seg_t[i] and start > after:
                        quiet_since = max(self._last_loud(i, level), after)
                if end - quiet_since >= drop_time:
                    return quiet_since
            else:
                quiet_since = None
        return None

    def _last_loud(self, i: int, level: float) -> float:
        """The last instant before segment i began at which the previous (dying) sine was
        beyond +/-level: the start of the quiet interval a dropout trigger reports."""
        t_dead = self._seg_t[i]
        if i == 0 or self._seg_a[i - 1] <= level or self._seg_f[i - 1] <= 0:
            return t_dead
        amp, w = self._seg_a[i - 1], 2.0 * math.pi * self._seg_f[i - 1]
        phase = (w * t_dead) % math.pi  # |sin| has period pi
        edge = math.asin(min(level / amp, 1.0))
        if edge <= phase <= math.pi - edge:  # still beyond the level when the supply went
            return t_dead
        back = phase - (math.pi - edge) if phase > math.pi - edge else phase + edge
        return max(t_dead - back / w, self._seg_t[i - 1])

    def _edge_trigger(self, after: float, now: float, level: float,
                      slope: str) -> float | None:
        prev_v = self.sample(1, after)
        for start, end, i in self._ranges(after, now):
            v0 = self._value(i, start)
            jumped = (prev_v < level <= v0) if slope == "POS" else (prev_v > level >= v0)
            if start > after and jumped:
                return start
            amp, f = self._seg_a[i], self._seg_f[i]
            if amp > abs(level) and f > 0:
                t = self._crossing(amp, f, start, level, slope)
                if t <= end:
                    return t
            prev_v = self._value(i, end)
        return None

    @staticmethod
    def _crossing(amp: float, f: float, start: float, level: float, slope: str) -> float:
        """First time at or after `start` a sine of this amplitude crosses `level`."""
        w = 2.0 * math.pi * f
        a = math.asin(level / amp)
        base = a if slope == "POS" else math.pi - a
        k = math.ceil((w * start - base) / (2.0 * math.pi))
        return (base + 2.0 * math.pi * k) / w
