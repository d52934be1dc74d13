"""The emulated DMMs of real models: Keysight 34461A and Keithley DMM6500, each with its own
command set, ranges and answer formats; both read the load terminals of the bench model.

Keysight 34461A (Truevolt Series Operating and Service Guide): CONFigure[:VOLTage]:AC and
CONFigure:CURRent:AC [<range>|AUTO|MIN|MAX|DEF], MEASure:...:AC?, READ?, INITiate and FETCh?,
[SENSe:]{VOLTage|CURRent}:AC:RANGe and [SENSe:]CURRent:AC:TERMinals {3|10}. AC volts range to
750 V (more is -222 Data out of range); the 10 A range is reached only on the 10 A terminals:
CONFigure with 10 A selects them, [SENSe:]CURRent:AC:RANGe cannot select 10 A, and on the 3 A
terminals a current past the range reads +9.9E+37 (overload). Readings print as
+2.30000000E+02; the empty error queue as +0,"No error".

Keithley DMM6500 (Reference Manual, SCPI command set): [SENSe:]FUNCtion "<function>",
[SENSe:]{VOLTage|CURRent}:AC:RANGe[:UPPer], MEASure:{VOLTage|CURRent}:AC?, READ?,
ROUTe:TERMinals? (FRON or REAR: the front-panel switch). The 10 A AC current range is on the
front terminals only; asked for on the rear it is -221 Settings conflict.
"""

from __future__ import annotations

from emulator.model import BenchModel
from emulator.scpi.server import BenchDevice, ScpiError, SignedErrors, choice, nr3

AC_VOLT_RANGES = (0.1, 1.0, 10.0, 100.0, 750.0)
AC_CURRENT_RANGES = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 3.0)  # the 3 A terminals
TEN_A = 10.0
OVERLOAD = 9.9e37
DMM6500_FUNCTIONS = {"VOLT:AC": "VOLT", "VOLTAGE:AC": "VOLT", "CURR:AC": "CURR",
                     "CURRENT:AC": "CURR"}


def pick_range(args: list[str], ranges: tuple[float, ...], what: str,
               extra: tuple[float, ...] = ()) -> float | None:
    """The range an argument selects (None: autorange); -222 past the largest."""
    if not args or not args[0].strip():
        return None
    word = args[0].strip().upper()
    allowed = tuple(sorted(ranges + extra))
    if word in ("AUTO", "DEF", "DEFAULT"):
        return None
    if word in ("MIN", "MINIMUM"):
        return allowed[0]
    if word in ("MAX", "MAXIMUM"):
        return allowed[-1]
    try:
        value = float(word)
    except ValueError:
        raise ScpiError(-104, f"Data type error: {what} range {args[0]!r}") from None
    for r in allowed:
        if abs(value) <= r * (1 + 1e-9):
            return r
    raise ScpiError(-222, f"Data out of range: {what} range {value:g}")


class Keysight34461ADevice(SignedErrors, BenchDevice):
    ROLE = "dmm"
    MODEL = "keysight-34461a"
    DESIGNATION = "Keysight 34461A Truevolt 6.5-digit DMM"
    idn = "Keysight Technologies,34461A,MY57200001,A.03.01-02.40-03.01-00.52-01-01"

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        self.reset()
        c = self.command
        c("CONFigure[:VOLTage]:AC", False, lambda a: self._conf("VOLT", a))
        c("CONFigure:CURRent:AC", False, lambda a: self._conf("CURR", a))
        c("CONFigure", True, lambda a: f'"{self.function}:AC {nr3(self._range() or 0)}"')
        c("MEASure[:VOLTage]:AC", True, lambda a: self._conf("VOLT", a) or self._read())
        c("MEASure:CURRent:AC", True, lambda a: self._conf("CURR", a) or self._read())
        c("READ", True, lambda a: self._read())
        c("INITiate[:IMMediate]", False, lambda a: self._set("held", self._reading()))
        c("FETCh", True, lambda a: self._fetch())
        c("[SENSe:]VOLTage:AC:RANGe", False, lambda a: self._set(
            "volt_range", pick_range(a, AC_VOLT_RANGES, "voltage")))
        c("[SENSe:]VOLTage:AC:RANGe", True, lambda a: nr3(self.volt_range or 750.0))
        c("[SENSe:]CURRent:AC:RANGe", False, lambda a: self._set(
            "curr_range", pick_range(a, AC_CURRENT_RANGES, "current")))
        c("[SENSe:]CURRent:AC:RANGe", True, lambda a: nr3(self.curr_range or 3.0))
        c("[SENSe:]CURRent:AC:TERMinals", False, lambda a: self._set(
            "terminals", choice(a, {"3": "3", "10": "10"}, "terminals")))
        c("[SENSe:]CURRent:AC:TERMinals", True, lambda a: f"+{self.terminals}")
        c("SYSTem:PRESet", False, lambda a: self.reset())

    def reset(self) -> None:
        self.function = "VOLT"
        self.volt_range: float | None = None
        self.curr_range: float | None = None
        self.terminals = "3"
        self.held: float | None = None

    def _conf(self, function: str, args: list[str]) -> None:
        if function == "VOLT":
            self.volt_range = pick_range(args, AC_VOLT_RANGES, "voltage")
        else:
            rng = pick_range(args, AC_CURRENT_RANGES, "current", extra=(TEN_A,))
            if rng == TEN_A:
                self.terminals, self.curr_range = "10", None
            else:
                self.terminals, self.curr_range = "3", rng
        self.function = function

    def _range(self) -> float | None:
        if self.function == "VOLT":
            return self.volt_range
        return TEN_A if self.terminals == "10" else self.curr_range

    def _reading(self) -> float:
        meas = self.model.measure()
        if self.function == "VOLT":
            value, top = meas.load_v, self.volt_range or AC_VOLT_RANGES[-1]
            limit = top if top == AC_VOLT_RANGES[-1] else 1.2 * top
        else:
            value = meas.load_i
            top = TEN_A if self.terminals == "10" else (self.curr_range or 3.0)
            limit = top if top >= 3.0 else 1.2 * top
        return OVERLOAD if abs(value) > limit else value

    def _read(self) -> str:
        return nr3(self._reading())

    def _fetch(self) -> str:
        if self.held is None:
            raise ScpiError(-230, "Data corrupt or stale")
        return nr3(self.held)


def _quoted(args: list[str]) -> str:
    if not args:
        raise ScpiError(-109, "Missing parameter")
    return ",".join(args).strip().strip('"').strip("'").upper()


class KeithleyDmm6500Device(BenchDevice):
    ROLE = "dmm"
    MODEL = "keithley-dmm6500"
    DESIGNATION = "Keithley DMM6500 6.5-digit bench/system DMM"
    idn = "KEITHLEY INSTRUMENTS,MODEL DMM6500,04501234,1.7.12b"
    TERSE_ERRORS = True

    def __init__(self, model: BenchModel) -> None:
        super().__init__(model)
        self.terminals = "FRON"  # the front-panel switch: no command moves it
        self.reset()
        c = self.command
        c("[SENSe:]FUNCtion[:ON]", False, self._function)
        c("[SENSe:]FUNCtion[:ON]", True, lambda a: '"VOLT:AC"' if self.function == "VOLT"
          else '"CURR:AC"')
        c("[SENSe:]VOLTage:AC:RANGe[:UPPer]", False, lambda a: self._set(
            "volt_range", pick_range(a, AC_VOLT_RANGES, "voltage") or 750.0))
        c("[SENSe:]VOLTage:AC:RANGe[:UPPer]", True, lambda a: f"{self.volt_range:.6E}")
        c("[SENSe:]CURRent:AC:RANGe[:UPPer]", False, self._current_range)
        c("[SENSe:]CURRent:AC:RANGe[:UPPer]", True, lambda a: f"{self.curr_range:.6E}")
        c("MEASure:VOLTage:AC", True, lambda a: self._set("function", "VOLT") or self._read())
        c("MEASure:CURRent:AC", True, lambda a: self._set("function", "CURR") or self._read())
        c("READ", True, lambda a: self._read())
        c("ROUTe:TERMinals", True, lambda a: self.terminals)

    def reset(self) -> None:
        self.function = "VOLT"
        self.volt_range = 750.0
        self.curr_range = 3.0

    def _function(self, args: list[str]) -> None:
        name = _quoted(args)
        if name not in DMM6500_FUNCTIONS:
            raise ScpiError(-224, f"Illegal parameter value: function {name!r}")
        self.function = DMM6500_FUNCTIONS[name]

    def _current_range(self, args: list[str]) -> None:
        rng = pick_range(args, AC_CURRENT_RANGES, "current", extra=(TEN_A,)) or 3.0
        if rng == TEN_A and self.terminals != "FRON":
            raise ScpiError(-221, "Settings conflict: the 10 A range is on the front "
                                  "terminals")
        self.curr_range = rng

    def _read(self) -> str:
        meas = self.model.measure()
        if self.function == "VOLT":
            value, limit = meas.load_v, self.volt_range * (1.0 if self.volt_range >= 750
                                                            else 1.2)
        else:
            value, limit = meas.load_i, self.curr_range * (1.01 if self.curr_range >= 3
                                                            else 1.2)
        return f"{OVERLOAD if abs(value) > limit else value:.6E}"
