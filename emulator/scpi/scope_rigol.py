"""The emulated Rigol MSO5000-series scope: its own command set.

From the MSO5000 Programming Guide: :TIMebase:MAIN:SCALe/OFFSet, :TRIGger:MODE
{EDGE|TIMeout}, :TRIGger:EDGE:SOURce/SLOPe/LEVel, :TRIGger:TIMeout:SOURce/SLOPe/TIME/LEVel
(the timeout trigger fires when the signal has not crossed back through the level within
the time after crossing it with the slope), :TRIGger:SWEep, :SINGle, :RUN, :STOP,
:TRIGger:STATus? (TD, WAIT, RUN, AUTO, STOP), :MEASure:ITEM? <item>,<source>[,<source>]
(RRDelay, PWIDth; 9.9E37 when the item cannot be measured), :WAVeform:SOURce/MODE/FORMat,
a 10-field :WAVeform:PREamble? and :WAVeform:DATA? as a TMC block (#9 and nine digits of
length) of comma-separated values; NORMal mode reads the screen's 1000 points
(XINCrement = TimeScale/100). The error queue answers 0,"No error" and the standard texts.
"""

from __future__ import annotations

from emulator.model import BenchModel
from emulator.scpi.scope_acquisition import Acquisition, channel
from emulator.scpi.server import ScpiDevice, ScpiError, choice, number

NOTHING = "9.9E37"
SCREEN_POINTS = 1000
SLOPES = {"POS": "POS", "POSITIVE": "POS", "NEG": "NEG", "NEGATIVE": "NEG",
          "RFAL": "RFAL", "RFALL": "RFAL"}


def tmc_block(payload: str) -> str:
    """Rigol's TMC header: '#9' and the payload's length in nine digits."""
    return f"#9{len(payload.encode('latin-1')):09d}{payload}"


class RigolMso5000Device(ScpiDevice):
    ROLE = "scope"
    MODEL = "rigol-mso5000"
    DESIGNATION = "Rigol MSO5000-series digital oscilloscope"
    idn = "RIGOL TECHNOLOGIES,MSO5074,MS5A244900001,00.01.03.00.03"
    TERSE_ERRORS = True

    def __init__(self, model: BenchModel) -> None:
        super().__init__()
        self.acq = Acquisition(model)
        self.reset()
        a, c = self.acq, self.command
        c("TIMebase[:MAIN]:SCALe", False, lambda x: setattr(a, "scale", number(
            x, 1e-9, 1000, "scale")))
        c("TIMebase[:MAIN]:SCALe", True, lambda x: f"{a.scale:.6E}")
        c("TIMebase[:MAIN]:OFFSet", False, lambda x: setattr(a, "position", number(
            x, -1000, 1000, "offset")))
        c("TIMebase[:MAIN]:OFFSet", True, lambda x: f"{a.position:.6E}")
        c("TRIGger:MODE", False, lambda x: self._set("mode", choice(
            x, {"EDGE": "EDGE", "TIM": "TIM", "TIMEOUT": "TIM"}, "mode")))
        c("TRIGger:MODE", True, lambda x: self.mode)
        c("TRIGger:SWEep", False, lambda x: choice(
            x, {"AUTO": "AUTO", "NORM": "NORM", "NORMAL": "NORM", "SING": "SING",
                "SINGLE": "SING"}, "sweep") and None)
        c("TRIGger:EDGE:SOURce", False, lambda x: self._set("edge_source", channel(x)))
        c("TRIGger:EDGE:SOURce", True, lambda x: f"CHAN{self.edge_source}")
        c("TRIGger:EDGE:SLOPe", False, lambda x: self._set("edge_slope",
                                                           choice(x, SLOPES, "slope")))
        c("TRIGger:EDGE:SLOPe", True, lambda x: self.edge_slope)
        c("TRIGger:EDGE:LEVel", False, lambda x: self._set("edge_level", number(
            x, -1000, 1000, "level")))
        c("TRIGger:EDGE:LEVel", True, lambda x: f"{self.edge_level:.6E}")
        c("TRIGger:TIMeout:SOURce", False, lambda x: self._set("tmo_source", channel(x)))
        c("TRIGger:TIMeout:SOURce", True, lambda x: f"CHAN{self.tmo_source}")
        c("TRIGger:TIMeout:SLOPe", False, lambda x: self._set("tmo_slope",
                                                              choice(x, SLOPES, "slope")))
        c("TRIGger:TIMeout:SLOPe", True, lambda x: self.tmo_slope)
        c("TRIGger:TIMeout:TIME", False, lambda x: self._set("tmo_time", number(
            x, 16e-9, 10, "time")))
        c("TRIGger:TIMeout:TIME", True, lambda x: f"{self.tmo_time:.6E}")
        c("TRIGger:TIMeout:LEVel", False, lambda x: self._set("tmo_level", number(
            x, -1000, 1000, "level")))
        c("TRIGger:TIMeout:LEVel", True, lambda x: f"{self.tmo_level:.6E}")
        c("SINGle", False, lambda x: self._single())
        c("RUN", False, lambda x: self._set("running", True))
        c("STOP", False, lambda x: self._set("running", False))
        c("TRIGger:STATus", True, lambda x: self._status())
        c("MEASure:ITEM", True, self._item)
        c("WAVeform:SOURce", False, lambda x: self._set("wave_source", channel(x)))
        c("WAVeform:SOURce", True, lambda x: f"CHAN{self.wave_source}")
        c("WAVeform:MODE", False, lambda x: self._set("wave_mode", choice(
            x, {"NORM": "NORM", "NORMAL": "NORM", "RAW": "RAW", "MAX": "MAX",
                "MAXIMUM": "MAX"}, "mode")))
        c("WAVeform:MODE", True, lambda x: self.wave_mode)
        c("WAVeform:FORMat", False, lambda x: self._set("wave_format", choice(
            x, {"ASC": "ASC", "ASCII": "ASC", "BYTE": "BYTE", "WORD": "WORD"}, "format")))
        c("WAVeform:FORMat", True, lambda x: self.wave_format)
        c("WAVeform:PREamble", True, lambda x: self._preamble())
        c("WAVeform:DATA", True, lambda x: self._data())

    def reset(self) -> None:
        self.acq.reset()
        self.mode = "EDGE"
        self.edge_source, self.edge_slope, self.edge_level = 1, "POS", 0.0
        self.tmo_source, self.tmo_slope, self.tmo_time, self.tmo_level = 1, "POS", 1e-6, 0.0
        self.running = True
        self.wave_source, self.wave_mode, self.wave_format = 1, "NORM", "BYTE"

    def _single(self) -> None:
        a = self.acq
        if self.mode == "EDGE":
            a.kind, a.source, a.level = "EDGE", self.edge_source, self.edge_level
            a.slope = "NEG" if self.edge_slope == "NEG" else "POS"
        else:
            a.kind, a.source, a.level = "TIMEOUT", self.tmo_source, self.tmo_level
            a.hold = self.tmo_time
        self.running = False
        a.arm()

    def _status(self) -> str:
        if self.acq.armed:
            return "STOP" if self.acq.trigger() is not None else "WAIT"
        return "AUTO" if self.running else "STOP"

    def _item(self, args: list[str]) -> str:
        if not args:
            raise ScpiError(-109, "Missing parameter")
        item = args[0].strip().upper()
        if item in ("RRD", "RRDELAY"):
            if len(args) != 3:
                raise ScpiError(-109, "Missing parameter")
            start, _stop = channel(args, 1), channel(args, 2)
            value = self.acq.delay(start)
        elif item in ("PWID", "PWIDTH"):
            value = self.acq.pulse_width(channel(args, 1))
        else:
            raise ScpiError(-224, f"Illegal parameter value: {args[0]!r}")
        return NOTHING if value is None else f"{value:.9E}"

    def _preamble(self) -> str:
        origin, step = self.acq.window(SCREEN_POINTS)
        step = self.acq.scale / 100.0  # NORMal mode: TimeScale/100
        fmt_code = {"WORD": 1, "BYTE": 0, "ASC": 2}[self.wave_format]
        return (f"{fmt_code},0,{SCREEN_POINTS},1,{step:.6E},{origin:.6E},0,"
                f"{1.0:.6E},{0.0:.6E},0")

    def _data(self) -> str:
        if self.wave_format != "ASC" or self.wave_mode != "NORM":
            raise ScpiError(-221, "Settings conflict")  # the rig reads the screen in ASCii
        origin, _step = self.acq.window(SCREEN_POINTS)
        a = self.acq
        t0 = a.trigger()
        if t0 is None:
            raise ScpiError(-230, "Data corrupt or stale")
        step = a.scale / 100.0
        values = [a.model.sample(self.wave_source, t0 + origin + i * step)
                  for i in range(SCREEN_POINTS)]
        return tmc_block(",".join(f"{v:.6E}" for v in values))
