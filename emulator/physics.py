"""What the scope sees: the load-side voltage and the injector's sync line, over time.

The model records every change that shapes the signals (source voltage, frequency, output,
relay contact, ENTER key) as segments; the scope's samples and triggers are computed from
them exactly, so an edge is found at its true bench time whatever the clock speed.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

SYNC_HIGH_V = 5.0
HISTORY = 10_000


@dataclass(frozen=True)
class Segment:
    """From `t` on (until the next segment), the load voltage is `amplitude` x sin(2 pi f t)."""

    t: float
    amplitude: float  # peak volts at the load terminals (0 = no supply there)
    frequency: float


class SignalHistory:
    """Bounded history of the load voltage (CHAN1) and the ENTER sync line (CHAN2)."""

    def __init__(self) -> None:
        self.segments: deque[Segment] = deque([Segment(0.0, 0.0, 50.0)], maxlen=HISTORY)
        self.sync: deque[tuple[float, float | None]] = deque(maxlen=HISTORY)  # (down, up)

    # --- recording ------------------------------------------------------------------------

    def set_load_voltage(self, t: float, rms: float, frequency: float) -> None:
        amplitude = rms * math.sqrt(2.0)
        last = self.segments[-1]
        if last.amplitude == amplitude and last.frequency == frequency:
            return
        self.segments.append(Segment(t, amplitude, frequency))

    def sync_down(self, t: float) -> None:
        self.sync.append((t, None))

    def sync_up(self, t: float) -> None:
        if self.sync and self.sync[-1][1] is None:
            self.sync[-1] = (self.sync[-1][0], t)

    # --- sampling -------------------------------------------------------------------------

    def _segment_at(self, t: float) -> Segment:
        times = [s.t for s in self.segments]
        i = bisect.bisect_right(times, t) - 1
        return self.segments[max(i, 0)]

    def sample(self, channel: int, t: float) -> float:
        """Instantaneous volts on CHAN1 (load) or CHAN2 (sync) at bench time t."""
        if channel == 2:
            for down, up in reversed(self.sync):
                if down <= t and (up is None or t < up):
                    return SYNC_HIGH_V
                if down <= t:
                    break
            return 0.0
        seg = self._segment_at(t)
        return seg.amplitude * math.sin(2.0 * math.pi * seg.frequency * t)

    def last_rising_edge(self, channel: int, at_or_before: float) -> float | None:
        """Latest rising edge of a channel at or before t (CHAN2: ENTER pressed)."""
        if channel == 2:
            downs = [d for d, _ in self.sync if d <= at_or_before]
            return downs[-1] if downs else None
        live = [s.t for s in self.segments if s.t <= at_or_before and s.amplitude > 0]
        return live[-1] if live else None

    # --- triggers -------------------------------------------------------------------------

    def find_trigger(self, after: float, now: float, *, channel: int, kind: str, slope: str,
                     level: float, drop_time: float) -> float | None:
        """The first trigger point after `after` that has fully happened by `now`."""
        if channel == 2:
            return self._sync_trigger(after, now, kind, slope, drop_time)
        if kind == "DROP":
            return self._drop_trigger(after, now, abs(level), drop_time)
        return self._edge_trigger(after, now, level, slope)

    def _sync_trigger(self, after: float, now: float, kind: str, slope: str,
                      drop_time: float) -> float | None:
        for down, up in self.sync:
            if kind == "DROP":
                if up is not None and up >= after and up + drop_time <= now:
                    return up
                continue
            t = down if slope == "POS" else up
            if t is not None and after <= t <= now:
                return t
        return None

    def _live_ranges(self, after: float, now: float) -> list[tuple[float, float, Segment]]:
        segs = list(self.segments)
        out = []
        for i, seg in enumerate(segs):
            end = segs[i + 1].t if i + 1 < len(segs) else now
            if end <= after or seg.t > now:
                continue
            out.append((max(seg.t, after), min(end, now), seg))
        return out

    def _drop_trigger(self, after: float, now: float, level: float,
                      drop_time: float) -> float | None:
        """Signal within +/-level for drop_time: the trigger point is where it went quiet."""
        quiet_since: float | None = None
        for start, end, seg in self._live_ranges(after, now):
            if seg.amplitude <= level:  # a dead stretch
                if quiet_since is None:
                    quiet_since = start
                    if start == seg.t and start > after:
                        quiet_since = self._last_loud(seg.t, level)
                if end - quiet_since >= drop_time and quiet_since + drop_time <= now:
                    return max(quiet_since, after)
            else:
                quiet_since = None
        return None

    def _last_loud(self, t_dead: float, level: float) -> float:
        """The last instant before t_dead at which the dying sine was beyond +/-level."""
        prev = self._segment_at(t_dead - 1e-12)
        if prev.amplitude <= level or prev.frequency <= 0:
            return t_dead
        w = 2.0 * math.pi * prev.frequency
        phase = (w * t_dead) % math.pi  # |sin| has period pi
        edge = math.asin(min(level / prev.amplitude, 1.0))
        if edge <= phase <= math.pi - edge:  # still beyond the level when the supply went
            return t_dead
        back = phase - (math.pi - edge) if phase > math.pi - edge else phase + edge
        return t_dead - back / w

    def _edge_trigger(self, after: float, now: float, level: float,
                      slope: str) -> float | None:
        prev_v = self.sample(1, after)
        for start, end, seg in self._live_ranges(after, now):
            v0 = seg.amplitude * math.sin(2.0 * math.pi * seg.frequency * start)
            jumped = (prev_v < level <= v0) if slope == "POS" else (prev_v > level >= v0)
            if start > after and jumped:
                return start
            if seg.amplitude > abs(level) and seg.frequency > 0:
                t = self._crossing(seg, start, level, slope)
                if t is not None and t <= end:
                    return t
            prev_v = seg.amplitude * math.sin(2.0 * math.pi * seg.frequency * end)
        return None

    @staticmethod
    def _crossing(seg: Segment, start: float, level: float, slope: str) -> float | None:
        w = 2.0 * math.pi * seg.frequency
        a = math.asin(level / seg.amplitude)
        base = a if slope == "POS" else math.pi - a
        k = math.ceil((w * start - base) / (2.0 * math.pi))
        return (base + 2.0 * math.pi * k) / w
