"""The emulated Yokogawa WT310E power meter at the load terminals: its own command set.

From the WT310E/WT310EH/WT332E/WT333E Communication Interface User's Manual (IM WT310E-17EN):
the error queue is read with :STATus:ERRor? (it has no :SYSTem:ERRor?), its codes are
positive (113,"Undefined header") and the empty queue answers 0,"No error".
:COMMunicate:HEADer, :INPut:VOLTage:RANGe / :INPut:CURRent:RANGe (15..600 V, 0.5..20 A;
units may follow the number), :NUMeric:FORMat, :NUMeric:NORMal:NUMber and :ITEM<x>
<function>[,<element>], :NUMeric:NORMal:VALue? (the items' values, NR3, comma-separated),
and the integrator: :INTEGrate:MODE {NORMal|CONTinuous}, :INTEGrate:TIMer <h>,<m>,<s>,
:INTEGrate:STARt / :STOP / :RESet, :INTEGrate:STATe? (RESET, START, STOP). The integrator
reads the energy the bench model says went through the load (its own clock: the bench's).
"""

from __future__ import annotations

import re

from emulator.model import BenchModel
from emulator.scpi.server import ScpiDevice, ScpiError, choice, number

VOLTAGE_RANGES = (15.0, 30.0, 60.0, 150.0, 300.0, 600.0)
CURRENT_RANGES = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
ITEMS = 20  # :NUMeric:NORMal:ITEM1..ITEM20 served (the instrument has up to 255)
FUNCTIONS = ("U", "I", "P", "S", "Q", "LAMBDA", "FU", "FI", "WH", "WHP", "WHM", "AH",
             "TIME")


def with_unit(args: list[str], unit: str, allowed: tuple[float, ...], what: str) -> float:
    """A range with an optional unit (`300V`, `20A`): one of `allowed`, else 224."""
    if not args:
        raise ScpiError(-109, "Missing parameter")
    match = re.fullmatch(rf"([0-9.]+(?:E[+-]?\d+)?)\s*(M)?{unit}?", args[0].strip().upper())
    if match is None:
        raise ScpiError(-104, f"Data type error: {what} {args[0]!r}")
    value = float(match.group(1)) * (1e-3 if match.group(2) else 1.0)
    if value not in allowed:
        raise ScpiError(-224, f"Illegal parameter value: {what} {value:g}")
    return value


class YokogawaWt310eDevice(ScpiDevice):
    ROLE = "power_meter"
    MODEL = "yokogawa-wt310e"
    DESIGNATION = "Yokogawa WT310E digital power meter (WT300E series)"
    idn = "YOKOGAWA,760201,91R000001,F3.01"
    TERSE_ERRORS = True

    def error_entry(self, code: int, text: str) -> str:
        return f'{abs(code)},"{text}"'  # Yokogawa's codes carry no sign

    def __init__(self, model: BenchModel) -> None:
        super().__init__()
        # this model reads its errors with :STATus:ERRor?; it has no :SYSTem:ERRor?
        self._commands = [entry for entry in self._commands
                          if [n[1] for n in entry[0]][:2] != ["SYSTEM", "ERROR"]]
        self.model = model
        self.reset()
        c = self.command
        c("STATus:ERRor", True, lambda a: self._next_error())
        c("COMMunicate:HEADer", False, lambda a: self._set("header", choice(
            a, {"ON": True, "1": True, "OFF": False, "0": False}, "header")))
        c("[INPut:]VOLTage:RANGe", False, lambda a: self._set(
            "v_range", with_unit(a, "V", VOLTAGE_RANGES, "voltage range")))
        c("[INPut:]VOLTage:RANGe", True, lambda a: self._head(":INP:VOLT:RANG",
                                                             f"{self.v_range:.1E}"))
        c("[INPut:]CURRent:RANGe", False, lambda a: self._set(
            "i_range", with_unit(a, "A", CURRENT_RANGES, "current range")))
        c("[INPut:]CURRent:RANGe", True, lambda a: self._head(":INP:CURR:RANG",
                                                             f"{self.i_range:.1E}"))
        c("NUMeric:FORMat", False, lambda a: self._set("num_format", choice(
            a, {"ASC": "ASC", "ASCII": "ASC", "FLO": "FLO", "FLOAT": "FLO"}, "format")))
        c("NUMeric[:NORMal]:NUMber", False, lambda a: self._set(
            "count", int(number(a, 1, ITEMS, "number"))))
        c("NUMeric[:NORMal]:NUMber", True, lambda a: str(self.count))
        for x in range(1, ITEMS + 1):
            c(f"NUMeric[:NORMal]:ITEM{x}", False, lambda a, x=x: self._item(x, a))
        c("NUMeric[:NORMal]:VALue", True, lambda a: self._values())
        c("INTEGrate:MODE", False, lambda a: self._set("mode", choice(
            a, {"NORM": "NORM", "NORMAL": "NORM", "CONT": "CONT", "CONTINUOUS": "CONT"},
            "mode")))
        c("INTEGrate:MODE", True, lambda a: self._head(":INTEG:MODE", self.mode))
        c("INTEGrate:TIMer", False, self._timer)
        c("INTEGrate:STARt", False, lambda a: self._start())
        c("INTEGrate:STOP", False, lambda a: self._stop())
        c("INTEGrate:RESet", False, lambda a: self._reset_integrator())
        c("INTEGrate:STATe", True, lambda a: self.state)

    def reset(self) -> None:
        self.header = True
        self.v_range, self.i_range = 600.0, 20.0
        self.num_format = "ASC"
        self.count = 15
        self.items: dict[int, str] = {1: "U", 2: "I", 3: "P"}
        self.mode = "NORM"
        self.timer_s = 0.0
        self._reset_integrator(force=True)

    def _head(self, header: str, value: str) -> str:
        return f"{header} {value}" if self.header else value

    def _item(self, x: int, args: list[str]) -> None:
        if not args:
            raise ScpiError(-109, "Missing parameter")
        function = args[0].strip().upper()
        if function not in FUNCTIONS:
            raise ScpiError(-224, f"Illegal parameter value: function {args[0]!r}")
        if len(args) > 1 and args[1].strip() not in ("1", "SIGMA"):
            raise ScpiError(-224, f"Illegal parameter value: element {args[1]!r}")
        self.items[x] = function

    def _timer(self, args: list[str]) -> None:
        if len(args) != 3:
            raise ScpiError(-109, "Missing parameter: <hour>,<minute>,<second>")
        h, m, s = (number([v], 0, 10000, "timer") for v in args)
        self.timer_s = h * 3600 + m * 60 + s

    # --- the integrator --------------------------------------------------------------------

    def _reset_integrator(self, force: bool = False) -> None:
        if not force and self.state == "START":
            raise ScpiError(-221, "Setting conflict: integration is running")
        self.state = "RESET"
        self.held_j = 0.0          # joules integrated before the last start
        self.started_j: float | None = None
        self.started_t = 0.0
        self.held_s = 0.0

    def _start(self) -> None:
        if self.state == "START":
            raise ScpiError(-221, "Setting conflict: integration is running")
        if self.timer_s:
            raise ScpiError(-221, "Setting conflict: the emulated integrator runs manual "
                                  "integration only (timer 0,0,0)")
        self.started_j = self.model.load_energy()
        self.started_t = self.model.clock.now()
        self.state = "START"

    def _stop(self) -> None:
        if self.state != "START":
            raise ScpiError(-221, "Setting conflict: integration is not running")
        self.held_j, self.held_s = self._integrated()
        self.started_j = None
        self.state = "STOP"

    def _integrated(self) -> tuple[float, float]:
        """(joules, seconds) integrated so far."""
        if self.started_j is None:
            return self.held_j, self.held_s
        return (self.held_j + self.model.load_energy() - self.started_j,
                self.held_s + self.model.clock.now() - self.started_t)

    def _values(self) -> str:
        meas = self.model.measure()
        joules, seconds = self._integrated()
        known = {"U": meas.load_v, "I": meas.load_i, "P": meas.load_p,
                 "S": meas.load_v * meas.load_i, "Q": 0.0,
                 "LAMBDA": 1.0 if meas.load_p else 0.0,
                 "FU": self.model.source().frequency, "FI": self.model.source().frequency,
                 "WH": joules / 3600.0, "WHP": joules / 3600.0, "WHM": 0.0,
                 "AH": 0.0, "TIME": seconds}
        return ",".join(f"{known[self.items.get(x, 'U')]:.4E}"
                        for x in range(1, self.count + 1))
