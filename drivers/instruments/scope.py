"""Oscilloscopes / timers: the relay's edge on the load voltage, and its delay after ENTER.

The scope's channels are named for what they see (`Channel`): the load-side voltage and the
keypad injector's ENTER sync line; each model maps the names to its inputs (`CHANNELS`,
CHAN1 and CHAN2 by default). A trigger on the load voltage catches the relay's edge (the
supply vanishing, or coming back); the time from the ENTER sync edge before it is the
meter's response to a keypad command, measured by the scope alone.

Every driver here answers `delay()` as the time from the last rising edge of the sync line to
the load's edge: a model whose dropout trigger fires when its timer runs out (a timeout
trigger) subtracts the timer it armed, so a plan never needs to know how a model triggers.
"""

from __future__ import annotations

import enum
import time
from typing import Any, ClassVar

from drivers.instruments.accuracy import Accuracy, Specification
from drivers.instruments.answers import parse_block_header, parse_numbers
from drivers.instruments.base import InstrumentTimeout, ScpiInstrument
from drivers.instruments.nominal import NOMINAL

__all__ = ["Channel", "KeysightInfiniiVision", "Scope"]


class Channel(enum.StrEnum):
    """What a scope input sees on this rig."""

    LOAD_VOLTAGE = "load_voltage"  # the load-side voltage, behind the meter's relay
    ENTER_SYNC = "enter_sync"      # the keypad injector's sync line: high while ENTER is down


ChannelRef = Channel | str | int


class Scope(ScpiInstrument):
    """Generic scope (the emulated bench's command set)."""

    ROLE = "scope"
    MODEL = "generic"
    DESIGNATION = "generic SCPI oscilloscope/timer (emulated bench)"
    ACCURACY: ClassVar[Accuracy] = {"time_interval": NOMINAL["time_interval"]}
    CHANNELS: ClassVar[dict[str, str]] = {Channel.LOAD_VOLTAGE: "1", Channel.ENTER_SYNC: "2"}

    def __init__(self, resource: str, *, channels: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        # a bench may wire the inputs otherwise: {name: input number}
        self.channels = {**self.CHANNELS, **{str(Channel(k)): str(v)
                                             for k, v in (channels or {}).items()}}
        self._trigger_lag = 0.0  # how long after the load's edge the armed trigger fires
        self._armed = False      # a single acquisition armed since the last reset
        self._seen_trigger = False
        super().__init__(resource, **kwargs)

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

    def arm_dropout(self, *, level: float = 50.0, hold_s: float = 0.05,
                    channel: ChannelRef = Channel.LOAD_VOLTAGE, scale_s: float = 0.01) -> None:
        """Arm one acquisition that triggers when the channel stays within +/-level."""
        ch = self.input(channel)
        self.configure(f":TIM:SCAL {scale_s:g}", f":TRIG:SOUR CHAN{ch}", ":TRIG:TYPE DROP",
                       f":TRIG:LEV {level:g}", f":TRIG:DROP:TIME {hold_s:g}")
        self._trigger_lag = 0.0  # the dropout trigger point is where the signal went quiet
        self.configure(":SING")

    def arm_edge(self, *, level: float = 50.0, slope: str = "POS",
                 channel: ChannelRef = Channel.LOAD_VOLTAGE, scale_s: float = 0.01) -> None:
        """Arm one acquisition on an edge of the channel."""
        ch = self.input(channel)
        self.configure(f":TIM:SCAL {scale_s:g}", f":TRIG:SOUR CHAN{ch}", ":TRIG:TYPE EDGE",
                       f":TRIG:SLOP {slope}", f":TRIG:LEV {level:g}")
        self._trigger_lag = 0.0
        self.configure(":SING")

    def triggered(self) -> bool:
        return self.query_bool(":TER?")

    def wait_triggered(self, timeout_s: float, poll_s: float = 0.01) -> None:
        """Poll until triggered; InstrumentTimeout naming the scope otherwise."""
        end = time.monotonic() + timeout_s
        while not self.triggered():
            if time.monotonic() > end:
                raise InstrumentTimeout(f"scope {self.resource}: no trigger within "
                                        f"{timeout_s:g} s")
            time.sleep(poll_s)

    def _delay_to_trigger(self, start: str, stop: str) -> float:
        return self.query_number(f":MEAS:DEL? CHAN{start},CHAN{stop}")

    def delay(self, start_channel: ChannelRef = Channel.ENTER_SYNC,
              stop_channel: ChannelRef = Channel.LOAD_VOLTAGE) -> float:
        """Seconds from the last rising edge of `start_channel` before the trigger to the
        load's edge the trigger caught."""
        start, stop = self.input(start_channel), self.input(stop_channel)
        return self._delay_to_trigger(start, stop) - self._trigger_lag

    def pulse_width(self, channel: ChannelRef = Channel.ENTER_SYNC) -> float:
        """The last positive pulse's width on `channel` (s): how long ENTER was really held,
        from the injector's sync line, not from the press time it was given."""
        return self.query_number(f":MEAS:PWID? CHAN{self.input(channel)}")

    def waveform(self, channel: ChannelRef = Channel.LOAD_VOLTAGE,
                 points: int = 1000) -> tuple[list[float], list[float]]:
        """(times relative to the trigger, volts) of the last acquisition."""
        self.configure(f":WAV:SOUR CHAN{self.input(channel)}", f":WAV:POIN {points}")
        _n, step, origin = self.query_numbers(":WAV:PRE?", 3)
        volts = self.query_numbers(":WAV:DATA?")
        times = [origin + i * step for i in range(len(volts))]
        return times, volts


class KeysightInfiniiVision(Scope):
    """Keysight InfiniiVision 3000T X-series (commands from the InfiniiVision 3000T X-Series
    Programmer's Guide): :SINGle, :TER?, :MEASure:DELay/:PWIDth, :WAVeform in ASCii with
    its 10-field preamble and a definite-length block. It has no dropout trigger type: the
    supply vanishing is a pattern trigger with the Timeout qualifier on CH1 low (below the
    level), which fires when the pattern has held for the timeout (User's Guide, "Pattern
    Trigger": "the trigger occurs when the > softkey time value is exceeded"), so the load's
    edge lies that long before the trigger point."""

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
                                              "time base accuracy"),
    }

    def arm_dropout(self, *, level: float = 50.0, hold_s: float = 0.05,
                    channel: ChannelRef = Channel.LOAD_VOLTAGE, scale_s: float = 0.01) -> None:
        ch = int(self.input(channel))
        pattern = "".join("0" if i == ch else "X" for i in (1, 2))  # that channel low
        self.configure(f":TIMebase:SCALe {scale_s:g}", ":TRIGger:SWEep NORMal",
                       ":TRIGger:MODE PATTern", f":TRIGger:EDGE:LEVel {level:g},CHANnel{ch}",
                       f':TRIGger:PATTern "{pattern}"', ":TRIGger:PATTern:QUALifier TIMeout",
                       f":TRIGger:PATTern:GREaterthan {hold_s:g}")
        self._trigger_lag = hold_s  # fires when the pattern has held for the timeout
        self._seen_trigger = False
        self.configure(":SINGle")

    def arm_edge(self, *, level: float = 50.0, slope: str = "POS",
                 channel: ChannelRef = Channel.LOAD_VOLTAGE, scale_s: float = 0.01) -> None:
        ch = self.input(channel)
        self.configure(f":TIMebase:SCALe {scale_s:g}", ":TRIGger:SWEep NORMal",
                       ":TRIGger:MODE EDGE", f":TRIGger:EDGE:SOURce CHANnel{ch}",
                       f":TRIGger:EDGE:LEVel {level:g}",
                       f":TRIGger:EDGE:SLOPe {'POSitive' if slope == 'POS' else 'NEGative'}")
        self._trigger_lag = 0.0
        self._seen_trigger = False
        self.configure(":SINGle")

    def triggered(self) -> bool:
        """:TER? answers +1 once after a trigger (reading clears it): kept until re-armed."""
        self._seen_trigger = self._seen_trigger or self.query_bool(":TER?")
        return self._seen_trigger

    def _delay_to_trigger(self, start: str, stop: str) -> float:
        # no acquisition or no edge: the InfiniiVision answers 9.9E+37, which query_number
        # refuses as a SCPI overload, naming the command
        return self.query_number(f":MEASure:DELay? CHANnel{start},CHANnel{stop}")

    def pulse_width(self, channel: ChannelRef = Channel.ENTER_SYNC) -> float:
        return self.query_number(f":MEASure:PWIDth? CHANnel{self.input(channel)}")

    def waveform(self, channel: ChannelRef = Channel.LOAD_VOLTAGE,
                 points: int = 1000) -> tuple[list[float], list[float]]:
        self.configure(f":WAVeform:SOURce CHANnel{self.input(channel)}",
                       ":WAVeform:FORMat ASCii", f":WAVeform:POINts {points}")
        pre = self.query_numbers(":WAVeform:PREamble?", 10)
        x_increment, x_origin = pre[4], pre[5]
        raw = self.query(":WAVeform:DATA?")
        data = self._checked(":WAVeform:DATA?", parse_block_header, raw)
        volts = self._checked(":WAVeform:DATA?", parse_numbers, data.strip().strip(","))
        times = [x_origin + i * x_increment for i in range(len(volts))]
        return times, volts
