"""Rigol MSO5000-series oscilloscope (commands from the MSO5000 Programming Guide).

Time base: :TIMebase:MAIN:SCALe and :TIMebase:MAIN:OFFSet (the screen centre's time from
the trigger point; down to -screen/2, the trigger at the screen's right edge).
Triggers: :TRIGger:MODE EDGE with :TRIGger:EDGE:* (the InfiniiVision's commands too: the
base class arms it), and TIMeout with :TRIGger:TIMeout:*:
a timeout trigger starts timing when the signal crosses the level with the chosen slope and
fires when it has not crossed back within the timeout, so on the load voltage it fires that
long after the supply's last crossing, and the driver subtracts it. :TRIGger:STATus? answers
TD, WAIT, RUN, AUTO or STOP (a single acquisition that has triggered ends in STOP).
Measurements: :MEASure:ITEM? <item>,<source>[,<source>] (RRDelay: rising edge of the first
source to the second; PWIDth: positive pulse width); an item that cannot be measured answers
9.9E37. Waveforms: :WAVeform:MODE NORMal, :WAVeform:FORMat ASCii, a 10-field preamble and a
TMC block (#9 and nine length digits) of comma-separated values; in NORMal mode the screen
is 1000 points (XINCrement = TimeScale/100).
"""

from __future__ import annotations

from typing import ClassVar

from drivers.instruments.accuracy import Accuracy, Specification
from drivers.instruments.errors import AnswerError
from drivers.instruments.scope import Channel, ChannelRef, Scope

__all__ = ["RigolMso5000"]


class RigolMso5000(Scope):
    """Rigol MSO5000 (MSO5072/5074/5104/5204/5354): two inputs used, CH1 and CH2."""

    MODEL = "rigol-mso5000"
    DESIGNATION = "Rigol MSO5000-series digital oscilloscope"
    # Rigol MSO5000 performance verification ("Time Base Accuracy Test"): time base
    # ±(10 ppm + 10 ppm/year aging), 20 ppm over the first year; a time read from the
    # 1000-point screen record is good to one point, 0.1 % of the screen width.
    ACCURACY: ClassVar[Accuracy] = {
        "time_interval": Specification(0.002, 0.1, (0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
                                       source="Rigol MSO5000 Performance Verification "
                                              "Guide, time base accuracy; Programming "
                                              "Guide :WAVeform:XINCrement (1000 points)"),
    }

    TIMEBASE = ":TIMebase:MAIN:SCALe"
    POSITION = ":TIMebase:MAIN:OFFSet"  # the screen centre from the trigger, >= -screen/2

    def arm_dropout(self, *, level: float = 50.0, hold_s: float = 0.05,
                    channel: ChannelRef = Channel.LOAD_VOLTAGE, scale_s: float = 0.01,
                    position_s: float = 0.0) -> None:
        ch = self.input(channel)
        self._arm(scale_s, (":TRIGger:MODE TIMeout", f":TRIGger:TIMeout:SOURce CHANnel{ch}",
                            ":TRIGger:TIMeout:SLOPe NEGative",
                            f":TRIGger:TIMeout:LEVel {level:g}",
                            f":TRIGger:TIMeout:TIME {hold_s:g}"),
                  lag=hold_s, position_s=position_s)  # it fires when the timer runs out

    def triggered(self) -> bool:
        """Armed (WAIT) until it triggers; a single acquisition then stops (TD, STOP). A
        scope not armed has not triggered, whatever it shows."""
        if not self._armed:
            return False
        status = self.query(":TRIGger:STATus?").strip().upper()
        if status not in ("TD", "WAIT", "RUN", "AUTO", "STOP"):
            raise AnswerError(f"{self._where()}: :TRIGger:STATus?: answer {status!r} is not "
                              "TD, WAIT, RUN, AUTO or STOP", command=":TRIGger:STATus?",
                              received=status.encode("ascii", "backslashreplace"))
        return status in ("TD", "STOP")

    def _delay_to_trigger(self, start: str, stop: str) -> float:
        return self.query_number(f":MEASure:ITEM? RRDelay,CHANnel{start},CHANnel{stop}")

    def pulse_width(self, channel: ChannelRef = Channel.ENTER_SYNC) -> float:
        return self.query_number(f":MEASure:ITEM? PWIDth,CHANnel{self.input(channel)}")

    def waveform(self, channel: ChannelRef = Channel.LOAD_VOLTAGE,
                 points: int = 1000) -> tuple[list[float], list[float]]:
        """The screen's 1000 points (NORMal mode has no point count to choose)."""
        return self._read_waveform(f":WAVeform:SOURce CHANnel{self.input(channel)}",
                                   ":WAVeform:MODE NORMal", ":WAVeform:FORMat ASCii")
