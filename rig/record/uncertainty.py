"""Measurement uncertainty of the bench's instruments, per the GUM (JCGM 100:2008).

Each instrument model class declares its accuracy specification (`ACCURACY` in
drivers/instruments/; `SPECS` here is derived from those classes), per function:
±(p % of reading + q % of range), 1 year since calibration. With no other
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

from drivers.instruments.accuracy import Specification

__all__ = ["K", "SPECS", "Specification", "Uncertainty", "UnknownSpecification",  # noqa: RUF022
           "evaluate", "model_of", "pick_range", "reading_basis", "specification",
           "two_figures"]

K = 2.0  #: coverage factor of every expanded uncertainty in the report


class UnknownSpecification(KeyError):
    """No accuracy specification is declared for this instrument model and function."""


def _declared_specs() -> dict[str, dict[str, Specification]]:
    """model name (as in bench files) -> function -> specification, from the model classes'
    ACCURACY (drivers/instruments/); a name used in several roles (`generic`) merges."""
    from drivers.instruments import all_models

    specs: dict[str, dict[str, Specification]] = {}
    for cls in all_models():
        specs.setdefault(cls.MODEL, {}).update(cls.ACCURACY)
    return specs


#: model name (as in bench files) -> function -> specification
SPECS: dict[str, dict[str, Specification]] = _declared_specs()

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
    u_timing: float = 0.0

    def as_record(self) -> dict[str, Any]:
        """The fields a measurement line keeps."""
        return {"model": self.model, "function": self.function, "range": self.range,
                "spec": self.spec, "source": self.source,
                "u_instrument": self.u_instrument, "u_resolution": self.u_resolution,
                "u_display": self.u_display, "u_timing": self.u_timing,
                "u_combined": self.u_combined, "U": self.expanded, "k": self.k}


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
             display_resolution: float | None = None, timing: float | None = None,
             range_: float | None = None) -> Uncertainty:
    """U (k = 2) of `value` read on `model` for `function`; `display_resolution` is the
    last digit of the meter's display when the value is compared with the meter's;
    `timing` the half-width of what the compared quantity may have moved between the two
    readings (the instrument's readings before and after the meter's), in the value's unit.
    Each limit is a rectangular distribution (GUM 4.3.7: u = a/√3), combined in quadrature
    (GUM 5.1.2, uncorrelated inputs of sensitivity 1), U = k·u_c with k = 2 (GUM 6.2.1)."""
    spec = specification(model, function)
    full_scale = range_ if range_ is not None else pick_range(spec, value)
    limit = abs(value) * spec.pct_reading / 100 + full_scale * spec.pct_range / 100
    u_inst = limit / math.sqrt(3)
    res = resolution if resolution is not None else spec.resolution
    u_res = (res / 2) / math.sqrt(3) if res else 0.0
    u_disp = (display_resolution / 2) / math.sqrt(3) if display_resolution else 0.0
    u_time = abs(timing) / math.sqrt(3) if timing else 0.0
    u_c = math.sqrt(u_inst ** 2 + u_res ** 2 + u_disp ** 2 + u_time ** 2)
    return Uncertainty(model, function, full_scale, spec.text(), spec.source, u_inst, u_res,
                       u_disp, u_c, K * u_c, u_timing=u_time)


def specification_record(model: str) -> dict[str, dict[str, Any]]:
    """A model's declared specifications, function by function, as the run record keeps
    them (the report of an old record shows the table that was used, not today's)."""
    out: dict[str, dict[str, Any]] = {}
    for function, spec in SPECS.get(model, {}).items():
        to_record = getattr(spec, "to_record", None)
        data = dict(to_record()) if callable(to_record) else {
            "pct_reading": spec.pct_reading, "pct_range": spec.pct_range,
            "ranges": list(spec.ranges), "resolution": spec.resolution,
            "source": spec.source, "fixed_range": spec.fixed_range}
        data.setdefault("text", spec.text())
        out[function] = data
    return out


def instrument_identity(instrument: Any) -> dict[str, Any]:
    """Role, model and *IDN? of the driver (or model name) that measured a value."""
    if isinstance(instrument, str):
        return {"role": None, "model": instrument, "idn": None}
    role = getattr(type(instrument), "ROLE", None)
    if role is None:
        from drivers.instruments import MODELS

        role = next((r for r, models in MODELS.items()
                     if type(instrument) in models.values()), None)
    return {"role": role, "model": model_of(instrument), "idn": getattr(instrument, "idn", None)}


def reading_basis(basis: Any) -> dict[str, Any]:
    """What a fact judged on an instrument reading was decided from, as the record keeps it
    (`basis`, a `rig.meter.sources.ReadingBasis`): the reading with its instrument and its
    budget (`evaluate`, the path every measured value takes), the threshold it was compared
    with, and whether the decision is safe: the reading lies farther from the threshold
    than U, so the instrument's error cannot have turned it."""
    reading = float(basis.reading)
    budget = evaluate(model_of(basis.instrument), basis.function, reading).as_record()
    out: dict[str, Any] = {
        "fact": basis.fact, "decided": basis.decided, "measurement": basis.measurement,
        "reading": reading, "unit": basis.unit, "function": basis.function,
        "instrument": instrument_identity(basis.instrument), "threshold": basis.threshold,
        "uncertainty": budget}
    out["instrument"]["role"] = out["instrument"]["role"] or basis.role
    if basis.threshold is not None:
        margin = abs(reading - float(basis.threshold))
        out.update(comparison="above", margin=margin, safe=margin > budget["U"])
    return out


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
    from drivers.instruments import model_name

    name = model_name(instrument)
    if name is None or (role is not None and role != type(instrument).ROLE):
        raise UnknownSpecification(f"{type(instrument).__name__} is not an instrument model "
                                   "the bench files name")
    return name
