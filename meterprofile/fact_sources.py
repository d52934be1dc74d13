"""Where a profile says a fact comes from: one declaration class per source tag.

A profile's `[facts.<name>]` table names a `source` (register, display, instrument,
operator, none) and the keys that kind of source takes. Each kind is a small frozen
dataclass here, registered under its tag with `@declares`; the class itself says how it is
described in the report (`describe`) and which cross-key rules it checks (`problems`). So a
new kind of source is declared in one place, and nothing asks which kind a fact has: the rig
binds each declaration to the reader registered under the same tag
(`rig.meter.sources.fact_source`), the emulator serves `register_facts`.

This module imports nothing of the rig: a declaration says what the profile declares, never
how a bench reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, Strict, StrictStr, TypeAdapter
from pydantic.dataclasses import dataclass

__all__ = [
    "DECLARATIONS", "Declared", "DisplaySource", "InstrumentSource", "NoSource", "OperatorSource",
    "RegisterSource", "declaration", "declares", "register_facts",
]

_CONFIG = ConfigDict(extra="forbid")
Str = StrictStr
Scale = Annotated[float, Strict(), Field(gt=0)]

#: source tag -> declaration class (every class registered with `@declares`)
DECLARATIONS: dict[str, type] = {}
_ADAPTERS: dict[str, TypeAdapter] = {}


def declares(tag: str) -> Callable[[type], type]:
    """Class decorator: register a declaration dataclass under its profile source tag."""

    def register(cls: type) -> type:
        if tag in DECLARATIONS and DECLARATIONS[tag] is not cls:
            raise ValueError(f"fact source tag {tag!r} is declared twice")
        DECLARATIONS[tag] = cls
        _ADAPTERS[tag] = TypeAdapter(cls)
        return cls

    return register


def declaration(data: Any) -> Any:
    """The declaration object of one `[facts.<name>]` table (already one: returned as is).

    Raises ValueError for an unknown tag, pydantic's ValidationError for a bad key."""
    if not isinstance(data, dict):
        if type(data) in DECLARATIONS.values():
            return data
        raise ValueError(f"must be a table with a 'source' key, got {data!r}")
    tag = data.get("source")
    if tag not in DECLARATIONS:
        known = ", ".join(repr(t) for t in DECLARATIONS)
        raise ValueError(f"source must be one of {known}, got {tag!r}")
    return _ADAPTERS[tag].validate_python(data)


class Declared:
    """What every declaration answers (defaults for a source with no extra rules)."""

    def describe(self) -> str:
        """One short line for the report: where the fact comes from."""
        return str(getattr(self, "source", "none"))

    def problems(self, name: str, kind: str, messages: dict[str, str]) -> list[str]:
        """Cross-key rules for fact `name` of catalogue kind `kind` (empty: none broken)."""
        return []


@declares("register")
@dataclass(frozen=True, config=_CONFIG)
class RegisterSource(Declared):
    """An optical register: fact value = register value x scale (e.g. kW x 1000 = W)."""

    source: Literal["register"]
    address: Annotated[Str, Field(pattern=r"^[0-9A-Z]+(\.[0-9A-Z]+)*(\*[0-9]+)?$")]
    unit: Str = ""
    scale: Scale = 1.0
    format: Annotated[Str, Field(pattern=r"^(text|flag|int|%0?[0-9]*\.[0-9]f)$")] = "text"

    def describe(self) -> str:
        return f"register {self.address}"


@declares("display")
@dataclass(frozen=True, config=_CONFIG)
class DisplaySource(Declared):
    """The display: type `code` (a short code; none: read what is shown) and parse the text:
    `text` as shown, `number` (its first number), `regex` (group 1 of `pattern`), `flag`
    (true when `pattern` matches), `message` (an entry result message, display.messages)."""

    source: Literal["display"]
    parse: Literal["text", "number", "regex", "flag", "message"] = "text"
    code: Annotated[Str, Field(pattern=r"^[0-9]{2,6}$")] | None = None
    pattern: Str | None = None
    scale: Scale = 1.0

    def describe(self) -> str:
        return f"display {'code ' + self.code + ' ' if self.code else ''}({self.parse})"

    def problems(self, name: str, kind: str, messages: dict[str, str]) -> list[str]:
        found = []
        if self.parse in ("regex", "flag") and not self.pattern:
            found.append(f"'facts.{name}.pattern' is needed to parse {self.parse!r}")
        if self.parse == "message" and kind != "outcome":
            found.append(f"'facts.{name}.parse' = 'message' is only for entry_result")
        if kind == "outcome" and self.parse != "message":
            found.append(f"'facts.{name}.parse' must be 'message' (the result shown)")
        if kind == "outcome" and not messages:
            found.append(f"'facts.{name}' from the display needs [display.messages]")
        return found


@declares("instrument")
@dataclass(frozen=True, config=_CONFIG)
class InstrumentSource(Declared):
    """A bench instrument: `measurement` (load_voltage, load_current, load_power); a flag
    fact is true above `above` (e.g. relay closed: load voltage above 50 V)."""

    source: Literal["instrument"]
    measurement: Literal["load_voltage", "load_current", "load_power"]
    above: Annotated[float, Strict(), Field(ge=0)] | None = None

    def describe(self) -> str:
        return f"instrument {self.measurement}"

    def problems(self, name: str, kind: str, messages: dict[str, str]) -> list[str]:
        found = []
        if kind == "flag" and self.above is None:
            found.append(f"'facts.{name}.above' is needed for a flag from an instrument")
        if kind not in ("flag", "number"):
            found.append(f"'facts.{name}' is {kind}: no instrument measures it")
        return found


@declares("operator")
@dataclass(frozen=True, config=_CONFIG)
class OperatorSource(Declared):
    """The operator answers `prompt` at the bench (no operator: the fact is not offered)."""

    source: Literal["operator"]
    prompt: Str

    def describe(self) -> str:
        return "operator"


@declares("none")
@dataclass(frozen=True, config=_CONFIG)
class NoSource(Declared):
    """The model does not offer this fact."""

    source: Literal["none"]


def register_facts(facts: dict[str, Any]) -> dict[str, RegisterSource]:
    """The facts declared on optical registers, by fact name (what the port must serve)."""
    return {n: s for n, s in facts.items() if isinstance(s, RegisterSource)}
