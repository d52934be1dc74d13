"""A fact measured by the bench's own instruments (the load side of the meter's relay)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meterprofile import InstrumentSource
from meterprofile.fact_catalogue import Fact
from rig.meter.sources.registry import BenchAccess, FactReading, ReaderBase, fact_source

#: measurement -> (instrument role, how to take it)
MEASUREMENTS: dict[str, tuple[str, Callable[[Any], float]]] = {
    "load_voltage": ("dmm", lambda dmm: dmm.measure_voltage_ac()),
    "load_current": ("dmm", lambda dmm: dmm.measure_current_ac()),
    "load_power": ("load", lambda load: load.measure_power()),
}


@fact_source("instrument")
class InstrumentFact(ReaderBase):
    """Measures on the bench; a flag fact is true above the declared threshold."""

    def __init__(self, bench: Any, src: InstrumentSource) -> None:
        self.bench = bench
        self.src = src

    @classmethod
    def needs_of(cls, src: Any) -> tuple[str, ...]:
        return (MEASUREMENTS[src.measurement][0],)  # the instrument role that measures it

    @classmethod
    def declared(cls, src: Any) -> str:
        return f"as {src.measurement}"

    @classmethod
    def bind(cls, src: Any, access: BenchAccess) -> InstrumentFact:
        return cls(access.bench, src)

    def read(self, fact: Fact) -> FactReading:
        role, take = MEASUREMENTS[self.src.measurement]
        measured = take(self.bench.instrument(role))
        value: Any = measured > self.src.above if fact.kind == "flag" else measured
        how = f"instrument {role} {self.src.measurement} = {measured:.6g}"
        return FactReading(fact.name, value, how, self.kind)
