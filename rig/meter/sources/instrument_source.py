"""A fact measured by the bench's own instruments (the load side of the meter's relay)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meterprofile import InstrumentSource
from meterprofile.fact_catalogue import Fact
from rig.meter.sources import FactReading, FactUnavailable

#: measurement -> (instrument role, how to take it)
MEASUREMENTS: dict[str, tuple[str, Callable[[Any], float]]] = {
    "load_voltage": ("dmm", lambda dmm: dmm.measure_voltage_ac()),
    "load_current": ("dmm", lambda dmm: dmm.measure_current_ac()),
    "load_power": ("load", lambda load: load.measure_power()),
}


class InstrumentFact:
    """Measures on the bench; a flag fact is true above the declared threshold."""

    kind = "instrument"

    def __init__(self, bench: Any, src: InstrumentSource) -> None:
        self.bench = bench
        self.src = src

    def read(self, fact: Fact) -> FactReading:
        role, take = MEASUREMENTS[self.src.measurement]
        if not self.bench.has(role):
            raise FactUnavailable(fact.name, f"declared as {self.src.measurement}, and the "
                                             f"bench has no {role}")
        measured = take(self.bench.instrument(role))
        value: Any = measured > self.src.above if fact.kind == "flag" else measured
        how = f"instrument {role} {self.src.measurement} = {measured:.6g}"
        return FactReading(fact.name, value, how, self.kind)
