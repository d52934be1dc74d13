"""A fact the operator reads off the meter and types in (rig/bench/operator_steps.py)."""

from __future__ import annotations

from typing import Any

from meterprofile import OperatorSource
from meterprofile.fact_catalogue import Fact
from rig.meter.sources.registry import (
    NEEDS,
    BenchAccess,
    FactNotOffered,
    FactReading,
    ReaderBase,
    fact_source,
    not_offered,
    parse_value,
)


@fact_source("operator")
class OperatorFact(ReaderBase):
    """Asks the declared question; no operator on the bench: the fact is not offered."""

    needs = ("operator",)

    def __init__(self, operator: Any, src: OperatorSource) -> None:
        self.operator = operator
        self.src = src

    @classmethod
    def declared(cls, src: Any) -> str:
        return "as an operator's answer"

    @classmethod
    def bind(cls, src: Any, access: BenchAccess) -> OperatorFact:
        return cls(access.operator, src)

    def read(self, fact: Fact) -> FactReading:
        if self.operator is None:
            raise not_offered(fact.name, type(self), self.src, NEEDS["operator"])
        from rig.bench.operator_steps import OperatorUnavailable

        try:
            answer = self.operator.observe(self.src.prompt)
        except OperatorUnavailable as exc:
            raise FactNotOffered(fact.name, f"operator: {exc}") from None
        return FactReading(fact.name, parse_value(fact, answer), "operator", self.kind)
