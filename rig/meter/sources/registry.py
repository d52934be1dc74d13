"""The fact source registry: reader classes by profile source tag, and what they share.

`@fact_source(tag)` registers a reader class; `ReaderBase` is what every reader answers;
`FactNotOffered` is the meter layer's "this fact is not offered here"; `BenchAccess` is what a
reader may use of the bench, and `NEEDS` why a bench without it cannot offer the fact. The
package `rig.meter.sources` re-exports these and loads the packaged readers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from meterprofile.fact_catalogue import Fact

__all__ = [
    "NEEDS", "SOURCES", "BenchAccess", "FactNotOffered", "FactReading", "FactUnavailable",
    "ReaderBase", "ReadingBasis", "fact_source", "not_offered", "parse_value", "reader_for",
]


class FactNotOffered(LookupError):
    """The meter under test does not offer this fact by any declared source (or the
    source it is declared on cannot be used on this bench): a test needing it is skipped."""

    def __init__(self, fact: str, why: str) -> None:
        super().__init__(f"the meter does not offer fact '{fact}': {why}")
        self.fact = fact
        self.why = why


FactUnavailable = FactNotOffered  # the name plans and tests have used


@dataclass(frozen=True)
class ReadingBasis:
    """The instrument reading a fact was decided from (a flag: the reading against its
    threshold), kept whole so the record can give the reading its U from the instrument's
    specification, the way it gives a measured value one (rig.record.uncertainty)."""

    fact: str
    decided: Any  # the fact's value: True/False for a flag, the reading for a number
    measurement: str  # load_voltage, load_current, load_power
    role: str  # the bench role of the instrument that took the reading
    function: str  # the instrument function (ac_voltage, ac_current, power)
    unit: str
    reading: float
    threshold: float | None  # a flag: true above this; None: a number, the reading itself
    instrument: Any  # the driver that took the reading (its model and *IDN? for the record)


@dataclass(frozen=True)
class FactReading:
    """One fact's value and how it was obtained (for the report: "register C.50.0");
    `basis` the instrument reading it was decided from, where an instrument gave it."""

    fact: str
    value: Any
    how: str
    kind: str  # the source tag: register, display, instrument, operator, ...
    basis: ReadingBasis | None = None


#: what a reader may need of the bench -> why a bench without it cannot offer the fact
NEEDS = {
    "optical": "the bench has no optical port",
    "camera": "the bench has no camera on it (bench file [meter] camera)",
    "operator": "no operator is at this bench",
}


@dataclass(frozen=True)
class BenchAccess:
    """What readers may use: the bench (its optical port and instruments), the display
    reader (None: no camera), the operator (None: nobody at the bench), the keypad."""

    bench: Any
    display: Any = None
    operator: Any = None
    type_keys: Callable[[str], Any] | None = None

    def lacks(self, need: str) -> str | None:
        """Why this bench cannot meet `need` (None: it can)."""
        if need == "camera":
            return None if self.display is not None else NEEDS[need]
        if need == "operator":
            return None if self.operator is not None else NEEDS[need]
        if self.bench.has(need):
            return None
        return NEEDS.get(need, f"the bench has no {need}")


#: source tag -> reader class (every class registered with `@fact_source`)
SOURCES: dict[str, type[ReaderBase]] = {}


def fact_source(tag: str) -> Callable[[type], type]:
    """Class decorator: register a reader class for the profile's source tag `tag`."""

    def register(cls: type) -> type:
        if tag in SOURCES and SOURCES[tag] is not cls:
            raise ValueError(f"a reader for fact source {tag!r} is registered twice")
        cls.kind = tag
        SOURCES[tag] = cls
        return cls

    return register


def reader_for(tag: str) -> type[ReaderBase] | None:
    """The reader class registered for a source tag (None: no reader for it)."""
    return SOURCES.get(tag)


def not_offered(fact: str, cls: type[ReaderBase], src: Any, why: str) -> FactNotOffered:
    """The one wording of "not offered": how the fact is declared, and what is missing."""
    return FactNotOffered(fact, f"declared {cls.declared(src)}, and {why}")


class ReaderBase(ABC):
    """What every reader class answers: a new kind must say how it binds and reads, and
    overrides whatever else differs."""

    kind = ""
    needs: tuple[str, ...] = ()
    offered = True  # False: the tag says the model does not offer the fact
    meter_reported = False  # the meter's own record of the fact (not what a person or an
    # instrument observes, nor its display): a plan may compare it with an instrument

    @classmethod
    def needs_of(cls, src: Any) -> tuple[str, ...]:
        """What this declaration needs of the bench (default: the class's `needs`)."""
        return cls.needs

    @classmethod
    def declared(cls, src: Any) -> str:
        """How the fact is declared, in words: "as a register", "on the display"."""
        return f"as {cls.kind}"

    @classmethod
    @abstractmethod
    def bind(cls, src: Any, access: BenchAccess) -> ReaderBase:
        """A reader for declaration `src` on this bench (its needs are met)."""

    @classmethod
    def shows(cls, text: str, profile: Any) -> str:
        """`text` as the meter shows it through this source (unchanged by default)."""
        return text

    @abstractmethod
    def read(self, fact: Fact) -> FactReading:
        """The fact's value now, and how it was obtained."""

    def entry_result(self, meter: Any, keys: str, press_ms: float | None,
                     gap_ms: float | None, code: bool) -> Any:
        """Type `keys` on `meter` and read the entry's result by this source."""
        raise FactNotOffered("entry_result", f"a {self.kind} source gives no entry results")


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


@fact_source("none")
class NoFact(ReaderBase):
    """The profile declares no source: the fact is not offered, whatever the bench."""

    offered = False

    @classmethod
    def bind(cls, src: Any, access: BenchAccess) -> ReaderBase:
        """Never bound: the resolver asks `offered` first; a caller that did not is told so."""
        raise FactNotOffered(str(getattr(src, "name", "?")), "the profile declares no source")

    def read(self, fact: Fact) -> FactReading:
        raise FactNotOffered(fact.name, "the profile declares no source")
