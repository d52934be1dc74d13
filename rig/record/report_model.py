"""The report's content, read from the run record (results.jsonl) alone.

One pass over the record's lines builds a `RunReport`: the run's identity and context, each
test with its measurements (with uncertainty and the decision under the declared rule) and
plots, what was left out (a PARTIAL run), whether the record ends without `run_end` (an
INCOMPLETE run, naming its last line), and the overall verdict. Both the end of a run and
`rig report RUN_DIR` render from this, so a killed run gets the same document.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.record.decision import CONDITIONAL_FAIL, CONDITIONAL_PASS, SIMPLE, decide
from rig.record.run_record import (
    FAILED_OUTCOMES,
    PASSED_OUTCOMES,
    TestOutcome,
    clause_matrix,
    read_record,
)

STANDARD = re.compile(r"\b((?:ISO/IEC|IEC|SPLN|ILAC|EN)\s+[A-Z]?[\d.]+(?:-\d+)*)\s*:\s*(\d{4})")
LEFT_OUT_OUTCOMES = {"skipped", "xfailed", "not run", "interrupted"}


class RecordError(ValueError):
    """A results file the report cannot be built from (missing, empty, no run_start)."""


@dataclass
class Row:
    """One measurement as the report shows it."""

    name: str
    value: Any
    unit: str
    limits: str
    verdict: str            # as recorded (simple acceptance)
    decision: str           # under the report's decision rule
    near_limit: bool
    low: Any = None
    high: Any = None
    reference: Any = None
    error_pct: float | None = None
    limit_pct: float | None = None
    uncertainty: dict[str, Any] | None = None
    bench_time: float | None = None
    how: str = ""           # how the value was obtained: register, display, instrument, operator


#: a plan names how a value was obtained after it: "credit added [register C.90.0]"
_HOW = re.compile(r"^(?P<name>.*?)\s*\[(?P<how>(?:register|display|instrument|operator)[^\]]*)\]$")


def how_obtained(name: str, line: dict[str, Any]) -> tuple[str, str]:
    """(the measurement's name, how its value was obtained) for the report's column."""
    found = _HOW.match(name)
    if found:
        return found["name"], found["how"]
    if name.startswith("operator-observed"):
        return name, "operator"
    unc = line.get("uncertainty")
    model = line.get("instrument") or (unc.get("model") if isinstance(unc, dict) else None)
    if model:
        return name, f"instrument {model}"
    return name, ""


@dataclass
class Plot:
    title: str
    png_base64: str


@dataclass
class TestEntry:
    """One test: its outcome line (once it ended), its measurements and plots."""

    __test__ = False

    test: str
    clauses: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    outcome: str = "not run"
    phase: str = ""
    duration: float = 0.0
    reason: str = ""
    rows: list[Row] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.test.split("::", 1)[-1]


@dataclass
class LeftOut:
    test: str
    clauses: list[str]
    reason: str


@dataclass
class RunReport:
    run_id: str
    start: dict[str, Any]
    context: dict[str, Any]
    tests: dict[str, TestEntry]
    end: dict[str, Any] | None
    last_line: dict[str, Any]
    lines: int
    rule: str = SIMPLE
    left_out: list[LeftOut] = field(default_factory=list)
    files_not_run: list[str] = field(default_factory=list)

    # --- state of the run -------------------------------------------------------------------

    @property
    def incomplete(self) -> bool:
        return self.end is None

    @property
    def partial(self) -> bool:
        return bool(self.left_out or self.files_not_run)

    @property
    def emulated(self) -> bool:
        return bool(self.start.get("emulated"))

    @property
    def bench_error(self) -> str | None:
        return (self.end or {}).get("bench_error") or self.start.get("bench_error")

    @property
    def meter_error(self) -> str | None:
        return (self.end or {}).get("meter_error") or self.start.get("meter_error")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for test in self.tests.values():
            out[test.outcome] = out.get(test.outcome, 0) + 1
        return out

    def matrix(self) -> list[dict[str, Any]]:
        return clause_matrix(TestOutcome(t.test, t.clauses, t.faults, t.outcome)
                             for t in self.tests.values())

    def failures(self) -> list[TestEntry]:
        return [t for t in self.tests.values() if t.outcome in FAILED_OUTCOMES]

    def conditional(self) -> list[tuple[TestEntry, Row]]:
        return [(t, r) for t in self.tests.values() for r in t.rows
                if r.decision in (CONDITIONAL_PASS, CONDITIONAL_FAIL)]

    def near_limit(self) -> list[tuple[TestEntry, Row]]:
        return [(t, r) for t in self.tests.values() for r in t.rows if r.near_limit]

    def verdict(self) -> str:
        """FAIL when a test failed; NO VERDICT when none reached one (or the record is cut
        off before any did); CONDITIONAL PASS under the guarded rule with a result within
        U of a limit; PASS otherwise."""
        outcomes = [t.outcome for t in self.tests.values()]
        if any(o in FAILED_OUTCOMES for o in outcomes):
            return "FAIL"
        judged = any(o in PASSED_OUTCOMES for o in outcomes)
        if (self.end or {}).get("no_verdict") or self.incomplete or not judged:
            return "NO VERDICT"
        if self.conditional():
            return CONDITIONAL_PASS
        return "PASS"

    def verdict_note(self) -> str:
        verdict = self.verdict()
        if verdict == "NO VERDICT":
            if (self.end or {}).get("no_verdict"):
                return str(self.end["no_verdict"])  # type: ignore[index]
            if self.bench_error:
                return f"the bench did not come up: {self.bench_error}"
            if self.meter_error:
                return f"the meter did not come up: {self.meter_error}"
            if self.incomplete:
                return "the run record ends before the run did (see INCOMPLETE)"
            return "no test reached a verdict"
        if self.incomplete:
            return "from the tests recorded before the run stopped (see INCOMPLETE)"
        if self.partial:
            return "for the tests run only (see PARTIAL)"
        return "every test of the plan was run"

    def standards(self) -> dict[str, dict[str, list[str]]]:
        """Standard -> edition -> the tests citing it (more than one edition is flagged)."""
        out: dict[str, dict[str, list[str]]] = {}
        for test in self.tests.values():
            for clause in test.clauses:
                for std, year in STANDARD.findall(clause):
                    tests = out.setdefault(std, {}).setdefault(year, [])
                    if test.short not in tests:
                        tests.append(test.short)
        return dict(sorted(out.items()))

    def first_time(self) -> str | None:
        return self.start.get("time")

    def last_time(self) -> str | None:
        return (self.end or self.last_line).get("time")


def _error_pct(value: Any, reference: Any) -> float | None:
    try:
        v, r = float(value), float(reference)
    except (TypeError, ValueError):
        return None
    return None if r == 0 else (v - r) / r * 100


def _limit_pct(low: Any, high: Any, reference: Any) -> float | None:
    """The limit as ± % of the reference, when the limits sit symmetric around it."""
    try:
        lo, hi, r = float(low), float(high), float(reference)
    except (TypeError, ValueError):
        return None
    if r == 0:
        return None
    return max(hi - r, r - lo) / abs(r) * 100


def row_of(line: dict[str, Any], rule: str) -> Row:
    unc = line.get("uncertainty")
    big_u = unc.get("U") if isinstance(unc, dict) else None
    decision = decide(line.get("value"), line.get("low"), line.get("high"), big_u,
                      line.get("verdict", "INFO"), rule)
    ref = line.get("reference")
    name, how = how_obtained(str(line.get("name", "")), line)
    return Row(name=name, how=how, value=line.get("value"),
               unit=line.get("unit") or "", limits=line.get("limits") or "",
               verdict=line.get("verdict", "INFO"), decision=decision.verdict,
               near_limit=decision.near_limit, low=line.get("low"), high=line.get("high"),
               reference=ref, error_pct=_error_pct(line.get("value"), ref) if ref is not None
               else None, limit_pct=_limit_pct(line.get("low"), line.get("high"), ref)
               if ref is not None else None, uncertainty=unc if isinstance(unc, dict) else None,
               bench_time=line.get("bench_time"))


def build(lines: list[dict[str, Any]]) -> RunReport:
    """The report of a run record's lines (in order)."""
    if not lines:
        raise RecordError("the results file is empty")
    start = next((x for x in lines if x.get("kind") == "run_start"), None)
    if start is None:
        raise RecordError(f"the results file has no run_start line (first line: "
                          f"{lines[0].get('kind')!r})")
    context = next((x for x in lines if x.get("kind") == "report_context"), {})
    rule = context.get("decision_rule") or SIMPLE
    tests: dict[str, TestEntry] = {}
    for sel in context.get("selected", []):
        tests[sel["test"]] = TestEntry(sel["test"], list(sel.get("clauses", [])))
    end = None
    for line in lines:
        kind = line.get("kind")
        name = line.get("test")
        if kind in ("measurement", "plot", "test") and name not in tests:
            tests[name] = TestEntry(name)
        if kind == "measurement":
            tests[name].rows.append(row_of(line, rule))
        elif kind == "plot":
            tests[name].plots.append(Plot(str(line.get("title", "")), line.get("png", "")))
        elif kind == "test":
            entry = tests[name]
            entry.clauses = list(line.get("clauses") or entry.clauses)
            entry.faults = list(line.get("faults") or [])
            entry.outcome = line.get("outcome", "not run")
            entry.phase = line.get("phase", "")
            entry.duration = float(line.get("duration") or 0.0)
            entry.reason = line.get("reason") or ""
        elif kind == "run_end":
            end = line
    report = RunReport(run_id=str(start.get("run_id")), start=start, context=context,
                       tests=tests, end=end, last_line=lines[-1], lines=len(lines), rule=rule,
                       files_not_run=list(context.get("files_not_run", [])))
    report.left_out = [LeftOut(d["test"], list(d.get("clauses", [])), d.get("reason", ""))
                       for d in context.get("deselected", [])]
    for test in tests.values():
        if end is None and test.outcome == "not run":
            continue  # not reached: the INCOMPLETE stamp says where the record ends
        if test.outcome in LEFT_OUT_OUTCOMES:
            why = test.reason or {"interrupted": "the run stopped inside it",
                                  "not run": "never started: the run stopped before it"}.get(
                                      test.outcome, "no reason recorded")
            report.left_out.append(LeftOut(test.test, test.clauses, f"{test.outcome}: {why}"))
    return report


def load(run_dir: Path) -> RunReport:
    """The report of a run directory's results.jsonl."""
    path = Path(run_dir) / "results.jsonl"
    if not path.is_file():
        raise RecordError(f"{path} does not exist (a run directory holds results.jsonl)")
    return build(read_record(path))


def local_time(iso: str | None, offset: str | None = None) -> str:
    """A record time (UTC) in the run's time zone, ISO 8601 with its offset."""
    if not iso:
        return "not recorded"
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if offset and re.fullmatch(r"[+-]\d{4}", offset):
        sign = 1 if offset[0] == "+" else -1
        delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        when = when.astimezone(dt.timezone(sign * delta))
    return when.isoformat(timespec="seconds")
