"""What a compliant meter may show: allowed values per fact, and the deviations seen.

The standard and the profile rarely fix one value: a credit carries the metering tolerance,
a relay that is due to operate within a host-side time bracket may be either way, and where
two refusal reasons apply the standard does not say which one a meter reports. An `Allowed`
is therefore a set of values or a closed interval, with the reason that admits it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Allowed:
    """The values a fact may take: `values` (a set), or `low`..`high`, or anything."""

    values: frozenset[Any] | None = None
    low: float | None = None
    high: float | None = None
    why: str = ""

    @classmethod
    def exactly(cls, value: Any, why: str = "") -> Allowed:
        return cls(values=frozenset([_norm(value)]), why=why)

    @classmethod
    def any_of(cls, values: Iterable[Any], why: str = "") -> Allowed:
        return cls(values=frozenset(_norm(v) for v in values), why=why)

    @classmethod
    def between(cls, low: float, high: float, why: str = "") -> Allowed:
        if low > high:
            raise ValueError(f"allowed interval {low}..{high} is empty ({why})")
        return cls(low=float(low), high=float(high), why=why)

    @classmethod
    def anything(cls, why: str = "") -> Allowed:
        return cls(why=why)

    @property
    def free(self) -> bool:
        """True when every value is allowed (the standard leaves it open)."""
        return self.values is None and self.low is None and self.high is None

    def admits(self, value: Any) -> bool:
        if self.free:
            return True
        if self.values is not None:
            return _norm(value) in self.values
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        return (self.low is None or number >= self.low - 1e-9) and \
            (self.high is None or number <= self.high + 1e-9)

    def describe(self) -> str:
        if self.free:
            return "any"
        if self.values is not None:
            shown = sorted(str(v) for v in self.values)
            return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)
        if self.low == self.high:
            return f"{self.low:g}"
        return f"{self.low:g} .. {self.high:g}"

    def nominal(self) -> Any:
        """One value to print as the expected one (the single value, or the middle)."""
        if self.values is not None:
            return sorted(self.values, key=str)[0] if len(self.values) == 1 else self.describe()
        if self.low is not None and self.high is not None:
            return (self.low + self.high) / 2
        return None


def _norm(value: Any) -> Any:
    """Facts compare as numbers where they are numbers (1 == 1.0 == True)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        number = float(value)
        return int(number) if number.is_integer() else round(number, 6)
    try:
        from decimal import Decimal

        if isinstance(value, Decimal):
            return _norm(float(value))
    except ImportError:  # pragma: no cover
        pass
    return value


@dataclass(frozen=True)
class Deviation:
    """A fact the meter showed outside what a compliant meter may show."""

    fact: str
    observed: Any
    allowed: Allowed
    step: str = ""

    def __str__(self) -> str:
        why = f" ({self.allowed.why})" if self.allowed.why else ""
        where = f" after {self.step}" if self.step else ""
        return f"{self.fact} = {self.observed!r}{where}; a compliant meter shows " \
               f"{self.allowed.describe()}{why}"


@dataclass
class Expectation:
    """What must follow one event: the entry's outcome (tokens and codes) and the facts."""

    event: str
    outcome: Allowed | None = None
    facts: dict[str, Allowed] = field(default_factory=dict)

    def check(self, observed: Mapping[str, Any]) -> list[Deviation]:
        """The deviations of `observed` facts ("outcome" for the entry's outcome); facts
        not observed are not judged."""
        found = []
        if self.outcome is not None and "outcome" in observed \
                and not self.outcome.admits(observed["outcome"]):
            found.append(Deviation("outcome", observed["outcome"], self.outcome, self.event))
        for name, allowed in self.facts.items():
            if name in observed and not allowed.admits(observed[name]):
                found.append(Deviation(name, observed[name], allowed, self.event))
        return found
