"""Measurement uncertainty of the bench's instruments, per the GUM (JCGM 100:2008).

Each instrument model the bench files name declares its accuracy specification here, per
function: ±(p % of reading + q % of range), 1 year since calibration. With no other
knowledge that limit is a rectangular distribution (u = a / √3); the instrument's resolution
and the meter's display resolution (half a digit each, also rectangular) add in quadrature,
and the expanded uncertainty is U = k · u_c with k = 2 (about 95 % coverage).

The figures are the makers' published 1-year specifications, each with its source; a lab
replaces them with its calibration certificates' figures where those are tighter. The
`generic` model is the emulated bench's instrument set: its figures are nominal (no
calibration stands behind an emulated instrument), chosen as a typical bench class so the
report exercises the whole computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

K = 2.0  #: coverage factor of every expanded uncertainty in the report


class UnknownSpecification(KeyError):
    """No accuracy specification is declared for this instrument model and function."""


@dataclass(frozen=True)
class Specification:
    """±(pct_reading % of reading + pct_range % of range) over one range set of a function."""

    pct_reading: float
    pct_range: float
    ranges: tuple[float, ...]     # full-scale values, ascending; the smallest that holds it
    resolution: float = 0.0       # the instrument's own least digit on that use, if it matters
    source: str = ""
    fixed_range: float | None = None  # a driver that always selects this range

    def text(self) -> str:
        return f"±({self.pct_reading:g} % of reading + {self.pct_range:g} % of range), 1 year"


#: model name (as in bench files) -> function -> specification
SPECS: dict[str, dict[str, Specification]] = {
    # Keysight 34461A Truevolt DMM data sheet (5991-1983EN), 1 year, 23 °C ± 5 °C.
    "keysight-34461a": {
        # AC volts, true rms, 10 Hz to 20 kHz: 0.06 % of reading + 0.03 % of range
        # (REPORT.md figure; data sheet table "AC characteristics"). Ranges 100 mV..750 V;
        # the rig's driver asks for the top range (MEAS:VOLT:AC? 1000 selects 750 V).
        "ac_voltage": Specification(0.06, 0.03, (0.1, 1.0, 10.0, 100.0, 750.0),
                                    source="Keysight 34461A data sheet, ACV 10 Hz-20 kHz",
                                    fixed_range=750.0),
        # AC current, 10 A range, 3 Hz to 5 kHz: 0.15 % of reading + 0.06 % of range (check);
        # the driver measures on the 10 A terminals.
        "ac_current": Specification(0.15, 0.06, (0.0001, 0.001, 0.01, 0.1, 1.0, 3.0, 10.0),
                                    source="Keysight 34461A data sheet, ACI 10 A range",
                                    fixed_range=10.0),
    },
    # Chroma 61500 series programmable AC source, measurement section (check): voltage
    # 0.2 % of reading + 0.2 % of full scale, current 0.4 % + 0.3 % F.S., power 0.4 % + 0.4 % F.S.
    "chroma-61500": {
        "ac_voltage": Specification(0.2, 0.2, (150.0, 300.0),
                                    source="Chroma 61500 series specifications, measurement"),
        "ac_current": Specification(0.4, 0.3, (4.0, 16.0),
                                    source="Chroma 61500 series specifications, measurement"),
        "power": Specification(0.4, 0.4, (1000.0, 4000.0),
                               source="Chroma 61500 series specifications, measurement"),
    },
    # Chroma 63800 series programmable AC/DC electronic load, measurement section (check):
    # voltage 0.1 % + 0.1 % F.S., current 0.1 % + 0.2 % F.S., power 0.3 % + 0.3 % F.S.
    "chroma-63800": {
        "ac_voltage": Specification(0.1, 0.1, (150.0, 350.0),
                                    source="Chroma 63800 series specifications, measurement"),
        "ac_current": Specification(0.1, 0.2, (9.0, 36.0),
                                    source="Chroma 63800 series specifications, measurement"),
        "power": Specification(0.3, 0.3, (1800.0, 3600.0),
                               source="Chroma 63800 series specifications, measurement"),
    },
    # Keysight InfiniiVision 3000T X-series data sheet (check): delta-time accuracy
    # ±(time base accuracy × reading + 0.16 % of screen width + 100 ps); time base 1.6 ppm
    # + 0.5 ppm/year aging. "Range" is the screen width (10 divisions).
    "keysight-infiniivision": {
        "time_interval": Specification(0.00021, 0.16, (0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
                                       source="Keysight InfiniiVision 3000T X data sheet, "
                                              "delta time"),
    },
    # The emulated bench's instruments (`generic`): nominal figures of a typical bench class,
    # no calibration behind them (an emulated bench tests the rig, not a meter).
    "generic": {
        "ac_voltage": Specification(0.1, 0.05, (1.0, 10.0, 100.0, 1000.0),
                                    source="nominal (emulated instrument)"),
        "ac_current": Specification(0.2, 0.05, (1.0, 10.0, 100.0),
                                    source="nominal (emulated instrument)"),
        "power": Specification(0.3, 0.1, (1000.0, 10000.0),
                               source="nominal (emulated instrument)"),
        "time_interval": Specification(0.01, 0.2, (0.1, 1.0, 10.0),
                                       source="nominal (emulated instrument)"),
    },
}

FUNCTION_UNITS = {"ac_voltage": "V", "ac_current": "A", "power": "W", "time_interval": "s"}


@dataclass(frozen=True)
class Uncertainty:
    """The budget of one value: the contributions (standard uncertainties) and U (k = 2)."""

    model: str
    function: str
    range: float
    spec: str
    source: str
    u_instrument: float
    u_resolution: float
    u_display: float
    u_combined: float
    expanded: float
    k: float = K

    def as_record(self) -> dict[str, Any]:
        """The fields a measurement line keeps."""
        return {"model": self.model, "function": self.function, "range": self.range,
                "spec": self.spec, "source": self.source,
                "u_instrument": self.u_instrument, "u_resolution": self.u_resolution,
                "u_display": self.u_display, "u_combined": self.u_combined,
                "U": self.expanded, "k": self.k}


def specification(model: str, function: str) -> Specification:
    """The declared specification; UnknownSpecification names what is missing."""
    try:
        return SPECS[model][function]
    except KeyError:
        known = ", ".join(sorted(SPECS.get(model, {}))) or "none"
        raise UnknownSpecification(f"no accuracy specification for instrument model "
                                   f"{model!r}, function {function!r} (declared for this "
                                   f"model: {known})") from None


def pick_range(spec: Specification, value: float) -> float:
    """The range the instrument measures on: the driver's fixed one, else the smallest
    that holds the value (autorange)."""
    if spec.fixed_range is not None:
        return spec.fixed_range
    magnitude = abs(value)
    for full_scale in spec.ranges:
        if magnitude <= full_scale:
            return full_scale
    return spec.ranges[-1]


def evaluate(model: str, function: str, value: float, *, resolution: float | None = None,
             display_resolution: float | None = None,
             range_: float | None = None) -> Uncertainty:
    """U (k = 2) of `value` read on `model` for `function`; `display_resolution` is the
    last digit of the meter's display when the value is compared with the meter's."""
    spec = specification(model, function)
    full_scale = range_ if range_ is not None else pick_range(spec, value)
    limit = abs(value) * spec.pct_reading / 100 + full_scale * spec.pct_range / 100
    u_inst = limit / math.sqrt(3)
    res = resolution if resolution is not None else spec.resolution
    u_res = (res / 2) / math.sqrt(3) if res else 0.0
    u_disp = (display_resolution / 2) / math.sqrt(3) if display_resolution else 0.0
    u_c = math.sqrt(u_inst ** 2 + u_res ** 2 + u_disp ** 2)
    return Uncertainty(model, function, full_scale, spec.text(), spec.source, u_inst, u_res,
                       u_disp, u_c, K * u_c)


def two_figures(value: float) -> float:
    """U rounded to two significant figures, as the report states it."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, 1 - math.floor(math.log10(abs(value))))


def model_of(instrument: Any, role: str | None = None) -> str:
    """The bench-file model name of an open instrument driver (its class in MODELS), or a
    model name passed as is."""
    if isinstance(instrument, str):
        return instrument
    from drivers.instruments import MODELS

    roles = [role] if role else list(MODELS)
    for r in roles:
        for name, cls in MODELS.get(r, {}).items():
            if type(instrument) is cls:
                return name
    raise UnknownSpecification(f"{type(instrument).__name__} is not an instrument model the "
                               "bench files name")
