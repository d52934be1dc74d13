"""Oscilloscopes / timers: the relay's edge on the load voltage, and its delay after ENTER.

Channel 1 sees the load-side voltage, channel 2 the keypad injector's ENTER sync line. A
dropout trigger on channel 1 catches the supply vanishing when the relay opens; the delay
from the last rising edge on channel 2 is the meter's response time to a keypad command.
"""

from __future__ import annotations

import time

from drivers.instruments.answers import parse_block_header, parse_numbers
from drivers.instruments.base import InstrumentError, InstrumentTimeout, ScpiInstrument


class Scope(ScpiInstrument):
    """Generic scope (the emulated bench's command set)."""

    role = "scope"

    def arm_dropout(self, *, level: float = 50.0, hold_s: float = 0.05, channel: int = 1,
                    scale_s: float = 0.01) -> None:
        """Arm one acquisition that triggers when CH`channel` stays within +/-level."""
        self.write(f":TIM:SCAL {scale_s:g}")
        self.write(f":TRIG:SOUR CHAN{channel}")
        self.write(":TRIG:TYPE DROP")
        self.write(f":TRIG:LEV {level:g}")
        self.write(f":TRIG:DROP:TIME {hold_s:g}")
        self.write(":SING")

    def arm_edge(self, *, level: float = 50.0, slope: str = "POS", channel: int = 1,
                 scale_s: float = 0.01) -> None:
        """Arm one acquisition on an edge of CH`channel`."""
        self.write(f":TIM:SCAL {scale_s:g}")
        self.write(f":TRIG:SOUR CHAN{channel}")
        self.write(":TRIG:TYPE EDGE")
        self.write(f":TRIG:SLOP {slope}")
        self.write(f":TRIG:LEV {level:g}")
        self.write(":SING")

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

    def trigger_time(self) -> float:
        """The trigger point, on the bench clock (emulated bench extension)."""
        return self.query_number(":TRIG:TIME?")

    def delay(self, start_channel: int = 2, stop_channel: int = 1) -> float:
        """Seconds from the last rising edge of `start_channel` to the trigger point."""
        return self.query_number(f":MEAS:DEL? CHAN{start_channel},CHAN{stop_channel}")

    def pulse_width(self, channel: int = 2) -> float:
        """Measure the last positive pulse's width on `channel` (s): how long ENTER was
        really held, from the injector's sync line, not from the press time it was given."""
        return self.query_number(f":MEAS:PWID? CHAN{channel}")

    def waveform(self, channel: int = 1, points: int = 1000) -> tuple[list[float], list[float]]:
        """(times relative to the trigger, volts) of the last acquisition."""
        self.write(f":WAV:SOUR CHAN{channel}")
        self.write(f":WAV:POIN {points}")
        _n, step, origin = self.query_numbers(":WAV:PRE?", 3)
        volts = self.query_numbers(":WAV:DATA?")
        times = [origin + i * step for i in range(len(volts))]
        return times, volts


class KeysightInfiniiVision(Scope):
    """Keysight InfiniiVision 2000/3000 X: edge trigger, :SINGle, :TER?, :MEASure:DELay,
    :WAVeform in ASCii with the 10-field preamble. InfiniiVision has no dropout trigger
    type; a falling edge on the last half-cycle is used instead."""

    def arm_dropout(self, *, level: float = 50.0, hold_s: float = 0.05, channel: int = 1,
                    scale_s: float = 0.01) -> None:
        self.write(f":TIMebase:SCALe {scale_s:g}")
        self.write(":TRIGger:MODE EDGE")
        self.write(f":TRIGger:EDGE:SOURce CHANnel{channel}")
        self.write(f":TRIGger:EDGE:LEVel {level:g}")
        self.write(":TRIGger:EDGE:SLOPe NEGative")
        self.write(":TRIGger:SWEep NORMal")
        self.write(":SINGle")

    def arm_edge(self, *, level: float = 50.0, slope: str = "POS", channel: int = 1,
                 scale_s: float = 0.01) -> None:
        self.write(f":TIMebase:SCALe {scale_s:g}")
        self.write(":TRIGger:MODE EDGE")
        self.write(f":TRIGger:EDGE:SOURce CHANnel{channel}")
        self.write(f":TRIGger:EDGE:LEVel {level:g}")
        self.write(f":TRIGger:EDGE:SLOPe {'POSitive' if slope == 'POS' else 'NEGative'}")
        self.write(":SINGle")

    def trigger_time(self) -> float:
        raise InstrumentError("an InfiniiVision has no absolute trigger timestamp; "
                              "use delay() between two channels")

    def delay(self, start_channel: int = 2, stop_channel: int = 1) -> float:
        return self.query_number(f":MEASure:DELay? CHANnel{start_channel},CHANnel{stop_channel}")

    def pulse_width(self, channel: int = 2) -> float:
        return self.query_number(f":MEASure:PWIDth? CHANnel{channel}")

    def waveform(self, channel: int = 1, points: int = 1000) -> tuple[list[float], list[float]]:
        self.write(f":WAVeform:SOURce CHANnel{channel}")
        self.write(":WAVeform:FORMat ASCii")
        self.write(f":WAVeform:POINts {points}")
        pre = self.query_numbers(":WAVeform:PREamble?", 10)
        x_increment, x_origin = pre[4], pre[5]
        raw = self.query(":WAVeform:DATA?")
        data = self._checked(":WAVeform:DATA?", parse_block_header, raw)
        volts = self._checked(":WAVeform:DATA?", parse_numbers, data.strip().strip(","))
        times = [x_origin + i * x_increment for i in range(len(volts))]
        return times, volts
