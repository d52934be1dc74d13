"""A fact the operator reads off the meter and types in (rig/bench/operator_steps.py)."""

from __future__ import annotations

from typing import Any

from meterprofile import OperatorSource
from meterprofile.fact_catalogue import Fact
from rig.meter.sources import FactReading, FactUnavailable, parse_value


class OperatorFact:
    """Asks the declared question; no operator on the bench: the fact is not offered."""

    kind = "operator"

    def __init__(self, operator: Any, src: OperatorSource) -> None:
        self.operator = operator
        self.src = src

    def read(self, fact: Fact) -> FactReading:
        if self.operator is None:
            raise FactUnavailable(fact.name, "declared as an operator's answer, and no "
                                             "operator is at this bench")
        from rig.bench.operator_steps import OperatorUnavailable

        try:
            answer = self.operator.observe(self.src.prompt)
        except OperatorUnavailable as exc:
            raise FactUnavailable(fact.name, f"operator: {exc}") from None
        return FactReading(fact.name, parse_value(fact, answer), "operator", self.kind)
