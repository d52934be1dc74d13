"""Measurements declared with the test that makes them, as OpenHTF declares them on a phase.

A plan test names what it will measure before it runs:

    @measures(Measure("relay operate time after ENTER released", "s",
                      low="zero", high="relay.operate_limit_s", clause=OPERATE,
                      instrument="scope", function="time_interval"))
    def test_relay_test_code(dut, scope, record): ...
        record("relay operate time after ENTER released", response)

The declaration gives the unit, the limits BY NAME (a profile key such as
`relay.operate_limit_s`, or a figure of a standard in `STANDARD` below, never a bare number
in the plan), the clause, and where the value comes from: the meter fact it is read as, or
the instrument role and function that measure it (the rig then gives the value its U). The
run record keeps every declaration at the run's start, so a declared measurement the test
never reached reads NOT MEASURED in the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import pytest

#: Figures of the standards the plans compare against, by name, each with its source.
STANDARD: dict[str, tuple[float, str]] = {
    "zero": (0.0, "zero"),
    # IEC 62056-21:2002 6.3.14: reaction time tr of the meter at most 1500 ms
    "iec62056_21.reaction_max_s": (1.5, "IEC 62056-21:2002 6.3.14 tr <= 1500 ms"),
    # The credit register keeps 3 decimals (0.001 kWh): a credit is exact to half of that
    "credit.register_half_digit_kwh": (0.0005, "half the credit register's 0.001 kWh digit"),
}


#: the tolerance of a credit the meter holds against the one expected, by name
CREDIT_EXACT = "credit.register_half_digit_kwh"


class UnknownLimit(KeyError):
    """A limit named in a declaration that neither the profile nor STANDARD holds."""


@dataclass(frozen=True)
class Measure:
    """One declared measurement of a test.

    `low`/`high` name absolute limits; `tolerance` names a ± band around the `reference`
    the plan passes (in % of it when `relative`, else in the unit). `fact` is the meter
    fact the value is read as; `instrument` (a bench role) and `function` the instrument
    that measures the value or its reference."""

    name: str
    unit: str = ""
    low: str | None = None
    high: str | None = None
    tolerance: str | None = None
    relative: bool = False
    clause: str = ""
    fact: str | None = None
    instrument: str | None = None
    function: str | None = None
    source: str | None = None
    title: str | None = None
    obtained_as: str | None = None  # where exactly ("scope CH2->CH1", "display code 41")
    rule: str | None = None  # this measurement's decision rule (rig.record.decision.PROVEN)

    def limits(self, value_of: Callable[[str], Any] | None,
               reference: Any = None) -> tuple[Any, Any, str]:
        """(low, high, where they come from) for this run's profile."""
        resolve = value_of or (lambda name: resolve_limit(name, None))
        low = resolve(self.low) if self.low else None
        high = resolve(self.high) if self.high else None
        named = [x for x in (self.low, self.high) if x]
        if self.tolerance and reference is not None:
            if isinstance(reference, tuple | list):
                reference = sum(float(r) for r in reference) / len(reference)
            tol = float(resolve(self.tolerance))
            band = abs(float(reference)) * tol / 100 if self.relative else tol
            low, high = float(reference) - band, float(reference) + band
            named = [f"{'±' + self.tolerance}{' %' if self.relative else ''} of the reference"]
        return low, high, ", ".join(named)

    def limits_text(self) -> str:
        """The limits by name, as declared (for a measurement never reached)."""
        if self.tolerance:
            return f"reference ± {self.tolerance}{' %' if self.relative else ''}"
        if self.low and self.high:
            return f"{self.low} .. {self.high}"
        if self.high:
            return f"<= {self.high}"
        if self.low:
            return f">= {self.low}"
        return ""

    def to_record(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v not in (None, "", False)}
        data["limits"] = self.limits_text()
        return data


def measures(*declared: Measure) -> pytest.MarkDecorator:
    """Declare a test's measurements (the `measures` marker the record fixture reads)."""
    for d in declared:
        if not isinstance(d, Measure):
            raise TypeError(f"measures() takes Measure declarations, not {type(d).__name__}")
    return pytest.mark.measures(*declared)


#: the words a skip starts with when the test does not apply to the item (the report lists
#: it as not applicable, and the overall verdict does not wait for it)
NOT_APPLICABLE = "not applicable"


def not_applicable(reason: str) -> None:
    """Skip a test that does not apply to this item or bench (a feature the meter does not
    declare): the run still concludes, the report lists it with the reason."""
    pytest.skip(f"{NOT_APPLICABLE}: {reason}")


def declared_of(item: Any) -> list[Measure]:
    """The measurements a pytest item declares."""
    return [d for mark in item.iter_markers("measures") for d in mark.args
            if isinstance(d, Measure)]


def resolve_limit(name: str, profile: Any) -> float:
    """A named limit: a figure of STANDARD, else a profile value by its dotted key."""
    if name in STANDARD:
        return STANDARD[name][0]
    obj = profile
    for part in name.split("."):
        obj = getattr(obj, part, None) if obj is not None else None
    if isinstance(obj, bool) or not isinstance(obj, int | float):
        raise UnknownLimit(f"limit {name!r}: neither a figure of a standard "
                           f"({', '.join(STANDARD)}) nor a number of the meter profile")
    return float(obj)


_NUMBER = re.compile(r"-?\d+(?:\.(\d+))?")


def last_digit(shown: str) -> float | None:
    """The weight of the last digit of the number a display shows ("230.4 V" -> 0.1)."""
    found = _NUMBER.search(str(shown))
    if found is None:
        return None
    decimals = len(found.group(1) or "")
    return 10.0 ** -decimals


def title_of(item: Any) -> str:
    """A test's name in words: its docstring's first sentence, else its name spelt out;
    a parametrised test keeps its parameters ("Cell (credited, kct krn, ACCEPT)"), so the
    cases of one test stay apart on page 1."""
    func = getattr(item, "function", None)
    doc = (getattr(func, "__doc__", None) or "").strip()
    callspec = getattr(item, "callspec", None)
    params = getattr(callspec, "id", "") if callspec is not None else ""
    case = f" ({params_words(params)})" if params else ""
    if doc:  # the first sentence of the first paragraph, however its lines wrap
        paragraph = " ".join(doc.split("\n\n", 1)[0].split())
        return re.split(r"(?<=[.:;])\s", paragraph, maxsplit=1)[0].rstrip(".:;") + case
    name = getattr(item, "originalname", None) or str(getattr(item, "name", item))
    return words(name.partition("[")[0]) + case


def params_words(params: str) -> str:
    """A pytest case id in words: "credited-kct_krn-ACCEPT" -> "credited, kct krn, ACCEPT"."""
    parts = re.split(r"-(?=-|[^\d.])", params)  # a dash before a digit may be a minus sign
    return ", ".join(p.replace("_", " ") for p in parts if p)


def words(identifier: str) -> str:
    """`test_relay_test_code[x]` -> "Relay test code (x)"."""
    base, _, params = identifier.partition("[")
    text = base.removeprefix("test_").replace("_", " ").strip()
    text = text[:1].upper() + text[1:]
    return f"{text} ({params.rstrip(']')})" if params else text
