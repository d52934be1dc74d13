"""A test-only kind of fact source, in one file: `source = "fixed"` gives a constant.

It shows what a new kind (DLMS/COSEM, say) takes: a declaration class registered under its
tag in the profile's vocabulary (`meterprofile.fact_sources.declares`) and a reader class
registered under the same tag in the rig (`rig.meter.sources.fact_source`). No resolver,
plan, fixture or command changes. Imported by tests/test_architecture.py, and loaded as a
pytest plugin (`-p fixed_source`) by the plan run of tests/test_house_fact_source_plan.py.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, StrictStr
from pydantic.dataclasses import dataclass

from meterprofile.fact_catalogue import Fact
from meterprofile.fact_sources import Declared, declares
from rig.meter.sources import BenchAccess, FactReading, ReaderBase, fact_source, parse_value


@declares("fixed")
@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class FixedSource(Declared):
    """`[facts.<name>] source = "fixed", value = "..."`: the fact is always `value`."""

    source: Literal["fixed"]
    value: StrictStr

    def describe(self) -> str:
        return f"fixed {self.value}"

    def problems(self, name: str, kind: str, messages: dict[str, str]) -> list[str]:
        return [] if kind != "outcome" else [f"'facts.{name}': an entry result is not fixed"]


@fact_source("fixed")
class FixedFact(ReaderBase):
    """Reads the declared constant; needs nothing of the bench."""

    needs = ()
    meter_reported = True  # as if the meter reported it (the plan may compare it)

    def __init__(self, src: FixedSource) -> None:
        self.src = src

    @classmethod
    def declared(cls, src: Any) -> str:
        return "as a constant"

    @classmethod
    def bind(cls, src: Any, access: BenchAccess) -> FixedFact:
        return cls(src)

    def read(self, fact: Fact) -> FactReading:
        return FactReading(fact.name, parse_value(fact, self.src.value), self.src.describe(),
                           self.kind)
