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

from rig.record.decision import CONDITIONAL_FAIL, CONDITIONAL_PASS, PROVEN, SIMPLE, decide
from rig.record.run_record import (
    FAILED_OUTCOMES,
    NOT_CONCLUSIVE,
    PASSED_OUTCOMES,
    TestOutcome,
    clause_matrix,
)

STANDARD = re.compile(r"\b((?:ISO/IEC|IEC|SPLN|ILAC|EN)\s+[A-Z]?[\d.]+(?:-\d+)*)\s*:\s*(\d{4})")
LEFT_OUT_OUTCOMES = {"skipped", "xfailed", "not run", "interrupted"}
NOT_CONCLUDED = "NOT CONCLUDED"
NOT_MEASURED = "NOT MEASURED"
#: a skip that says the test does not apply to this item (rig.record.measures.not_applicable)
NOT_APPLICABLE = "not applicable"


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
    source: str = ""        # register, display, instrument, operator, meter, computed
    instrument: dict[str, Any] | None = None
    clause: str = ""
    limits_from: str = ""
    measured: bool = True   # False: declared with the test, never reached (NOT MEASURED)
    rule: str = ""          # the measurement's own decision rule, when it has one
    #: the instrument readings a value (a relay state) was judged on, as the record keeps
    #: them (rig.record.uncertainty.reading_basis); each shown beside the value
    basis: list[dict[str, Any]] = field(default_factory=list)
    #: "lower" when the value is a lower bound (the true value lies above it), "upper" for
    #: an upper bound, "" for a measured value (rig.record.run_record.Measurement.bound)
    bound: str = ""

    def shown_value(self) -> str:
        """The value as the tables print it: "> 0.715" for a lower bound."""
        from rig.record.pytest_html import shown

        return shown(self.value, self.bound)

    def basis_text(self) -> str:
        """What the value was decided from, in words ("relay closed: yes, DMM 229.9 V
        ± 0.84 V (k = 2) against 50 V"), one reading after another."""
        return "; ".join(basis_words(b) for b in self.basis)

    def basis_cells(self) -> list[tuple[str, str]]:
        """(reading with unit, U with unit) of each reading the value was judged on, for
        the reference and U columns of the measurement table."""
        return [basis_cells(b) for b in self.basis]

    def measured_text(self) -> str:
        """value unit ± U (k = 2), as page 1 states a failed result."""
        from rig.record.pytest_html import shown

        if not self.measured:
            return NOT_MEASURED
        text = f"{shown(self.value, self.bound)}{' ' + self.unit if self.unit else ''}"
        big_u = (self.uncertainty or {}).get("U")
        if big_u is not None:
            from rig.record.uncertainty import two_figures

            text += f" ± {two_figures(float(big_u)):g}{' ' + self.unit if self.unit else ''}" \
                    " (k = 2)"
        if self.bound:
            text += f" ({self.bound} bound)"
        if self.basis:
            text += f" ({self.basis_text()})"
        return text

    def expected_text(self) -> str:
        if not self.limits:
            return ""
        unit = f" {self.unit}" if self.unit and not self.limits.startswith("=") else ""
        return f"{self.limits}{unit}"


#: how a report names an instrument role in a sentence
ROLE_WORDS = {"dmm": "DMM", "scope": "scope", "load": "load", "source": "source",
              "power_meter": "power meter"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN: not a figure to print


def at_u(value: float, big_u: float | None) -> str:
    """A reading to the last digit of its U stated to two figures (229.87 ± 0.84), six
    significant digits when there is no U."""
    import math

    from rig.record.uncertainty import two_figures

    if not big_u or not math.isfinite(big_u):
        return f"{value:.6g}"
    digits = max(0, 1 - math.floor(math.log10(abs(two_figures(big_u)))))
    return f"{value:.{min(digits, 9)}f}"


def basis_cells(basis: dict[str, Any]) -> tuple[str, str]:
    """("229.87 V", "0.84 V"): a reading a value was judged on, and its U (k = 2)."""
    from rig.record.uncertainty import two_figures

    unit = f" {basis['unit']}" if basis.get("unit") else ""
    budget = basis.get("uncertainty") if isinstance(basis.get("uncertainty"), dict) else {}
    big_u = _number(budget.get("U"))
    reading = _number(basis.get("reading"))
    return (at_u(reading, big_u) + unit if reading is not None else "",
            f"{two_figures(big_u):g}{unit}" if big_u is not None else "")


def basis_words(basis: dict[str, Any]) -> str:
    """One reading a value was judged on, as page 1 states it: "relay closed: yes, DMM
    229.87 V ± 0.84 V (k = 2) against 50 V" (and, within U of the threshold, that the
    state is not proven). A field the record lacks is left out, never guessed."""
    from rig.record.measures import words
    from rig.record.pytest_html import shown
    from rig.record.uncertainty import two_figures

    fact = words(str(basis.get("fact") or "state")).lower()
    decided = basis.get("decided")
    state = ("yes" if decided else "no") if isinstance(decided, bool) else shown(decided)
    inst = basis.get("instrument") if isinstance(basis.get("instrument"), dict) else {}
    role = str(inst.get("role") or "instrument")
    who = ROLE_WORDS.get(role, role.replace("_", " "))
    unit = str(basis.get("unit") or "")
    unit_text = f" {unit}" if unit else ""
    budget = basis.get("uncertainty") if isinstance(basis.get("uncertainty"), dict) else {}
    big_u = _number(budget.get("U"))
    reading = _number(basis.get("reading"))
    text = f"{fact}: {state}, {who} "
    text += at_u(reading, big_u) + unit_text if reading is not None else "no reading recorded"
    if big_u is not None:
        text += f" ± {two_figures(big_u):g}{unit_text} (k = 2)"
    else:
        text += " (no U recorded)"
    threshold = _number(basis.get("threshold"))
    if threshold is not None:
        text += f" against {threshold:g}{unit_text}"
    if basis.get("safe") is False:
        text += ": within U of the threshold, the state is not proven"
    return text


def basis_of(line: dict[str, Any]) -> list[dict[str, Any]]:
    """The readings a measurement line was judged on (a hand-edited record: only objects)."""
    found = line.get("basis")
    return [b for b in found if isinstance(b, dict)] if isinstance(found, list) else []


#: a plan names how a value was obtained after it: "credit added [register C.90.0]"
_HOW = re.compile(r"^(?P<name>.*?)\s*\[(?P<how>(?:register|display|instrument|operator)[^\]]*)\]$")


def how_obtained(name: str, line: dict[str, Any]) -> tuple[str, str]:
    """(the measurement's name, how its value was obtained) for the report's column. A
    record of this version keeps it in fields (`source`, `obtained`); the name is read for
    it only in an older record, which glued it to the name."""
    if line.get("source") or line.get("obtained"):
        return name, str(line.get("obtained") or line.get("source"))
    found = _HOW.match(name)
    if found:
        return found["name"], found["how"]
    if name.startswith("operator-observed"):
        return name, "operator"
    unc = line.get("uncertainty")
    inst = line.get("instrument")
    model = (inst.get("model") if isinstance(inst, dict) else inst) or (
        unc.get("model") if isinstance(unc, dict) else None)
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
    title: str = ""
    declared: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "not run"
    phase: str = ""
    duration: float = 0.0
    reason: str = ""
    rows: list[Row] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.test.split("::", 1)[-1]

    @property
    def name(self) -> str:
        """The test in words: its declared title (docstring), else its name spelt out."""
        from rig.record.measures import words

        return self.title or words(self.short)

    @property
    def not_applicable(self) -> bool:
        return self.outcome == "skipped" and self.reason.startswith(NOT_APPLICABLE)

    def failed_rows(self) -> list[Row]:
        return [r for r in self.rows if r.decision in ("FAIL", CONDITIONAL_FAIL)
                or r.verdict == "FAIL"]

    def unreached_rows(self) -> list[Row]:
        """The declared measurements the test never reached (NOT MEASURED)."""
        return [r for r in self.rows if not r.measured]

    @property
    def reason_text(self) -> str:
        """The failure or skip reason as a reader takes it: an exception's class without
        its module path ("AnswerError: scope ..." not "drivers.instruments.errors....")."""
        return _MODULE_PATH.sub(r"\1", self.reason)


#: the module path before an exception's class name at the start of a reason
_MODULE_PATH = re.compile(r"^(?:[A-Za-z_]\w*\.)+([A-Z]\w*(?:Error|Exception|Failed|Interrupt)\b)")


@dataclass
class LeftOut:
    test: str
    clauses: list[str]
    reason: str
    title: str = ""


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
        """FAIL when a test failed; NOT CONCLUDED unless every test of the plan ran to a
        verdict (stopped, a partial selection, a test skipped or not run, the bench or the
        meter never up, a record cut off): never a PASS that is not one; CONDITIONAL PASS
        under the guarded rule with a result within U of a limit; PASS otherwise."""
        outcomes = [t.outcome for t in self.tests.values()]
        if any(o in FAILED_OUTCOMES for o in outcomes):
            return "FAIL"
        if self.not_concluded():
            return NOT_CONCLUDED
        if self.conditional():
            return CONDITIONAL_PASS
        return "PASS"

    def not_concluded(self) -> list[str]:
        """Why the run reached no overall verdict (empty: it did)."""
        end = self.end or {}
        why: list[str] = []
        if self.bench_error:
            why.append(f"the bench did not come up: {self.bench_error}")
        elif self.meter_error:
            why.append(f"the meter did not come up: {self.meter_error}")
        if self.incomplete:
            why.append(f"the run record ends at line {self.lines} without the run's end "
                       "(the run was killed)")
        if end.get("stopped"):
            done = sum(t.outcome not in ("not run", "interrupted")
                       for t in self.tests.values())
            why.append(f"stopped by {end['stopped']} after {done} of {len(self.tests)} tests")
        selected = [x for x in self.left_out if x.reason.startswith(("-k", "-m", "--",
                                                                     "deselected"))]
        if selected:
            reasons = sorted({x.reason for x in selected})
            why.append(f"partial selection ({'; '.join(reasons)}): {len(selected)} test(s) "
                       "of the plan left out")
        if self.files_not_run:
            why.append(f"plan file(s) not run: {', '.join(self.files_not_run)}")
        skipped = [t for t in self.tests.values()
                   if t.outcome in ("skipped", "xfailed") and not t.not_applicable]
        for t in skipped:
            why.append(f"{t.name}: skipped ({t.reason or 'no reason recorded'})")
        not_run = [t for t in self.tests.values() if t.outcome in ("not run", "interrupted")]
        if not_run and not end.get("stopped") and not self.incomplete:
            why.append(f"{len(not_run)} test(s) not run")
        for t in self.tests.values():  # outside a limit by less than U, the test not failed
            if t.outcome in PASSED_OUTCOMES:
                why += [f"{t.name}: {r.name} = {r.measured_text()} lies outside its limits "
                        f"({r.expected_text()}) by less than U: neither conformity nor "
                        "non-conformity is shown" for r in t.rows
                        if r.decision == CONDITIONAL_FAIL]
        for t in self.tests.values():  # a bound on the open side of a limit: no statement
            why += [f"{t.name}: {r.name} = {r.measured_text()} is a bound that allows values "
                    f"on both sides of its limits ({r.expected_text()}): neither conformity "
                    "nor non-conformity is shown" for r in t.rows
                    if r.decision == NOT_CONCLUSIVE]
        judged = [t for t in self.tests.values()  # a failed test reached its verdict too
                  if t.outcome in PASSED_OUTCOMES or t.outcome == "failed"]
        if not why and (end.get("no_verdict") or not judged):
            why.append(str(end.get("no_verdict") or "no test reached a verdict"))
        return why

    def verdict_note(self) -> str:
        verdict = self.verdict()
        if verdict == NOT_CONCLUDED:
            return "; ".join(self.not_concluded())
        if verdict == "FAIL":
            if self.incomplete or self.partial or self.not_concluded():
                return "a test failed; the run also did not run the whole plan: " \
                       + "; ".join(self.not_concluded())
            return "every test of the plan was run; at least one failed"
        return "every test of the plan was run and passed"

    def not_applicable(self) -> list[TestEntry]:
        return [t for t in self.tests.values() if t.not_applicable]

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
    own = (line.get("decision") or {}).get("rule")
    if own == PROVEN:  # the measurement's own rule, recorded with it, over the report's
        rule = own
    bound = str(line.get("bound") or "")
    decision = decide(line.get("value"), line.get("low"), line.get("high"), big_u,
                      line.get("verdict", "INFO"), rule, bound=bound)
    basis = basis_of(line)
    if any(b.get("safe") is False for b in basis):  # the state itself is not proven
        from rig.record.run_record import basis_decision

        decision = basis_decision(str(line.get("verdict", "INFO")), rule)
    ref = line.get("reference")
    name, how = how_obtained(str(line.get("name", "")), line)
    inst = line.get("instrument")
    # an instrument's own reading, or a bound, has no error against a reference
    own_reading = bound or (line.get("source") == "instrument" and ref == line.get("value"))
    return Row(name=name, how=how, value=line.get("value"),
               unit=line.get("unit") or "", limits=line.get("limits") or "",
               verdict=line.get("verdict", "INFO"), decision=decision.verdict,
               near_limit=decision.near_limit, low=line.get("low"), high=line.get("high"),
               reference=ref, error_pct=_error_pct(line.get("value"), ref)
               if ref is not None and not own_reading else None,
               limit_pct=_limit_pct(line.get("low"), line.get("high"), ref)
               if ref is not None and not own_reading else None,
               uncertainty=unc if isinstance(unc, dict) else None,
               bench_time=line.get("bench_time"), source=str(line.get("source") or ""),
               instrument=inst if isinstance(inst, dict) else None,
               clause=str(line.get("clause") or ""),
               limits_from=str(line.get("limits_from") or ""),
               rule=own if own == PROVEN else "", basis=basis, bound=bound)


def resolved_limits(declared: dict[str, Any], values: dict[str, Any]) -> str:
    """The limits of a declaration with their names replaced by this run's figures (the
    profile's declared values the record keeps, the standard's figures): "0 .. 0.1"; the
    declared text when a name cannot be resolved or the limits are a band around a
    reference the test never took."""
    from rig.record.measures import STANDARD
    from rig.record.run_record import _fmt

    def figure(name: Any) -> str | None:
        if not name:
            return None
        if name in STANDARD:
            return _fmt(STANDARD[name][0])
        value = values.get(name)
        try:
            return _fmt(float(value)) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    text = str(declared.get("limits") or "")
    if declared.get("tolerance"):
        return text
    low, high = figure(declared.get("low")), figure(declared.get("high"))
    if declared.get("low") and declared.get("high"):
        return f"{low} .. {high}" if low and high else text
    if declared.get("high"):
        return f"<= {high}" if high else text
    if declared.get("low"):
        return f">= {low}" if low else text
    return text


def not_measured_row(declared: dict[str, Any], values: dict[str, Any] | None = None) -> Row:
    """A measurement the test declared and never reached (its limits as this run's figures
    where the record holds them, by name otherwise)."""
    return Row(name=str(declared.get("name", "")), value=None,
               unit=str(declared.get("unit") or ""),
               limits=resolved_limits(declared, values or {}),
               limits_from=str(declared.get("limits") or ""),
               verdict=NOT_MEASURED, decision=NOT_MEASURED, near_limit=False,
               how=str(declared.get("obtained_as") or declared.get("instrument")
                       or declared.get("fact") or ""),
               source=str(declared.get("source") or ""),
               clause=str(declared.get("clause") or ""), measured=False)


def build(lines: list[dict[str, Any]]) -> RunReport:
    """The report of a run record's lines (in order)."""
    if not lines:
        raise RecordError("the results file is empty (the run wrote no line: it "
                          "never started, or the disk could not hold its first)")
    start = next((x for x in lines if x.get("kind") == "run_start"), None)
    if start is None:
        raise RecordError(f"the results file has no run_start line (first line: "
                          f"{lines[0].get('kind')!r})")
    context = next((x for x in lines if x.get("kind") == "report_context"), {})
    rule = context.get("decision_rule") or SIMPLE
    tests: dict[str, TestEntry] = {}
    for sel in context.get("selected", []):
        tests[sel["test"]] = TestEntry(sel["test"], list(sel.get("clauses", [])),
                                       list(sel.get("faults") or []),
                                       str(sel.get("title") or ""),
                                       list(sel.get("measures") or []))
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
    report.left_out = [LeftOut(d["test"], list(d.get("clauses", [])), d.get("reason", ""),
                               str(d.get("title") or ""))
                       for d in context.get("deselected", [])]
    values = {str(row[0]): row[1] for row in start.get("declared") or []
              if isinstance(row, list | tuple) and len(row) >= 2}
    for test in tests.values():  # declared, never reached: NOT MEASURED (once it ran)
        if test.outcome in ("not run",) or not test.declared:
            continue
        reached = {r.name for r in test.rows}
        test.rows += [not_measured_row(d, values) for d in test.declared
                      if d.get("name") not in reached]
    for test in tests.values():
        if end is None and test.outcome == "not run":
            continue  # not reached: the INCOMPLETE stamp says where the record ends
        if test.outcome in LEFT_OUT_OUTCOMES and not test.not_applicable:
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
    from rig.record.record_schema import RecordInvalid, read_valid

    try:  # every line checked against the record's schema (a record from elsewhere too)
        lines = read_valid(path)
    except RecordInvalid as exc:
        raise RecordError(f"{path.name} {exc}") from None
    return build(lines)


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


def stamps(report: RunReport) -> list[str]:
    """The stamps page 1 carries: INCOMPLETE, PARTIAL, EMULATED BENCH."""
    return [s for s, on in (("INCOMPLETE", report.incomplete), ("PARTIAL", report.partial),
                            ("EMULATED BENCH", report.emulated)) if on]


def verdict_lines(report: RunReport) -> list[str]:
    """The console's closing lines: the overall verdict with its reason, the stamps."""
    verdict = report.verdict()
    lines = [f"overall verdict: {verdict}"
             + (f" ({report.verdict_note()})" if verdict != "PASS" else "")]
    marks = stamps(report)
    lines.append(f"stamps: {', '.join(marks) if marks else 'none'}")
    return lines
