"""Oscilloscopes / timers: the relay's edge on the load voltage, and its delay after ENTER.

The scope's channels are named for what they see (`Channel`): the load-side voltage and the
keypad injector's ENTER sync line; each model maps the names to its inputs (`CHANNELS`,
CHAN1 and CHAN2 by default). A trigger on the load voltage catches the relay's edge (the
supply vanishing, or coming back); the time from the ENTER sync edge before it is the
meter's response to a keypad command, measured by the scope alone.

The generic scope speaks the Keysight InfiniiVision command set (the generic emulated scope
is that set under its own identity): no command here exists on no real scope. Every driver
answers `delay()` as the time from the last rising edge of the sync line to the load's edge:
a model whose dropout trigger fires when its timer runs out (a timeout trigger) subtracts
the timer it armed, so a plan never needs to know how a model triggers.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from drivers.instruments.accuracy import NOT_REREAD, Accuracy, Specification
from drivers.instruments.answers import SCPI_OVERLOAD, parse_block_header, parse_numbers
from drivers.instruments.base import InstrumentTimeout, ScpiInstrument
from drivers.instruments.errors import AnswerError
from drivers.instruments.nominal import NOMINAL

__all__ = ["Channel", "KeysightInfiniiVision", "Scope"]


class Channel(enum.StrEnum):
    """What a scope input sees on this rig."""

    LOAD_VOLTAGE = "load_voltage"  # the load-side voltage, behind the meter's relay
    ENTER_SYNC = "enter_sync"      # the keypad injector's sync line: high while ENTER is down


ChannelRef = Channel | str | int
_SLOPES = {"POS": "POSitive", "NEG": "NEGative"}


class Scope(ScpiInstrument):
    """Generic scope: the InfiniiVision command set (Keysight InfiniiVision 3000T X-Series
    Programmer's Guide): :SINGle, :TER?, :MEASure:DELay/:PWIDth, :WAVeform in ASCii with its
    10-field preamble and a definite-length block. It has no dropout trigger type: the supply
    vanishing is a pattern trigger with the Timeout qualifier on the channel low (below the
    level), which fires when the pattern has held for the timeout (User's Guide, "Pattern
    Trigger": "the trigger occurs when the > softkey time value is exceeded"), so the load's
    edge lies that long before the trigger point."""

    ROLE = "scope"
    MODEL = "generic"
    DESIGNATION = "generic SCPI oscilloscope/timer (emulated bench; InfiniiVision commands)"
    ACCURACY: ClassVar[Accuracy] = {"time_interval": NOMINAL["time_interval"]}
    CHANNELS: ClassVar[dict[str, str]] = {Channel.LOAD_VOLTAGE: "1", Channel.ENTER_SYNC: "2"}
    #: the model's time base scale command and how it starts one acquisition
    TIMEBASE = ":TIMebase:SCALe"
    SINGLE = ":SINGle"
    #: the time from the trigger point to the screen's centre (InfiniiVision: the delay to
    #: the centre reference; negative shows more before the trigger, down to one screen)
    POSITION = ":TIMebase:POSition"

    def __init__(self, resource: str, *, channels: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        # a bench may wire the inputs otherwise: {name: input number}
        self.channels = {**self.CHANNELS, **{str(Channel(k)): str(v)
                                             for k, v in (channels or {}).items()}}
        self._trigger_lag = 0.0  # how long after the load's edge the armed trigger fires
        self._armed = False      # a single acquisition armed since the last reset
        self._seen_trigger = False
        self.scale_s = 0.0       # the armed time base (s/div; the screen is 10 divisions)
        self.position_s = 0.0    # the armed screen centre's time from the trigger point
        super().__init__(resource, **kwargs)

    @property
    def trigger_lag_s(self) -> float:
        """How long after the load's edge the armed trigger fires (a timeout trigger's
        timer; 0 for an edge trigger)."""
        return self._trigger_lag

    @property
    def before_trigger_s(self) -> float:
        """How far before the trigger point the armed screen reaches (s)."""
        return 5.0 * self.scale_s - self.position_s

    def input(self, channel: ChannelRef) -> str:
        """The instrument's input number of a named channel (a number passes as is)."""
        if isinstance(channel, int):
            return str(channel)
        try:
            return self.channels[str(Channel(channel))]
        except ValueError:
            if str(channel).isdigit():
                return str(channel)
            raise ValueError(f"scope channel {channel!r} is neither a channel name "
                             f"({', '.join(c.value for c in Channel)}) nor a number") from None

    def _arm(self, scale_s: float, trigger: Sequence[str], lag: float,
             position_s: float = 0.0) -> None:
        """Set the time base and the trigger, then start one acquisition; `lag` is how long
        after the load's edge this trigger fires, `position_s` the screen centre's time from
        the trigger point (negative: more of the screen before it)."""
        self.configure(f"{self.TIMEBASE} {scale_s:g}", f"{self.POSITION} {position_s:g}",
                       ":TRIGger:SWEep NORMal", *trigger)
        self.scale_s, self.position_s = scale_s, position_s
        self._trigger_lag = lag
        self._seen_trigger = False
        self.configure(self.SINGLE)
        self._armed = True

    def arm_dropout(self, *, level: float = 50.0, hold_s: float = 0.05,
                    channel: ChannelRef = Channel.LOAD_VOLTAGE, scale_s: float = 0.01,
                    position_s: float = 0.0) -> None:
        """Arm one acquisition that triggers when the channel has stayed within +/-level
        for `hold_s` (the supply gone)."""
        ch = int(self.input(channel))
        pattern = "".join("0" if i == ch else "X" for i in (1, 2))  # that channel low
        self._arm(scale_s, (":TRIGger:MODE PATTern",
                            f":TRIGger:EDGE:LEVel {level:g},CHANnel{ch}",
                            f':TRIGger:PATTern "{pattern}"',
                            ":TRIGger:PATTern:QUALifier TIMeout",
                            f":TRIGger:PATTern:GREaterthan {hold_s:g}"),
                  lag=hold_s,  # it fires when the pattern has held for the timeout
                  position_s=position_s)

    def arm_edge(self, *, level: float = 50.0, slope: str = "POS",
                 channel: ChannelRef = Channel.LOAD_VOLTAGE, scale_s: float = 0.01,
                 position_s: float = 0.0) -> None:
        """Arm one acquisition on an edge of the channel (the same commands on the
        InfiniiVision and the Rigol MSO5000)."""
        self._arm(scale_s, (":TRIGger:MODE EDGE",
                            f":TRIGger:EDGE:SOURce CHANnel{self.input(channel)}",
                            f":TRIGger:EDGE:SLOPe {_SLOPES.get(slope, slope)}",
                            f":TRIGger:EDGE:LEVel {level:g}"), lag=0.0,
                  position_s=position_s)

    def triggered(self) -> bool:
        """:TER? answers +1 once after a trigger (reading clears it): kept until re-armed."""
        self._seen_trigger = self._seen_trigger or self.query_bool(":TER?")
        return self._seen_trigger

    def wait_triggered(self, timeout_s: float, poll_s: float = 0.01) -> None:
        """Poll until triggered; InstrumentTimeout naming the scope otherwise."""
        end = time.monotonic() + timeout_s
        while not self.triggered():
            if time.monotonic() > end:
                raise InstrumentTimeout(f"scope {self.resource}: no trigger within "
                                        f"{timeout_s:g} s")
            time.sleep(poll_s)

    def _delay_to_trigger(self, start: str, stop: str) -> float:
        # no acquisition or no edge on the screen: the InfiniiVision answers 9.9E+37, which
        # query_number refuses as a SCPI overload, naming the command
        return self.query_number(f":MEASure:DELay? CHANnel{start},CHANnel{stop}")

    def delay(self, start_channel: ChannelRef = Channel.ENTER_SYNC,
              stop_channel: ChannelRef = Channel.LOAD_VOLTAGE) -> float:
        """Seconds from the last rising edge of `start_channel` before the trigger to the
        load's edge the trigger caught."""
        start, stop = self.input(start_channel), self.input(stop_channel)
        return self._delay_to_trigger(start, stop) - self._trigger_lag

    def delay_on_screen(self, start_channel: ChannelRef = Channel.ENTER_SYNC,
                        stop_channel: ChannelRef = Channel.LOAD_VOLTAGE) -> float | None:
        """`delay()`, or None where the scope answers that it has nothing to measure (SCPI
        overload: no trigger, or the start edge is not on its screen)."""
        try:
            return self.delay(start_channel, stop_channel)
        except AnswerError as exc:
            if _overload(exc):
                return None
            raise

    def pulse_width_on_screen(self, channel: ChannelRef = Channel.ENTER_SYNC) -> float | None:
        """`pulse_width()`, or None where the pulse is not on the screen (SCPI overload)."""
        try:
            return self.pulse_width(channel)
        except AnswerError as exc:
            if _overload(exc):
                return None
            raise

    def pulse_width(self, channel: ChannelRef = Channel.ENTER_SYNC) -> float:
        """The last positive pulse's width on `channel` (s): how long ENTER was really held,
        from the injector's sync line, not from the press time it was given."""
        return self.query_number(f":MEASure:PWIDth? CHANnel{self.input(channel)}")

    def waveform(self, channel: ChannelRef = Channel.LOAD_VOLTAGE,
                 points: int = 1000) -> tuple[list[float], list[float]]:
        """(times relative to the trigger, volts) of the last acquisition."""
        return self._read_waveform(f":WAVeform:SOURce CHANnel{self.input(channel)}",
                                   ":WAVeform:FORMat ASCii", f":WAVeform:POINts {points}")

    def _read_waveform(self, *setup: str) -> tuple[list[float], list[float]]:
        """Set the waveform source and format, then read the 10-field preamble (x increment
        and x origin are fields 5 and 6) and the block of comma-separated values."""
        self.configure(*setup)
        pre = self.query_numbers(":WAVeform:PREamble?", 10)
        x_increment, x_origin = pre[4], pre[5]
        raw = self.query(":WAVeform:DATA?")
        data = self._checked(":WAVeform:DATA?", parse_block_header, raw)
        volts = self._checked(":WAVeform:DATA?", parse_numbers, data.strip().strip(","))
        times = [x_origin + i * x_increment for i in range(len(volts))]
        return times, volts


def _overload(exc: AnswerError) -> bool:
    """The answer refused was the SCPI overload value (+9.9E+37): nothing to measure."""
    try:
        return abs(float(exc.received.decode("ascii").strip())) >= SCPI_OVERLOAD
    except ValueError:
        return False


class KeysightInfiniiVision(Scope):
    """Keysight InfiniiVision 3000T X-series: the command set the generic scope speaks."""

    MODEL = "keysight-infiniivision"
    DESIGNATION = "Keysight InfiniiVision 3000T X-series oscilloscope"
    # Keysight InfiniiVision 3000T X-Series data sheet, "Horizontal system": delta-time
    # accuracy ±(time base accuracy × reading + 0.16 % of screen width + 100 ps); time base
    # accuracy 1.6 ppm + 0.5 ppm/year aging (2.1 ppm over the first year). "Range" is the
    # screen width (10 divisions).
    ACCURACY: ClassVar[Accuracy] = {
        "time_interval": Specification(0.00021, 0.16, (0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
                                       source="Keysight InfiniiVision 3000T X-Series data "
                                              "sheet, horizontal system: delta-time and "
                                              "time base accuracy", note=NOT_REREAD),
    }
