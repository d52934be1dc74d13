"""The resolver: a plan asks for a fact, the profile says where this meter model gives it.

One reader per declared source kind (rig/meter/sources/), bound on first use. A fact declared
`none`, or on a source this bench lacks (no camera, no operator), raises `FactUnavailable`;
the plans skip a test on it, naming the fact. Every reading says how it was obtained, and
the resolver keeps the last one per fact so the report can show it beside the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meterprofile import (
    DisplaySource,
    InstrumentSource,
    MeterProfile,
    OperatorSource,
    RegisterSource,
)
from meterprofile.fact_catalogue import fact as fact_named
from rig.meter.sources import FactReading, FactUnavailable
from rig.meter.sources.display_source import DisplayFact
from rig.meter.sources.instrument_source import InstrumentFact
from rig.meter.sources.operator_source import OperatorFact
from rig.meter.sources.register_source import RegisterFact

__all__ = ["FactReading", "FactResolver", "FactUnavailable"]


class FactResolver:
    """Facts of the meter under test, from the sources its profile declares."""

    def __init__(self, profile: MeterProfile, bench: Any, *, display: Any = None,
                 operator: Any = None, type_keys: Callable[[str], Any] | None = None) -> None:
        self.profile = profile
        self.bench = bench
        self.display = display
        self.operator = operator
        self.type_keys = type_keys or (lambda keys: bench.keypad.type_keys(keys))
        self._readers: dict[str, Any] = {}
        self.last: dict[str, FactReading] = {}

    def source_kind(self, name: str) -> str:
        """register, display, instrument, operator or none, as declared for `name`."""
        fact_named(name)
        return self.profile.fact_source(name).source

    def offers(self, name: str) -> bool:
        """True when the profile declares a source for `name` that this bench can use."""
        try:
            self._reader(name)
        except FactUnavailable:
            return False
        return True

    def _reader(self, name: str) -> Any:
        if name in self._readers:
            return self._readers[name]
        fact_named(name)
        src = self.profile.fact_source(name)
        if isinstance(src, RegisterSource):
            if not self.bench.has("optical"):
                raise FactUnavailable(name, "declared as a register, and the bench has no "
                                            "optical port")
            reader: Any = RegisterFact(self.bench.optical, src)
        elif isinstance(src, DisplaySource):
            if self.display is None:
                raise FactUnavailable(name, "declared on the display, and the bench has no "
                                            "camera on it (bench file [meter] camera)")
            reader = DisplayFact(self.display, self.type_keys, src)
        elif isinstance(src, InstrumentSource):
            reader = InstrumentFact(self.bench, src)
        elif isinstance(src, OperatorSource):
            if self.operator is None:
                raise FactUnavailable(name, "declared as an operator's answer, and no "
                                            "operator is at this bench")
            reader = OperatorFact(self.operator, src)
        else:
            raise FactUnavailable(name, f"profile {self.profile.name} declares no source")
        self._readers[name] = reader
        return reader

    def read(self, name: str) -> FactReading:
        """The fact now, and how it was obtained."""
        reading = self._reader(name).read(fact_named(name))
        self.last[name] = reading
        return reading

    def value(self, name: str) -> Any:
        return self.read(name).value
