"""A fact read from an optical register the profile declares (IEC 62056-21 R1)."""

from __future__ import annotations

from typing import Any

from meterprofile import RegisterSource
from meterprofile.fact_catalogue import Fact
from rig.meter.sources import FactReading, parse_value


class RegisterFact:
    """Reads one declared register; fact value = register value x scale."""

    kind = "register"

    def __init__(self, optical: Any, src: RegisterSource) -> None:
        self.optical = optical
        self.src = src

    def read(self, fact: Fact) -> FactReading:
        text = self.optical.read(self.src.address).value
        value = parse_value(fact, text, self.src.scale)
        return FactReading(fact.name, value, f"register {self.src.address}", self.kind)
