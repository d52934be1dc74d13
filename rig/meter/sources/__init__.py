"""Where a fact comes from: one small reader class per kind of source.

The profile declares, per fact, a source (register, display, instrument, operator, none);
`rig.meter.fact_resolver.FactResolver` binds each declaration to the reader class of its kind
here, the way
labgrid binds a driver to a resource. Every reader answers `read(fact) -> FactReading`, with
the value and how it was obtained, or raises `FactUnavailable` naming the fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meterprofile.fact_catalogue import Fact

__all__ = ["FactReading", "FactUnavailable", "parse_value"]


class FactUnavailable(LookupError):
    """The meter under test does not offer this fact by any declared source (or the
    source it is declared on cannot be used on this bench): a test needing it is skipped."""

    def __init__(self, fact: str, why: str) -> None:
        super().__init__(f"the meter does not offer fact '{fact}': {why}")
        self.fact = fact
        self.why = why


@dataclass(frozen=True)
class FactReading:
    """One fact's value and how it was obtained (for the report: "register C.50.0")."""

    fact: str
    value: Any
    how: str
    kind: str  # register, display, instrument, operator


def parse_value(fact: Fact, text: str, scale: float = 1.0) -> Any:
    """A fact's value from the text a register or display gave (ValueError naming it)."""
    text = text.strip()
    if fact.kind == "number":
        try:
            return float(text) * scale
        except ValueError:
            raise ValueError(f"fact '{fact.name}': {text!r} is not a number") from None
    if fact.kind == "flag":
        if text not in ("0", "1"):
            raise ValueError(f"fact '{fact.name}': {text!r} is not a flag (1 or 0)")
        return text == "1"
    return text
