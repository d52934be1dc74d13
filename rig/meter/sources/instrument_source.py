"""A fact measured by the bench's own instruments (the load side of the meter's relay).

Each reading keeps its basis (`ReadingBasis`: the reading, the instrument, its function and
unit, the threshold a flag is judged against), so the record can state what a relay state
was decided from and give that reading its U from the instrument's specification.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from meterprofile import InstrumentSource
from meterprofile.fact_catalogue import Fact
from rig.meter.sources.registry import (
    BenchAccess,
    FactReading,
    ReaderBase,
    ReadingBasis,
    fact_source,
)


@dataclass(frozen=True)
class Measurement:
    """How one measurement is taken: the instrument role, its function (as the accuracy
    specifications name it, rig.record.uncertainty), the unit, and the driver call."""

    role: str
    function: str
    unit: str
    take: Callable[[Any], float]


#: measurement (the profile's `measurement`) -> how it is taken
MEASUREMENTS: dict[str, Measurement] = {
    "load_voltage": Measurement("dmm", "ac_voltage", "V", lambda dmm: dmm.measure_voltage_ac()),
    "load_current": Measurement("dmm", "ac_current", "A", lambda dmm: dmm.measure_current_ac()),
    "load_power": Measurement("load", "power", "W", lambda load: load.measure_power()),
}


@fact_source("instrument")
class InstrumentFact(ReaderBase):
    """Measures on the bench; a flag fact is true above the declared threshold."""

    def __init__(self, bench: Any, src: InstrumentSource) -> None:
        self.bench = bench
        self.src = src

    @classmethod
    def needs_of(cls, src: Any) -> tuple[str, ...]:
        return (MEASUREMENTS[src.measurement].role,)  # the instrument role that measures it

    @classmethod
    def declared(cls, src: Any) -> str:
        return f"as {src.measurement}"

    @classmethod
    def bind(cls, src: Any, access: BenchAccess) -> InstrumentFact:
        return cls(access.bench, src)

    def read(self, fact: Fact) -> FactReading:
        way = MEASUREMENTS[self.src.measurement]
        instrument = self.bench.instrument(way.role)
        measured = float(way.take(instrument))
        flag = fact.kind == "flag"
        value: Any = measured > self.src.above if flag else measured
        how = f"instrument {way.role} {self.src.measurement} = {measured:.6g}"
        basis = ReadingBasis(fact.name, value, self.src.measurement, way.role, way.function,
                             way.unit, measured, self.src.above if flag else None, instrument)
        return FactReading(fact.name, value, how, self.kind, basis)
