"""The run record: every measurement and test outcome, written as it happens.

One JSON object a line in `results.jsonl`, flushed at once, so a run killed halfway keeps
everything it measured; the HTML report is a view of this record. A measurement carries its
limits, and its verdict follows from them (OpenHTF style): recording comes first, so one bad
value never hides the others.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Measurement:
    """A named value with its unit and limits; `verdict` is PASS, FAIL or INFO."""

    test: str
    name: str
    value: Any
    unit: str = ""
    low: float | None = None
    high: float | None = None
    nominal: Any = None
    verdict: str = field(init=False)

    def __post_init__(self) -> None:
        self.verdict = judge(self.value, self.low, self.high, self.nominal)

    def limits_text(self) -> str:
        if self.nominal is not None and self.low is None and self.high is None:
            return f"= {self.nominal}"
        if self.low is not None and self.high is not None:
            return f"{self.low:g} .. {self.high:g}"
        if self.low is not None:
            return f">= {self.low:g}"
        if self.high is not None:
            return f"<= {self.high:g}"
        return ""


def judge(value: Any, low: float | None, high: float | None, nominal: Any = None) -> str:
    """PASS/FAIL against the limits (or the expected value); INFO when there are none."""
    if nominal is not None and low is None and high is None:
        return "PASS" if value == nominal else "FAIL"
    if low is None and high is None:
        return "INFO"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "FAIL"
    if math.isnan(number):
        return "FAIL"
    if low is not None and number < low:
        return "FAIL"
    if high is not None and number > high:
        return "FAIL"
    return "PASS"


class ResultsFile:
    """Appends JSON lines to results.jsonl; each line is flushed to disk as written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, kind: str, **data: Any) -> None:
        line = json.dumps({"kind": kind, "time": time.time(), **data}, default=str)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class Recorder:
    """The `record` fixture: one test's measurements."""

    def __init__(self, test: str, results: ResultsFile | None) -> None:
        self.test = test
        self.results = results
        self.measurements: list[Measurement] = []

    def __call__(self, name: str, value: Any, unit: str = "", low: float | None = None,
                 high: float | None = None, *, nominal: Any = None) -> Measurement:
        m = Measurement(self.test, name, value, unit, low, high, nominal)
        self.measurements.append(m)
        if self.results is not None:
            self.results.write("measurement", **asdict(m))
        return m

    @property
    def failed(self) -> list[Measurement]:
        return [m for m in self.measurements if m.verdict == "FAIL"]
