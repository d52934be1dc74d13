"""One emulated scope's trigger and acquisition on the bench model, whatever its commands.

A model's command set (scope_keysight.py, which the generic scope speaks too, and
scope_rigol.py) sets the trigger here and reads its measurements from here. Trigger kinds:
EDGE (the level crossed with the slope) and TIMEOUT (the signal within +/-level for `hold`,
and the trigger fires when that timer runs out, `hold` after it went quiet: a timeout or
pattern-timeout trigger, as real scopes have them; the bench model finds the quiet stretch
as its DROP search). The
measurements are relative to the trigger point: a delay from the last rising edge of a
channel before it, the width of the last whole pulse before it, samples of the screen
around it; None where the acquisition has no trigger or the edge is not on its screen.
"""

from __future__ import annotations

from emulator.model import BenchModel
from emulator.scpi.server import ScpiError

KINDS = ("EDGE", "TIMEOUT")
#: the scopes' source names: CHANnel<n>, long or short
SOURCES = {f"{f}{n}": n for n in ("1", "2") for f in ("CHAN", "CHANNEL")}


def channel(args: list[str], index: int = 0) -> int:
    """The channel number a command's `index`-th argument names (-109 missing, -224 not a
    channel)."""
    if len(args) <= index:
        raise ScpiError(-109, "Missing parameter")
    name = args[index].strip().upper()
    if name not in SOURCES:
        raise ScpiError(-224, f"Illegal parameter value: {args[index]!r}")
    return int(SOURCES[name])


class Acquisition:
    """Trigger settings, the armed single acquisition and its trigger point (bench time)."""

    def __init__(self, model: BenchModel) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        self.kind = "EDGE"
        self.source = 1
        self.slope = "POS"
        self.level = 0.0
        self.hold = 1e-6
        self.scale = 1e-3       # s/div, 10 divisions on the screen
        self.position = 0.0     # s: the trigger point's offset from the screen centre
        self.armed_at: float | None = None
        self.trigger_t: float | None = None

    def arm(self) -> None:
        """:SINGle: look for the first trigger from now on."""
        self.armed_at = self.model.clock.now()
        self.trigger_t = None

    @property
    def armed(self) -> bool:
        return self.armed_at is not None

    def trigger(self) -> float | None:
        """The trigger point, once the armed acquisition has triggered."""
        if self.trigger_t is None and self.armed_at is not None:
            kind = "EDGE" if self.kind == "EDGE" else "DROP"
            t = self.model.find_trigger(self.armed_at, channel=self.source, kind=kind,
                                        slope=self.slope, level=self.level,
                                        drop_time=self.hold)
            if t is not None and self.kind == "TIMEOUT":
                t += self.hold  # the timer runs out `hold` after the last crossing
            self.trigger_t = t
        return self.trigger_t

    def _on_screen_edge(self, channel: int) -> tuple[float, float] | None:
        """(trigger point, last rising edge of `channel` before it), when that edge is on the
        screen: a scope measures what it acquired, not what happened before its screen."""
        t = self.trigger()
        if t is None:
            return None
        edge = self.model.last_rising_edge(channel, t)
        origin, _step = self.window(2)
        if edge is None or edge < t + origin:
            return None
        return t, edge

    def delay(self, start_channel: int) -> float | None:
        """Seconds from the last rising edge of `start_channel` before the trigger point."""
        found = self._on_screen_edge(start_channel)
        return None if found is None else found[0] - found[1]

    def pulse_width(self, channel: int) -> float | None:
        """Width of the last whole positive pulse on `channel` before the trigger point."""
        found = self._on_screen_edge(channel)
        return None if found is None else self.model.last_pulse_width(channel, found[0])

    def window(self, points: int) -> tuple[float, float]:
        """(x origin, x increment) relative to the trigger: the screen's 10 divisions,
        centred on the trigger point less the position."""
        span = 10.0 * self.scale
        return self.position - span / 2.0, span / max(points - 1, 1)

    def samples(self, channel: int, points: int) -> list[float] | None:
        t0 = self.trigger()
        if t0 is None:
            return None
        origin, step = self.window(points)
        return [self.model.sample(channel, t0 + origin + i * step) for i in range(points)]
