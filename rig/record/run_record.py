"""The run record: every measurement and test outcome, written as it happens.

One JSON object a line in `results.jsonl`, flushed as written, so a run killed halfway keeps
everything it measured; the HTML report is a view of this record. A measurement carries its
limits and its verdict follows from them (OpenHTF style): recording comes first, so one bad
value never hides the others, and a value outside its limits fails the test on its own.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rig.secret_key import MASK, json_default

PASS, FAIL, INFO = "PASS", "FAIL", "INFO"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _same(value: Any, nominal: Any) -> bool:
    """Equality as a person reads it: 163.9 (float) is the nominal Decimal('163.9')."""
    if isinstance(value, bool) != isinstance(nominal, bool):
        return False  # True is not the measurement 1
    if _is_number(value) and _is_number(nominal):
        try:
            return Decimal(str(value)) == Decimal(str(nominal))
        except InvalidOperation:
            return False
    return value == nominal


def judge(value: Any, low: Any = None, high: Any = None, nominal: Any = None) -> str:
    """PASS/FAIL against the limits, or against `nominal` when there are no limits; INFO
    when there is nothing to judge against. A value that is not a number fails its limits."""
    if low is None and high is None:
        if nominal is None:
            return INFO
        return PASS if _same(value, nominal) else FAIL
    if not _is_number(value):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return FAIL
    number = float(value)
    if math.isnan(number):
        return FAIL
    if low is not None and number < float(low):
        return FAIL
    if high is not None and number > float(high):
        return FAIL
    return PASS


def _fmt(value: Any) -> str:
    """A number as a person reads it: 6 significant digits, not 0.36575900000025285."""
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class Measurement:
    """A named value with its unit and limits; `verdict` (PASS, FAIL, INFO) follows."""

    test: str
    name: str
    value: Any
    unit: str = ""
    low: Any = None
    high: Any = None
    nominal: Any = None
    bench_time: float | None = None
    reference: Any = None  # the instrument's value a meter's value is compared with
    uncertainty: dict[str, Any] | None = None  # rig.record.uncertainty budget (U at k = 2)
    verdict: str = field(init=False)

    def __post_init__(self) -> None:
        self.verdict = judge(self.value, self.low, self.high, self.nominal)

    def limits_text(self) -> str:
        """The limits as the report prints them ("220 .. 240", "<= 0.1", "= ACCEPT")."""
        if self.low is not None and self.high is not None:
            return f"{_fmt(self.low)} .. {_fmt(self.high)}"
        if self.low is not None:
            return f">= {_fmt(self.low)}"
        if self.high is not None:
            return f"<= {_fmt(self.high)}"
        if self.nominal is not None:
            return f"= {_fmt(self.nominal)}"
        return ""

    def summary(self) -> str:
        """One line for a failure message."""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name} = {_fmt(self.value)}{unit} (limits {self.limits_text()})"


def now_iso() -> str:
    """Wall-clock time of a record line (UTC, ISO 8601, milliseconds)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Redactor:
    """Replaces every known secret (in hex or bytes-repr form) in a text.

    The vendor registers each key it holds in the run's keyring; whatever reaches the
    results file or the report goes through here, so a key a plan records or an assertion
    prints by mistake still never lands on disk.
    """

    MASK = MASK

    def __init__(self, keyring: set[bytes] | None = None) -> None:
        self.keyring: set[bytes] = keyring if keyring is not None else set()

    def forms(self) -> list[str]:
        """Every text form of every key: hex (both cases), the bytes repr as Python, JSON
        and HTML write it, and the integer (big- and little-endian)."""
        out: set[str] = set()
        for key in self.keyring:
            key = bytes(key)
            if len(key) < 4 or not any(key):
                continue  # an all-zero "key" is no secret, and its hex is just zeros
            inner = repr(key)[2:-1]
            out.update({key.hex(), key.hex().upper(), inner,
                        json.dumps(inner)[1:-1], html.escape(inner),
                        html.escape(json.dumps(inner)[1:-1])})
            if len(key) >= 6:  # shorter integers turn up by chance in any number
                out.update({str(int.from_bytes(key, "big")),
                            str(int.from_bytes(key, "little"))})
        return sorted(out, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self.forms():
            if form in text:
                text = text.replace(form, self.MASK)
        return text


class RunRecord:
    """`results.jsonl`: appends one JSON object a line, flushed at once, redacted."""

    def __init__(self, path: Path, redact: Callable[[str], str] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._redact = redact or (lambda text: text)
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, kind: str, **data: Any) -> dict[str, Any]:
        """Write one line (`kind`, `time`, then `data`); returns the object written."""
        entry = {"kind": kind, "time": now_iso(), **data}
        line = self._redact(json.dumps(entry, default=json_default))
        with self._lock:
            if self._fh.closed:
                return entry
            self._fh.write(line + "\n")
            self._fh.flush()
        return entry

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def read_record(path: Path) -> list[dict[str, Any]]:
    """The lines of a results file (a truncated last line, from a killed run, is dropped)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class Recorder:
    """The `record` fixture: one test's measurements, each sent to the run record at once.

    `record(name, value, unit, low=..., high=..., nominal=..., at=...)`; `at` is the bench
    time of the measurement when the plan knows it (else the session's estimate, if any).
    """

    def __init__(self, test: str, sink: Callable[[Measurement], None] | None = None,
                 bench_time: Callable[[], float | None] | None = None) -> None:
        self.test = test
        self._sink = sink
        self._bench_time = bench_time
        self.measurements: list[Measurement] = []

    def __call__(self, name: str, value: Any, unit: str = "", low: Any = None,
                 high: Any = None, *, nominal: Any = None, at: float | None = None,
                 reference: Any = None, instrument: Any = None, function: str | None = None,
                 display_resolution: float | None = None) -> Measurement:
        """`instrument` (a driver or a model name) and `function` ("ac_voltage",
        "ac_current", "power", "time_interval") give the value, or the `reference` it is
        compared with, its expanded uncertainty (rig.record.uncertainty)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a measurement needs a name, got {name!r}")
        if low is not None and high is not None and _is_number(low) and _is_number(high) \
                and low > high:
            raise ValueError(f"measurement {name!r}: low limit {low} is above high limit {high}")
        when = at if at is not None else (self._bench_time() if self._bench_time else None)
        m = Measurement(self.test, name, value, unit, low, high, nominal, when, reference)
        if instrument is not None:
            from rig.record.uncertainty import evaluate, model_of

            if function is None:
                raise ValueError(f"measurement {name!r}: an instrument needs its function "
                                 "(ac_voltage, ac_current, power, time_interval)")
            basis = reference if reference is not None else value
            m.uncertainty = evaluate(model_of(instrument), function, float(basis),
                                     display_resolution=display_resolution).as_record()
        self.measurements.append(m)
        if self._sink is not None:
            self._sink(m)
        return m

    @property
    def failed(self) -> list[Measurement]:
        return [m for m in self.measurements if m.verdict == FAIL]


def measurement_line(m: Measurement) -> dict[str, Any]:
    """The results-file fields of a measurement."""
    data = asdict(m)
    data["limits"] = m.limits_text()
    return data


# --- test outcomes and the clause matrix -----------------------------------------------------

FAILED_OUTCOMES = {"failed", "error"}
PASSED_OUTCOMES = {"passed", "xpassed"}


@dataclass
class TestOutcome:
    """What the record keeps of one test."""

    __test__ = False  # a record, not a test class for pytest to collect

    test: str
    clauses: list[str]
    faults: list[str] = field(default_factory=list)
    outcome: str = "not run"
    phase: str = ""
    duration: float = 0.0
    reason: str = ""


def clause_matrix(tests: Iterable[TestOutcome]) -> list[dict[str, Any]]:
    """Each clause, its tests and its verdict: FAIL if any test failed, PASS if all passed,
    SKIPPED if none failed but some were skipped, NOT RUN if none ran (to its end)."""
    by_clause: dict[str, list[TestOutcome]] = {}
    for test in tests:
        for clause in test.clauses:
            by_clause.setdefault(clause, []).append(test)
    rows = []
    for clause in sorted(by_clause):
        outcomes = [t.outcome for t in by_clause[clause]]
        if any(o in FAILED_OUTCOMES for o in outcomes):
            verdict = "FAIL"
        elif all(o in PASSED_OUTCOMES for o in outcomes):
            verdict = "PASS"
        elif any(o not in ("not run", "interrupted") for o in outcomes):
            verdict = "SKIPPED"
        else:
            verdict = "NOT RUN"
        rows.append({"clause": clause, "verdict": verdict,
                     "tests": [{"test": t.test, "outcome": t.outcome}
                               for t in by_clause[clause]]})
    return rows
