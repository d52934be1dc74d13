"""The emulated Keysight InfiniiVision 3000T X-series scope: its own command set.

From the InfiniiVision 3000T X-Series Programmer's Guide: :TIMebase:SCALe/POSition,
:TRIGger:MODE {EDGE|PATTern}, :TRIGger:EDGE:SOURce/LEVel/SLOPe (LEVel takes an optional
source: the pattern trigger's thresholds), :TRIGger:PATTern "<string>" with
:TRIGger:PATTern:QUALifier and :GREaterthan, :TRIGger:SWEep, :SINGle, :RUN, :STOP, :TER?
(the trigger event register: +1 once after a trigger, cleared by the read),
:MEASure:DELay? and :MEASure:PWIDth? (+9.9E+37 when there is nothing to measure),
:WAVeform:SOURce/FORMat/POINts, a 10-field :WAVeform:PREamble? and :WAVeform:DATA? as a
definite-length block of ASCii values. The error queue prints +0,"No error" and the
standard texts (-113,"Undefined header").
"""

from __future__ import annotations

from emulator.model import BenchModel
from emulator.scpi.scope_acquisition import Acquisition, channel
from emulator.scpi.server import ScpiDevice, ScpiError, SignedErrors, choice, definite_block, number

NOTHING = "+9.9E+37"  # the InfiniiVision's answer for a measurement it cannot make


def measured(value: float | None) -> str:
    return NOTHING if value is None else f"{value:+.9E}"


class InfiniiVisionDevice(SignedErrors, ScpiDevice):
    ROLE = "scope"
    MODEL = "keysight-infiniivision"
    DESIGNATION = "Keysight InfiniiVision 3000T X-series oscilloscope"
    idn = "KEYSIGHT TECHNOLOGIES,MSO-X 3024T,MY58490001,07.50.2021102830"

    def __init__(self, model: BenchModel) -> None:
        super().__init__()
        self.acq = Acquisition(model)
        self.reset()
        a, c = self.acq, self.command
        c("TIMebase:SCALe", False, lambda x: self._set_on(a, "scale", number(x, 2e-9, 50,
                                                                          "scale")))
        c("TIMebase:SCALe", True, lambda x: f"{a.scale:+.6E}")
        c("TIMebase:POSition", False, lambda x: self._set_on(a, "position",
                                                             number(x, -500, 500, "position")))
        c("TIMebase:POSition", True, lambda x: f"{a.position:+.6E}")
        c("TRIGger:MODE", False, lambda x: self._set("mode", choice(
            x, {"EDGE": "EDGE", "PATT": "PATT", "PATTERN": "PATT"}, "mode")))
        c("TRIGger:MODE", True, lambda x: self.mode)
        c("TRIGger:SWEep", False, lambda x: choice(
            x, {"AUTO": "AUTO", "NORM": "NORM", "NORMAL": "NORM"}, "sweep") and None)
        c("TRIGger[:EDGE]:SOURce", False, lambda x: self._set("edge_source", channel(x)))
        c("TRIGger[:EDGE]:SOURce", True, lambda x: f"CHAN{self.edge_source}")
        c("TRIGger[:EDGE]:LEVel", False, self._level)
        c("TRIGger[:EDGE]:LEVel", True, lambda x: f"{self.levels[self.edge_source]:+.6E}")
        c("TRIGger[:EDGE]:SLOPe", False, lambda x: self._set("slope", choice(
            x, {"POS": "POS", "POSITIVE": "POS", "NEG": "NEG", "NEGATIVE": "NEG"}, "slope")))
        c("TRIGger[:EDGE]:SLOPe", True, lambda x: self.slope)
        c("TRIGger:PATTern", False, self._pattern)
        c("TRIGger:PATTern", True, lambda x: f'"{self.pattern}"')
        c("TRIGger:PATTern:QUALifier", False, lambda x: self._set("qualifier", choice(
            x, {"ENT": "ENT", "ENTERED": "ENT", "GRE": "GRE", "GREATERTHAN": "GRE",
                "LESS": "LESS", "LESSTHAN": "LESS", "TIM": "TIM", "TIMEOUT": "TIM"},
            "qualifier")))
        c("TRIGger:PATTern:QUALifier", True, lambda x: self.qualifier)
        c("TRIGger:PATTern:GREaterthan", False, lambda x: self._set(
            "greater", number(x, 2e-9, 10, "time")))
        c("TRIGger:PATTern:GREaterthan", True, lambda x: f"{self.greater:+.6E}")
        c("SINGle", False, lambda x: self._single())
        c("RUN", False, lambda x: None)
        c("STOP", False, lambda x: None)
        c("TER", True, lambda x: self._ter())
        c("MEASure:DELay", True, self._delay)
        c("MEASure:PWIDth", True, lambda x: measured(a.pulse_width(channel(x))))
        c("WAVeform:SOURce", False, lambda x: self._set("wave_source", channel(x)))
        c("WAVeform:SOURce", True, lambda x: f"CHAN{self.wave_source}")
        c("WAVeform:FORMat", False, lambda x: self._set("wave_format", choice(
            x, {"ASC": "ASC", "ASCII": "ASC", "BYTE": "BYTE", "WORD": "WORD"}, "format")))
        c("WAVeform:FORMat", True, lambda x: self.wave_format)
        c("WAVeform:POINts", False, lambda x: self._set("points",
                                                        int(number(x, 100, 8_000_000,
                                                                   "points"))))
        c("WAVeform:POINts", True, lambda x: str(self.points))
        c("WAVeform:PREamble", True, lambda x: self._preamble())
        c("WAVeform:DATA", True, lambda x: self._data())

    def reset(self) -> None:
        self.acq.reset()
        self.acq.scale = 1e-4
        self.mode = "EDGE"
        self.edge_source = 1
        self.levels = {1: 0.0, 2: 0.0}
        self.slope = "POS"
        self.pattern = "XX"
        self.qualifier = "ENT"
        self.greater = 2e-9
        self.wave_source = 1
        self.wave_format = "BYTE"
        self.points = 1000
        self.event = False

    @staticmethod
    def _set_on(target: object, name: str, value: object) -> None:
        setattr(target, name, value)

    def _level(self, args: list[str]) -> None:
        level = number(args, -1000, 1000, "level")
        src = channel(args, 1) if len(args) > 1 else self.edge_source
        self.levels[src] = level

    def _pattern(self, args: list[str]) -> None:
        text = args[0].strip().strip('"').upper() if args else ""
        if len(text) != 2 or any(ch not in "01XRF" for ch in text):
            raise ScpiError(-224, f"Illegal parameter value: pattern {text!r}")
        self.pattern = text

    def _single(self) -> None:
        a = self.acq
        if self.mode == "EDGE":
            a.kind, a.source, a.slope = "EDGE", self.edge_source, self.slope
            a.level = self.levels[self.edge_source]
        else:  # one channel low, held past the timeout: what this bench's dropout needs
            lows = [i + 1 for i, ch in enumerate(self.pattern) if ch == "0"]
            if len(lows) != 1 or self.qualifier != "TIM":
                raise ScpiError(-221, "Settings conflict")
            a.kind, a.source, a.hold = "TIMEOUT", lows[0], self.greater
            a.level = self.levels[lows[0]]
        self.event = False
        a.arm()

    def _ter(self) -> str:
        if not self.event and self.acq.armed and self.acq.trigger() is not None:
            self.event = True  # read once: the register clears on the read
            return "+1"
        return "+0"

    def _delay(self, args: list[str]) -> str:
        if len(args) != 2:
            raise ScpiError(-109, "Missing parameter")
        start, _stop = channel(args, 0), channel(args, 1)
        return measured(self.acq.delay(start))

    def _preamble(self) -> str:
        origin, step = self.acq.window(self.points)
        fmt_code = {"BYTE": 0, "WORD": 1, "ASC": 4}[self.wave_format]
        return (f"{fmt_code},0,{self.points},1,{step:+.9E},{origin:+.9E},0,"
                f"{1.0:+.6E},{0.0:+.6E},0")

    def _data(self) -> str:
        if self.wave_format != "ASC":
            raise ScpiError(-221, "Settings conflict")  # the rig reads ASCii only
        values = self.acq.samples(self.wave_source, self.points)
        if values is None:
            raise ScpiError(-230, "Data corrupt or stale")
        return definite_block(",".join(f"{v:+.6E}" for v in values))
