"""Emulated AC electronic loads of real models, each answering its manual's command set.

- Chroma 63800 series (63802/63803/63804): "Programmable AC/DC Electronic Load 63800 Series
  Operation & Programming Manual", ch. 8 Remote Operation: `*IDN?` answers four fields
  (`Chroma,63804,0,1.00`); `[LOAD:]MODE` 0|CURR, 1|POW, 2|VOLT, 3|RES, 4|RLC, 5|RLCP,
  6|INRUSH, 7|RECT (query answers CURR, POW, VOLT, RES, RLC, RLCPOW, INRUSH, RECT);
  `[LOAD:]CURRent`, `[LOAD:]CURRent:PEAK:MAXimum`, `[LOAD:]POWer`, `LOAD[:STATe]` ON|OFF,
  `MEASure|FETCh[:SCALar]:VOLTage?|CURRent?|POWer?`. Ratings (63800 series data sheet, Key
  Features; PROTect? bits OCP/OPP): 63803 36 A rms, 108 A peak, 3600 W, 50-350 V rms.
  The emulated bench models constant current and constant power (resistive, PF 1); the
  manual's other modes are refused here as a settings conflict, naming the mode.
- ITECH IT8600 series (IT8615/IT8616/IT8617): "Programmable AC/DC Electronic Load
  Programming Guide for IT8600 Series" (IT8600-402266): `[SOURce:]FUNCtion`,
  `[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]`, `[SOURce:]POWer[:LEVel][:IMMediate]
  [:AMPLitude]` (answers NR3), `[SOURce:]INPut[:STATe]`, `MEASure[:SCALar]:VOLTage[:RMS]?`,
  `:CURRent[:RMS]?`, `:POWer[:ACTive]?`. IT8615: 420 V rms, 20 A rms, 1800 W.
"""

from __future__ import annotations

from typing import ClassVar

from emulator.model import BenchModel
from emulator.scpi.server import BenchDevice, ScpiError, boolean, choice, nr2, nr3, number


class _EmulatedLoad(BenchDevice):
    ROLE = "load"
    MAX_CURRENT = 0.0
    MAX_POWER = 0.0

    def reset(self) -> None:
        self.model.set_load(mode="CURR", current=0.0, power=0.0, on=False)

    def _current(self, args: list[str]) -> None:
        self.model.set_load(current=number(args, 0, self.MAX_CURRENT, "current"))

    def _power(self, args: list[str]) -> None:
        self.model.set_load(power=number(args, 0, self.MAX_POWER, "power"))


class Chroma63800Device(_EmulatedLoad):
    """A Chroma 63803 (36 A rms, 108 A peak, 3600 W)."""

    MODEL = "chroma-63800"
    DESIGNATION = "Chroma 63802/63803/63804 (63800 series)"
    idn = "Chroma,63803,638030001234,1.00"
    TERSE_ERRORS = True
    MAX_CURRENT, MAX_PEAK, MAX_POWER = 36.0, 108.0, 3600.0
    # the manual's mode numbers and words -> the mode
    _MODES: ClassVar[dict[str, str]] = {
        **{str(i): m for i, m in enumerate(("CURR", "POW", "VOLT", "RES", "RLC", "RLCP",
                                            "INRUSH", "RECT"))},
        **{m: m for m in ("CURR", "POW", "VOLT", "RES", "RLC", "RLCP", "INRUSH", "RECT")}}

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        self.peak_max = self.MAX_PEAK
        m, c = model, self.command
        c("[LOAD:]MODE", False, self._mode)
        c("[LOAD:]MODE", True, lambda a: m.load().mode)
        c("[LOAD:]CURRent", False, self._current)
        c("[LOAD:]CURRent", True, lambda a: nr2(m.load().current, 3))
        c("[LOAD:]CURRent:PEAK:MAXimum", False,
          lambda a: self._set("peak_max", number(a, 0, self.MAX_PEAK, "peak current")))
        c("[LOAD:]CURRent:PEAK:MAXimum", True, lambda a: nr2(self.peak_max, 2))
        c("[LOAD:]POWer", False, self._power)
        c("[LOAD:]POWer", True, lambda a: nr2(m.load().power, 1))
        c("LOAD[:STATe]", False, lambda a: m.set_load(on=boolean(a, "load")))
        c("LOAD[:STATe]", True, lambda a: "1" if m.load().on else "0")
        self.readings({"VOLTage": lambda a: nr2(m.measure().load_v, 2),
                       "CURRent": lambda a: nr2(m.measure().load_i, 4),
                       "POWer": lambda a: nr2(m.measure().load_p, 2)})

    def reset(self) -> None:
        super().reset()
        self.peak_max = self.MAX_PEAK

    def _mode(self, args: list[str]) -> None:
        mode = choice(args, self._MODES, "mode")
        if mode not in ("CURR", "POW"):
            raise ScpiError(-221, f"Settings conflict: mode {mode} is not emulated")
        self.model.set_load(mode=mode)


class ItechIT8600Device(_EmulatedLoad):
    """An ITECH IT8615 (420 V rms, 20 A rms, 1800 W)."""

    MODEL = "itech-it8600"
    DESIGNATION = "ITECH IT8615/IT8616/IT8617 (IT8600 series)"
    idn = "ITECH Ltd.,IT8615,800615011234567890,1.03-1.01"
    TERSE_ERRORS = True
    MAX_CURRENT, MAX_POWER = 20.0, 1800.0
    _FUNCTIONS: ClassVar[dict[str, str]] = {
        "CURR": "CURR", "CURRENT": "CURR", "POW": "POW", "POWER": "POW", "RES": "RES",
        "RESISTANCE": "RES", "VOLT": "VOLT", "VOLTAGE": "VOLT"}

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        m, c = model, self.command
        c("[SOURce:]FUNCtion", False, self._function)
        c("[SOURce:]FUNCtion", True, lambda a: m.load().mode)
        c("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]", False, self._current)
        c("[SOURce:]CURRent[:LEVel][:IMMediate][:AMPLitude]", True,
          lambda a: nr3(m.load().current, 5))
        c("[SOURce:]POWer[:LEVel][:IMMediate][:AMPLitude]", False, self._power)
        c("[SOURce:]POWer[:LEVel][:IMMediate][:AMPLitude]", True,
          lambda a: nr3(m.load().power, 5))
        c("[SOURce:]INPut[:STATe]", False, lambda a: m.set_load(on=boolean(a, "input")))
        c("[SOURce:]INPut[:STATe]", True, lambda a: "1" if m.load().on else "0")
        self.readings({"VOLTage[:RMS]": lambda a: nr3(m.measure().load_v, 5),
                       "CURRent[:RMS]": lambda a: nr3(m.measure().load_i, 5),
                       "POWer[:ACTive]": lambda a: nr3(m.measure().load_p, 5)})

    def _function(self, args: list[str]) -> None:
        mode = choice(args, self._FUNCTIONS, "function")
        if mode not in ("CURR", "POW"):
            raise ScpiError(-221, f"Settings conflict: function {mode} is not emulated")
        self.model.set_load(mode=mode)
