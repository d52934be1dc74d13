"""What a plan can ask of the bench's instruments, by capability, never by command.

A plan asks for what it needs: the time from the ENTER sync edge to the load's edge
(`RelayEdgeTimer`), or the energy the load drew over an interval (`EnergyMeter`). The
bench's instruments provide it the way real ones can: a triggered acquisition on the load
voltage with the sync line's edge measured against it (any scope model: each driver knows
how its model triggers and measures a delay), a power meter's own integrator, or the load's
power readings sampled on the bench clock and integrated. Where the bench has none of them
the capability is not offered (`CapabilityNotOffered`, naming it and why); the pytest layer
turns that into a skip. Times and energies come from instruments only, never from host
timing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.instruments.scope import Channel

__all__ = ["ENERGY_OVER_INTERVAL", "SYNC_TO_LOAD_EDGE", "CapabilityNotOffered", "Channel",
           "EdgeTiming", "EnergyMeter",
           "EnergyReading", "IntegratingPowerMeter", "RelayEdgeTimer", "SampledLoadPower",
           "energy_meter", "relay_edge_timer", "relay_window"]

SYNC_TO_LOAD_EDGE = "time from the ENTER sync edge to the load edge"
ENERGY_OVER_INTERVAL = "energy drawn over an interval"
KWH = 3.6e6  # joules


class CapabilityNotOffered(Exception):
    """The bench cannot provide a capability a plan asks for: `capability` and `why`."""

    def __init__(self, capability: str, why: str) -> None:
        super().__init__(f"the bench does not offer the {capability}: {why}")
        self.capability = capability
        self.why = why


class BenchLike(Protocol):
    def has(self, role: str) -> bool: ...
    def instrument(self, role: str) -> Any: ...


# --- the time from the ENTER sync edge to the load's edge ---------------------------------

#: a scope's longest time base (50 s/div on the InfiniiVision 3000T; the MSO5000 goes to
#: 1000 s/div): the bound of every window armed here
MAX_SCALE_S = 50.0
#: the trigger point sits this many divisions from the screen's left edge: 8 of the 10
#: divisions show what came before the edge (the ENTER press), 2 what followed it. Both
#: models allow it: the InfiniiVision's delay reaches one screen before the trigger, the
#: MSO5000's offset half a screen (the trigger at the right edge).
BEFORE_DIVISIONS = 8.0
#: an edge due within a limit after ENTER is armed for this many times the limit, so that
#: a relay that operates late is still measured (the screen then reaches twice as far)
PAST_LIMIT = 3.0


def relay_window(limit_s: float, press_s: float = 0.0) -> float:
    """The window to arm for an edge due within `limit_s` of ENTER's release, ENTER held
    `press_s`: a late edge, several times the limit, is still on the screen with the press,
    and is measured as a value rather than missed."""
    return press_s + PAST_LIMIT * limit_s


@dataclass(frozen=True)
class EdgeTiming:
    """One relay edge timed from the ENTER press by the scope.

    `later_than` False: `from_sync` (press to edge), `held` (the sync pulse's width) and
    `after_release` (their difference) are the scope's measurements. True: the press was not
    on the screen, or no edge came while the plan waited, so the edge came later than the
    screen reaches (`reach_s`): `from_sync` and `after_release` are lower bounds (the latter
    less the press the injector was told to hold) and `held` is unknown. `screen_s` is the
    screen's width, the range of the time-interval uncertainty."""

    from_sync: float
    held: float | None
    after_release: float
    later_than: bool
    screen_s: float
    reach_s: float

    @property
    def shown(self) -> str:
        """The time after release as the report should print it ("> 0.78" for a bound)."""
        return f"> {self.after_release:g}" if self.later_than else f"{self.after_release:g}"

    def obtained(self, measured: str) -> str:
        """How the value was obtained: `measured` for a measurement, else the bound."""
        if not self.later_than:
            return measured
        return (f"lower bound: no relay edge within {self.reach_s:g} s of the ENTER press "
                f"on the scope's screen ({self.screen_s:g} s wide), so the relay operated "
                "later than that")


class RelayEdgeTimer:
    """The relay's edges on the load voltage, timed from the ENTER sync line by the scope.

    `arm_open()` / `arm_close()` arm one acquisition on the supply vanishing / coming back;
    once `seen()`, `from_sync()` is the time from the last ENTER press before the edge to the
    edge, `sync_width()` how long that press held ENTER, and `after_release()` their
    difference (the meter acts on ENTER's release); `timing()` gives all three, or a lower
    bound where the edge came too late for the screen. `window_s` is the longest time the
    plan expects between the press and the edge: the time base is set from it (with 20 %
    spare over 4 divisions), and the trigger point is placed 8 divisions into the screen,
    so the screen reaches twice the window before the edge (`reach_s`)."""

    capability = SYNC_TO_LOAD_EDGE

    def __init__(self, scope: Any) -> None:
        self.scope = scope

    @staticmethod
    def _scale(window_s: float | None) -> float:
        if not window_s:
            return 0.01
        return min(max(0.01, window_s / 4.0), MAX_SCALE_S)  # 5 divisions before: 20 % spare

    @staticmethod
    def _position(scale_s: float) -> float:
        """The screen centre's time from the trigger: BEFORE_DIVISIONS before it."""
        return -(BEFORE_DIVISIONS - 5.0) * scale_s

    def arm_open(self, *, level: float = 50.0, hold_s: float = 0.05,
                 window_s: float | None = None) -> None:
        # a model whose dropout trigger fires when its timer runs out puts the edge `hold_s`
        # further before the trigger point: the screen holds that too
        scale = self._scale(window_s + hold_s if window_s else None)
        self.scope.arm_dropout(level=level, hold_s=hold_s, channel=Channel.LOAD_VOLTAGE,
                               scale_s=scale, position_s=self._position(scale))

    def arm_close(self, *, level: float = 50.0, window_s: float | None = None) -> None:
        scale = self._scale(window_s)
        self.scope.arm_edge(level=level, slope="POS", channel=Channel.LOAD_VOLTAGE,
                            scale_s=scale, position_s=self._position(scale))

    @property
    def reach_s(self) -> float:
        """The longest time from the press to the edge the armed screen shows; a plan that
        waits for the edge waits at least this long (bench time) after the press."""
        return self.scope.before_trigger_s - self.scope.trigger_lag_s

    def seen(self) -> bool:
        """The armed edge has happened (the acquisition triggered)."""
        return bool(self.scope.triggered())

    def from_sync(self) -> float:
        return float(self.scope.delay(Channel.ENTER_SYNC, Channel.LOAD_VOLTAGE))

    def sync_width(self) -> float:
        return float(self.scope.pulse_width(Channel.ENTER_SYNC))

    def after_release(self) -> float:
        return self.from_sync() - self.sync_width()

    def timing(self, press_s: float = 0.0) -> EdgeTiming:
        """The edge timed from the press, or, where the scope saw no edge, or no press on
        its screen before the edge (it answers +9.9E+37), the lower bound the screen gives:
        a late edge is a number either way, never an exception. `press_s` is how long the
        injector was told to hold ENTER (only a bound subtracts it)."""
        screen = 10.0 * float(self.scope.scale_s)
        reach = self.reach_s
        delay = self.scope.delay_on_screen(Channel.ENTER_SYNC, Channel.LOAD_VOLTAGE) \
            if self.seen() else None
        held = None if delay is None else self.scope.pulse_width_on_screen(Channel.ENTER_SYNC)
        if delay is None or held is None:
            return EdgeTiming(reach, None, reach - press_s, True, screen, reach)
        return EdgeTiming(float(delay), float(held), float(delay) - float(held), False,
                          screen, reach)

    def waveform(self, points: int = 600) -> tuple[list[float], list[float]]:
        return self.scope.waveform(Channel.LOAD_VOLTAGE, points=points)


def relay_edge_timer(bench: BenchLike) -> RelayEdgeTimer:
    """The bench's relay edge timer; CapabilityNotOffered without a scope."""
    if not bench.has("scope"):
        raise CapabilityNotOffered(SYNC_TO_LOAD_EDGE, "the bench has no scope "
                                   "([instruments.scope]) on the load voltage and the ENTER "
                                   "sync line")
    return RelayEdgeTimer(bench.instrument("scope"))


# --- the energy drawn over an interval -------------------------------------------------------

@dataclass(frozen=True)
class EnergyReading:
    """An energy drawn, in kWh, with how it was obtained: `instrument` and `function` give
    it its uncertainty, scaled from `mean_power_w` (the energy is proportional to it), and
    `timing_kwh` bounds what the way of measuring could have missed."""

    kwh: float
    timing_kwh: float
    mean_power_w: float
    instrument: Any
    function: str
    obtained: str


class EnergyMeter(Protocol):
    capability: str
    instrument: Any  # the driver whose readings these are (their uncertainty)

    def start(self) -> None: ...
    def power(self) -> float: ...
    def poll_s(self, expected_s: float) -> float: ...
    def drawn(self, samples: list[tuple[float, float]], started: tuple[float, float]) \
        -> EnergyReading: ...


class IntegratingPowerMeter:
    """A power meter's own integrator: reset and started before the load goes on, read
    after the relay opened (nothing flows after it, so the integral ends at the edge)."""

    capability = ENERGY_OVER_INTERVAL

    def __init__(self, meter: Any) -> None:
        self.meter = self.instrument = meter

    def start(self) -> None:
        self.meter.start_integration()

    def power(self) -> float:
        return float(self.meter.measure_power())

    def poll_s(self, expected_s: float) -> float:
        return expected_s / 12  # the integrator, not the polling, measures

    def drawn(self, samples: list[tuple[float, float]],
              started: tuple[float, float]) -> EnergyReading:
        self.meter.stop_integration()
        wh = float(self.meter.energy_wh())
        t_start = started[0]
        on = [t for t, p in samples if p > 0]
        span = (on[-1] if on else t_start) - t_start
        mean = wh * 3600.0 / span if span > 0 else 0.0
        return EnergyReading(wh / 1000.0, 0.0, mean, self.meter, "power",
                             "the power meter's integrated active energy (WH), started "
                             "before the load and read after the relay opened")


class SampledLoadPower:
    """The load's power readings on the bench clock, integrated by trapezoids to the first
    reading after the relay opened (zero power); what the readings between two samples
    could have missed is bounded and carried as timing."""

    capability = ENERGY_OVER_INTERVAL

    def __init__(self, load: Any) -> None:
        self.load = self.instrument = load

    def start(self) -> None:
        """Nothing to start: the readings are taken as the plan polls."""

    def power(self) -> float:
        return float(self.load.measure_power())

    def poll_s(self, expected_s: float) -> float:
        return expected_s / 100  # fine enough that the missed part stays small

    def drawn(self, samples: list[tuple[float, float]],
              started: tuple[float, float]) -> EnergyReading:
        t_start, u_start = started
        if not samples:
            raise ValueError("no power readings to integrate")
        first_zero = next((i for i, (_t, p) in enumerate(samples) if p <= 0), None)
        upto = samples if first_zero is None else samples[:first_zero + 1]
        points = [(t_start, upto[0][1]), *upto]
        energy = missed = 0.0
        for (ta, pa), (tb, pb) in itertools.pairwise(points):
            energy += (pa + pb) / 2 * (tb - ta)
            missed += abs(pb - pa) / 2 * (tb - ta)
        drawing = [p for _t, p in upto if p > 0]
        mean = sum(drawing) / len(drawing) if drawing else 0.0
        timing = mean * u_start + missed
        return EnergyReading(energy / KWH, timing / KWH, mean, self.load, "power",
                             "the load's power readings integrated to the first reading "
                             "after the relay opened")


def energy_meter(bench: BenchLike) -> EnergyMeter:
    """The bench's energy reference: its power meter where it has one, else the load's
    power readings; CapabilityNotOffered with neither."""
    if bench.has("power_meter"):
        return IntegratingPowerMeter(bench.instrument("power_meter"))
    if bench.has("load"):
        load = bench.instrument("load")
        declared = getattr(type(load), "ACCURACY", None)
        if declared is not None and "power" not in declared:
            # a reading without a declared accuracy cannot be a reference a lab signs: the
            # test is not concluded for want of one, never failed on the meter's account
            model = getattr(type(load), "MODEL", type(load).__name__)
            raise CapabilityNotOffered(ENERGY_OVER_INTERVAL, f"the load ({model}) declares no "
                                       "accuracy for its power readings, and the bench has "
                                       "no power meter ([instruments.power_meter]) to be "
                                       "its power reference")
        return SampledLoadPower(load)
    raise CapabilityNotOffered(ENERGY_OVER_INTERVAL, "the bench has neither a power meter "
                               "([instruments.power_meter]) nor a load reading its power "
                               "([instruments.load])")
