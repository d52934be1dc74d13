"""A fact read from an optical register the profile declares (IEC 62056-21 R1)."""

from __future__ import annotations

from typing import Any

from meterprofile import RegisterSource
from meterprofile.fact_catalogue import Fact
from rig.meter.entry_result import EntryResult
from rig.meter.sources.registry import (
    BenchAccess,
    FactReading,
    ReaderBase,
    fact_source,
    parse_value,
)


@fact_source("register")
class RegisterFact(ReaderBase):
    """Reads one declared register; fact value = register value x scale."""

    needs = ("optical",)
    meter_reported = True

    def __init__(self, optical: Any, src: RegisterSource) -> None:
        self.optical = optical
        self.src = src

    @classmethod
    def declared(cls, src: Any) -> str:
        return "as a register"

    @classmethod
    def bind(cls, src: Any, access: BenchAccess) -> RegisterFact:
        return cls(access.bench.optical, src)

    def read(self, fact: Fact) -> FactReading:
        text = self.optical.read(self.src.address).value
        value = parse_value(fact, text, self.src.scale)
        return FactReading(fact.name, value, f"register {self.src.address}", self.kind)

    def entry_result(self, meter: Any, keys: str, press_ms: float | None,
                     gap_ms: float | None, code: bool) -> EntryResult:
        """The result register, once the entry counter moved (where the model has one)."""
        how = self.src.describe()
        messages = meter.profile.display.messages
        counted = meter.offers("entry_count")
        # noted before the entry's first key: no read between its last digit and ENTER
        before = meter.entry_count_before() if counted else None
        _, t_enter = meter.keys(keys, press_ms, gap_ms)
        if counted:
            seen: list[Any] = []

            def moved_on() -> bool:
                seen.append(meter.fact("entry_count"))
                return seen[-1] != before

            if not meter.wait_until(moved_on, 60.0, 0.2):
                return EntryResult("NO_RESULT", meter.display_now(), t_enter, messages, code,
                                   how, self.kind)
            meter.entry_count_seen(seen[-1])
        else:
            meter.wait(1.0)
        return EntryResult(meter.fact("entry_result"), meter.display_now(), t_enter, messages,
                           code, how, self.kind)
