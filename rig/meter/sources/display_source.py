"""A fact read off the meter's display through the bench camera (drivers/segment_reader.py).

For a fact behind a short code the code is typed first (the injector, ENTER), then the text
shown is read and parsed as the profile declares: as shown, its first number, a group of a
pattern, a pattern's presence, or an entry result message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from meterprofile import DisplaySource
from meterprofile.fact_catalogue import Fact
from rig.meter.entry_result import COUNTED, EntryResult
from rig.meter.sources.registry import (
    NEEDS,
    BenchAccess,
    FactReading,
    ReaderBase,
    fact_source,
    not_offered,
    parse_value,
)

_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def first_number(text: str) -> float | None:
    """The first number the display text shows ("230.0 V" -> 230.0; None: no number)."""
    found = _NUMBER.search(text)
    return float(found[0]) if found else None


def parse_display(fact: Fact, src: DisplaySource, text: str) -> Any:
    """The fact's value from the display text, as `src` says (ValueError naming the fact)."""
    if src.parse == "number":
        number = first_number(text)
        if number is None:
            raise ValueError(f"fact '{fact.name}': the display shows {text!r}, no number")
        return number * src.scale
    if src.parse == "flag":
        return re.search(src.pattern or "", text) is not None
    if src.parse == "regex":
        found = re.search(src.pattern or "", text)
        if not found:
            raise ValueError(f"fact '{fact.name}': the display shows {text!r}, which does not "
                             f"match {src.pattern!r}")
        return parse_value(fact, found[1], src.scale) if fact.kind == "number" else found[1]
    return text


@fact_source("display")
class DisplayFact(ReaderBase):
    """Types the declared code (if any) and reads the display."""

    needs = ("camera",)

    def __init__(self, reader: Any, type_keys: Callable[[str], Any], src: DisplaySource,
                 timeout_s: float = 10.0) -> None:
        self.reader = reader
        self.type_keys = type_keys
        self.src = src
        self.timeout_s = timeout_s

    @classmethod
    def declared(cls, src: Any) -> str:
        return "on the display"

    @classmethod
    def bind(cls, src: Any, access: BenchAccess) -> DisplayFact:
        return cls(access.display, access.type_keys, src)

    @classmethod
    def shows(cls, text: str, profile: Any) -> str:
        """The 7-segment canonical form of `text` on this model's display layout."""
        from meterprofile.lcd import canonical, profile_layout

        return canonical(text, profile_layout(profile))

    def read(self, fact: Fact) -> FactReading:
        if self.reader is None:
            raise not_offered(fact.name, type(self), self.src, NEEDS["camera"])
        if self.src.code:
            self.type_keys(self.src.code + "#")
            reading = self.reader.read_until(lambda t: t not in ("", self.src.code),
                                             self.timeout_s)
            how = f"display, code {self.src.code}: {reading.text!r}"
        else:
            reading = self.reader.read()
            how = f"display: {reading.text!r}"
        return FactReading(fact.name, parse_display(fact, self.src, reading.text), how,
                           self.kind)

    def entry_result(self, meter: Any, keys: str, press_ms: float | None,
                     gap_ms: float | None, code: bool) -> EntryResult:
        """The message the display shows after ENTER (a code: the value it shows)."""
        messages = meter.profile.display.messages
        shown = set(messages.values())
        typed = keys.rstrip("#").replace("<", "")
        _, t_enter = meter.keys(keys, press_ms, gap_ms)

        def is_result(text: str) -> bool:
            if code:
                return text != "" and text != typed[-8:]
            counted = COUNTED.match(text)
            return text in shown or bool(counted and counted[1] in shown)

        reading = self.reader.read_until(is_result, 30.0)
        return EntryResult(None, reading.text, t_enter, messages, code, "display", self.kind)
