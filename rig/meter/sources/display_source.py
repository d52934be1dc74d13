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
from rig.meter.sources import FactReading, FactUnavailable, parse_value

_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def parse_display(fact: Fact, src: DisplaySource, text: str) -> Any:
    """The fact's value from the display text, as `src` says (ValueError naming the fact)."""
    if src.parse == "number":
        found = _NUMBER.search(text)
        if not found:
            raise ValueError(f"fact '{fact.name}': the display shows {text!r}, no number")
        return float(found[0]) * src.scale
    if src.parse == "flag":
        return re.search(src.pattern or "", text) is not None
    if src.parse == "regex":
        found = re.search(src.pattern or "", text)
        if not found:
            raise ValueError(f"fact '{fact.name}': the display shows {text!r}, which does not "
                             f"match {src.pattern!r}")
        return parse_value(fact, found[1], src.scale) if fact.kind == "number" else found[1]
    return text


class DisplayFact:
    """Types the declared code (if any) and reads the display."""

    kind = "display"

    def __init__(self, reader: Any, type_keys: Callable[[str], Any], src: DisplaySource,
                 timeout_s: float = 10.0) -> None:
        self.reader = reader
        self.type_keys = type_keys
        self.src = src
        self.timeout_s = timeout_s

    def read(self, fact: Fact) -> FactReading:
        if self.reader is None:
            raise FactUnavailable(fact.name, "declared on the display, and the bench has no "
                                             "camera on it (bench file [meter] camera)")
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
