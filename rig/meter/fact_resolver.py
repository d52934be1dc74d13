"""The resolver: a plan asks for a fact, the profile says where this meter model gives it.

Each declaration is bound, on first use, to the reader class registered under its source tag
(`rig.meter.sources.fact_source`). Whether the fact is offered on this bench is decided here,
once for every kind: the tag offers it at all (not `none`), and the bench has what the reader
class needs (an optical port, a camera, an operator, an instrument role); if not,
`FactNotOffered` names the fact and why. Every reading says how it was obtained, and the
resolver keeps the last one per fact so the report can show it beside the value; a fact an
instrument gave keeps the reading it was decided from (`basis`), which the record gives U.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meterprofile import MeterProfile
from meterprofile.fact_catalogue import fact as fact_named
from rig.meter.sources import (
    BenchAccess,
    FactNotOffered,
    FactReading,
    FactUnavailable,
    ReaderBase,
    not_offered,
    reader_for,
)

__all__ = ["FactNotOffered", "FactReading", "FactResolver", "FactUnavailable"]


class FactResolver:
    """Facts of the meter under test, from the sources its profile declares."""

    def __init__(self, profile: MeterProfile, bench: Any, *, display: Any = None,
                 operator: Any = None, type_keys: Callable[[str], Any] | None = None) -> None:
        self.profile = profile
        self.bench = bench
        self.display = display
        self.operator = operator
        self.type_keys = type_keys or (lambda keys: bench.keypad.type_keys(keys))
        self.access = BenchAccess(bench, display, operator, self.type_keys)
        self._readers: dict[str, ReaderBase] = {}
        self.last: dict[str, FactReading] = {}

    def describe(self, name: str) -> str:
        """How the profile declares `name`, in one line ("register C.50.0")."""
        return self.profile.fact_source(name).describe()

    def offers(self, name: str) -> bool:
        """True when the profile declares a source for `name` that this bench can use."""
        try:
            self._reader(name)
        except FactNotOffered:
            return False
        return True

    def reported_by_meter(self, name: str) -> bool:
        """True when the meter itself reports `name` on this bench (a register, say), not
        a person, an instrument or its display: a plan may check it against an instrument."""
        return self.offers(name) and self._reader(name).meter_reported

    def shown(self, text: str) -> str:
        """`text` as this meter's display text fact gives it (the 7-segment form when it is
        read off the display; unchanged from a register)."""
        return self._class_of("display_text").shows(text, self.profile)

    def entry_result(self, meter: Any, keys: str, press_ms: float | None = None,
                     gap_ms: float | None = None, code: bool = False) -> Any:
        """Type `keys` on `meter` and read the result where this model gives entry results."""
        return self._reader("entry_result").entry_result(meter, keys, press_ms, gap_ms, code)

    def _class_of(self, name: str) -> type[ReaderBase]:
        src = self.profile.fact_source(name)
        cls = reader_for(src.source)
        if cls is None:
            raise FactNotOffered(name, f"no reader is registered for source {src.source!r}")
        return cls

    def _reader(self, name: str) -> ReaderBase:
        if name in self._readers:
            return self._readers[name]
        fact_named(name)
        src = self.profile.fact_source(name)
        cls = self._class_of(name)
        if not cls.offered:
            raise FactNotOffered(name, f"profile {self.profile.name} declares no source")
        for need in cls.needs_of(src):
            why = self.access.lacks(need)
            if why is not None:
                raise not_offered(name, cls, src, why)
        reader = cls.bind(src, self.access)
        self._readers[name] = reader
        return reader

    def read(self, name: str) -> FactReading:
        """The fact now, and how it was obtained."""
        reading = self._reader(name).read(fact_named(name))
        self.last[name] = reading
        return reading

    def value(self, name: str) -> Any:
        return self.read(name).value

    def basis(self, name: str) -> Any:
        """The instrument reading the last value of `name` was decided from (a
        `ReadingBasis`), or None: not read yet, or not from an instrument."""
        last = self.last.get(name)
        return last.basis if last is not None else None
