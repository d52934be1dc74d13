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

from rig.record.atomic_files import LineAppender
from rig.secret_key import MASK, json_default

PASS, FAIL, INFO = "PASS", "FAIL", "INFO"
#: a bound inside its limits on the side it leaves open (a relay "later than 0.3 s" against
#: <= 0.5 s): the true value may lie either side of the limit, so neither conformity nor
#: non-conformity is shown. It fails no test and leaves the run NOT CONCLUDED (the lab can
#: sign neither a PASS nor a FAIL on it); a bound past a limit is a plain FAIL.
NOT_CONCLUSIVE = "NOT CONCLUSIVE"
#: what `bound` may say: "" the value is the measured value; "lower" the true value lies
#: above it (an edge later than the scope's screen reaches); "upper" below it
BOUNDS = {"": "", "lower": "> ", "upper": "< "}


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


def judge(value: Any, low: Any = None, high: Any = None, nominal: Any = None,
          bound: str = "") -> str:
    """PASS/FAIL against the limits, or against `nominal` when there are no limits; INFO
    when there is nothing to judge against. A value that is not a number fails its limits.
    A `bound` ("lower": the true value lies above `value`) is judged on every value it
    allows (`judge_bound`)."""
    if bound:
        return judge_bound(value, low, high, nominal, bound)
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


def judge_bound(value: Any, low: Any, high: Any, nominal: Any, bound: str) -> str:
    """The verdict of a bound: FAIL when every value it allows lies outside the limits (a
    lower bound at or above the high limit), PASS when every one lies inside (a lower bound
    at or above a low limit, with no high limit), NOT_CONCLUSIVE otherwise."""
    if bound not in ("lower", "upper"):
        raise ValueError(f"bound {bound!r} is not known (known: lower, upper)")
    if low is None and high is None:
        if nominal is None:
            return INFO
        low = high = nominal  # a value equal to the nominal: inside only at the nominal
    try:
        b = float(value)
    except (TypeError, ValueError):
        return FAIL  # not a number: as a value, it fails its limits
    if math.isnan(b):
        return FAIL
    lo = None if low is None else float(low)
    hi = None if high is None else float(high)
    if bound == "lower":  # the true value lies in (b, +inf)
        if hi is not None and b >= hi:
            return FAIL
        if hi is None and (lo is None or b >= lo):
            return PASS
        return NOT_CONCLUSIVE
    if lo is not None and b <= lo:  # upper: the true value lies in (-inf, b)
        return FAIL
    if lo is None and (hi is None or b <= hi):
        return PASS
    return NOT_CONCLUSIVE


def bound_text(value: Any, bound: str | None, show: Callable[[Any], str] | None = None) -> str:
    """A value as printed with its bound: "> 0.715" for a lower bound, else the value."""
    text = (show or _fmt)(value)
    return BOUNDS.get(bound or "", "") + text


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
    #: how the value was obtained: register, display, instrument, operator, meter (what the
    #: meter answered to an entry) or computed; `obtained` says where exactly
    source: str = ""
    obtained: str = ""
    #: the instrument that measured the value (or its reference): role, model, *IDN?
    instrument: dict[str, Any] | None = None
    clause: str = ""
    title: str = ""          # the declared measurement's words, when it was declared
    limits_from: str = ""    # where the limits come from, by name (profile key, standard)
    error: float | None = None  # value - reference
    decision: dict[str, Any] | None = None  # the decision rule applied, and its verdict
    facts: list[str] | None = None  # the meter facts the value was read as, by name
    #: a value judged on instrument readings (a relay state: the load voltage against a
    #: threshold): each reading, its instrument, U (k = 2), the threshold, and whether the
    #: decision is safe (rig.record.uncertainty.reading_basis)
    basis: list[dict[str, Any]] | None = None
    #: "" for a measured value; "lower" when `value` is a lower bound (the true value lies
    #: above it: no relay edge within the scope's screen), "upper" for an upper bound. The
    #: report prints "> value"; the verdict is judged on every value the bound allows
    bound: str = ""
    verdict: str = field(init=False)

    def __post_init__(self) -> None:
        if self.bound not in BOUNDS:
            raise ValueError(f"measurement {self.name!r}: bound {self.bound!r} is not known "
                             "(known: lower, upper)")
        self.verdict = judge(self.value, self.low, self.high, self.nominal, self.bound)
        if not self.bound and self.reference is not None and _is_number(self.value) \
                and _is_number(self.reference):
            self.error = float(self.value) - float(self.reference)

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
        if self.bound:  # "relay operate time > 0.715 s", not "= > 0.715"
            return f"{self.name} {bound_text(self.value, self.bound)}{unit} " \
                   f"({self.bound} bound; limits {self.limits_text()})"
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


def _numbers_masked(value: Any, redact: Callable[[str], str]) -> Any:
    """`value` with every integer that is a key's integer form replaced by the mask text:
    masked after `json.dumps`, a bare number would leave a line that is not JSON."""
    if isinstance(value, int) and not isinstance(value, bool):
        return MASK if redact(str(value)) != str(value) else value
    if isinstance(value, dict):
        return {k: _numbers_masked(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_numbers_masked(v, redact) for v in value]
    return value


class RunRecord:
    """`results.jsonl`: appends one JSON object a line, flushed at once, redacted."""

    def __init__(self, path: Path, redact: Callable[[str], str] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._redact = redact or (lambda text: text)
        self._fh = LineAppender(path)  # whole lines only, fsync'd at close (atomic_files)
        self._lock = threading.Lock()

    def write(self, kind: str, **data: Any) -> dict[str, Any]:
        """Write one line (`kind`, `time`, then `data`); returns the object written."""
        entry = {"kind": kind, "time": now_iso(), **data}
        line = self._redact(json.dumps(_numbers_masked(entry, self._redact),
                                       default=json_default))
        with self._lock:
            if self._fh.closed:
                return entry
            self._fh.append(line + "\n")
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
    A name declared with the test (rig.record.measures) takes its unit, limits, clause and
    source from the declaration. How the value was obtained is a field (`fact=` names the
    meter fact it was read as; `instrument=` the driver that measured it, or measured the
    `reference` it is compared with), never a part of the name. The uncertainty of a value
    measured with, or compared against, an instrument is the rig's (rig.record.uncertainty):
    the plan says which instrument, function and meter reading, never U. A value read as a
    fact the meter's profile gives by an instrument (`fact="relay_closed"`: the load voltage
    above a threshold) carries that reading as its `basis`, with its U, without the plan
    saying anything more.
    """

    def __init__(self, test: str, sink: Callable[[Measurement], None] | None = None,
                 bench_time: Callable[[], float | None] | None = None, *,
                 declared: Iterable[Any] = (),
                 fact_source: Callable[[str], tuple[str, str]] | None = None,
                 limit_value: Callable[[str], Any] | None = None,
                 instrument_of: Callable[[str], Any] | None = None,
                 rule: str = "simple",
                 fact_basis: Callable[[str], Any] | None = None) -> None:
        self.test = test
        #: fact -> the instrument reading its last value was decided from (the meter's
        #: `FactResolver.basis`), or None; set by the `dut` fixture once the meter is up
        self.fact_basis = fact_basis
        self._sink = sink
        self._bench_time = bench_time
        self._fact_source = fact_source
        self._limit_value = limit_value
        self._instrument_of = instrument_of
        self.rule = rule
        self.declared = {d.name: d for d in declared}
        self.measurements: list[Measurement] = []

    def __call__(self, name: str, value: Any, unit: str = "", low: Any = None,
                 high: Any = None, *, nominal: Any = None, at: float | None = None,
                 reference: Any = None, instrument: Any = None, function: str | None = None,
                 display_resolution: float | None = None, shown: str | None = None,
                 fact: str | tuple[str, ...] | None = None, source: str | None = None,
                 timing: float | None = None, range_: float | None = None,
                 expected: Any = None, tolerance: str | None = None,
                 obtained: str | None = None, scaled_from: float | None = None,
                 rule: str | None = None, basis: Any = None,
                 bound: str = "") -> Measurement:
        """`instrument` (a driver or a model name) and `function` ("ac_voltage",
        "ac_current", "power", "time_interval") give the value, or the `reference` it is
        compared with, its expanded uncertainty (rig.record.uncertainty). `reference` may be
        two readings taken before and after the meter's (the value's timing then adds to
        U); `shown` is the display text the value was read from (its last digit adds);
        `expected` the value a declared tolerance is centred on (kept as the nominal);
        `tolerance` names a ± band around `expected` (a profile key or a figure of
        rig.record.measures.STANDARD) for a measurement not declared; `scaled_from` the
        instrument reading a derived value is proportional to (an energy from a power
        reading: the reading's relative U carries over); `basis` the instrument reading(s)
        a state was judged on outside the meter's facts (`rig.meter.sources.ReadingBasis`,
        with its threshold): recorded with its U as a fact's basis is. `bound="lower"`
        records `value` as a lower bound (the true value lies above it: no edge within the
        scope's screen), printed "> value" and judged on every value it allows."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a measurement needs a name, got {name!r}")
        spec = self.declared.get(name)
        limits_from = ""
        if spec is not None:
            unit = unit or spec.unit
            if instrument is None and spec.instrument and self._instrument_of:
                instrument = self._instrument_of(spec.instrument)
            function = function or spec.function
            fact = fact or spec.fact
            source = source or spec.source
            if low is None and high is None and (nominal is None or expected is not None):
                centre = expected if expected is not None else reference
                low, high, limits_from = spec.limits(self._limit_value, centre)
                if expected is not None:
                    nominal = expected
        if tolerance is not None and low is None and high is None:
            from rig.record.measures import Measure

            band = Measure(name, unit, tolerance=tolerance)
            low, high, limits_from = band.limits(self._limit_value, expected)
            nominal = expected
        if low is not None and high is not None and _is_number(low) and _is_number(high) \
                and low > high:
            raise ValueError(f"measurement {name!r}: low limit {low} is above high limit {high}")
        when = at if at is not None else (self._bench_time() if self._bench_time else None)
        spread = None
        if isinstance(reference, tuple | list):
            readings = [float(r) for r in reference]
            reference = sum(readings) / len(readings)
            spread = (max(readings) - min(readings)) / 2
        m = Measurement(self.test, name, value, unit, low, high, nominal, when, reference,
                        bound=bound)
        m.limits_from = limits_from
        if spec is not None:
            m.clause, m.title = spec.clause, spec.title or ""
            obtained = obtained or spec.obtained_as
            rule = rule or spec.rule
        judged_on = list(basis) if isinstance(basis, list | tuple) else \
            [] if basis is None else [basis]
        if any(getattr(b, "threshold", None) is None for b in judged_on):
            raise ValueError(f"measurement {name!r}: a basis is a reading against its "
                             "threshold (rig.meter.sources.ReadingBasis)")
        if fact:
            facts = (fact,) if isinstance(fact, str) else tuple(fact)
            how = [self._fact_source(f) if self._fact_source else ("", f) for f in facts]
            kinds = {k for k, _ in how if k}
            m.source = source or (kinds.pop() if len(kinds) == 1 else "meter")
            m.obtained = "; ".join(text for _, text in how)
            m.facts = list(facts)
            found = [b for b in map(self.fact_basis, facts) if b is not None] \
                if self.fact_basis else []
            reading = found[0] if len(found) == 1 and found[0].threshold is None else None
            if instrument is None and reading is not None and _is_number(value) \
                    and float(value) == float(reading.reading):
                # a number read as an instrument fact is that instrument's reading: its U
                instrument, function = reading.instrument, reading.function
                m.unit = m.unit or reading.unit
            judged_on += [b for b in found if b.threshold is not None]
        elif source:
            m.source = source
        if obtained:
            m.obtained = obtained
        if judged_on:
            from rig.record.uncertainty import reading_basis

            m.basis = [reading_basis(b) for b in judged_on]
            m.source = m.source or "instrument"
        if instrument is not None:
            from rig.record.uncertainty import evaluate, instrument_identity, model_of

            if function is None:
                raise ValueError(f"measurement {name!r}: an instrument needs its function "
                                 "(ac_voltage, ac_current, power, time_interval)")
            m.instrument = instrument_identity(instrument)
            if not m.source:
                m.source = "instrument"
            if not m.obtained:
                m.obtained = f"{m.instrument.get('role') or 'instrument'} {function}"
            if display_resolution is None and shown is not None:
                from rig.record.measures import last_digit

                display_resolution = last_digit(shown)
            if reference is None and m.source == "instrument":
                m.reference = value  # the instrument's own reading: no meter value beside it
            measured = reference if reference is not None else value
            if spread is not None:
                timing = (timing or 0.0) + spread
            if not _is_number(measured):
                raise ValueError(f"measurement {name!r}: {measured!r} is not a number to give "
                                 "an uncertainty")
            if scaled_from is None:
                m.uncertainty = evaluate(model_of(instrument), function, float(measured),
                                         display_resolution=display_resolution,
                                         timing=timing, range_=range_).as_record()
            else:
                m.uncertainty = scaled_budget(
                    evaluate(model_of(instrument), function, float(scaled_from),
                             range_=range_).as_record(),
                    float(measured) / float(scaled_from) if float(scaled_from) else 0.0,
                    display_resolution, timing)
        from rig.record.decision import decide

        big_u = m.uncertainty.get("U") if m.uncertainty else None
        rule = rule or self.rule
        decided = decide(m.value, m.low, m.high, big_u, m.verdict, rule, bound=m.bound)
        if any(b.get("safe") is False for b in m.basis or ()):
            decided = basis_decision(m.verdict, rule)
        m.decision = {"rule": rule, "verdict": decided.verdict,
                      "near_limit": decided.near_limit}
        self.measurements.append(m)
        if self._sink is not None:
            self._sink(m)
        return m

    def reached(self) -> set[str]:
        return {m.name for m in self.measurements}

    @property
    def failed(self) -> list[Measurement]:
        """The measurements that fail their test: outside their limits, except under a
        measurement's own rule that fails only a proven non-conformity (decision.PROVEN)."""
        from rig.record.decision import PROVEN

        return [m for m in self.measurements if m.verdict == FAIL and not (
            m.decision and m.decision.get("rule") == PROVEN and m.decision["verdict"] != FAIL)]


def basis_decision(verdict: str, rule: str) -> Any:
    """The decision of a value judged on an instrument reading that lies within U of its
    threshold (a relay state read off a load voltage near it): the state is not proven.
    Simple acceptance keeps the verdict, marked; guarded gives CONDITIONAL PASS/FAIL; the
    proven rule keeps a PASS (marked) and makes a FAIL a CONDITIONAL FAIL (ILAC G8)."""
    from rig.record.decision import (
        CONDITIONAL_FAIL,
        CONDITIONAL_PASS,
        PROVEN,
        SIMPLE,
        Decision,
        rule_text,
    )

    rule_text(rule)  # an unknown rule is named, as decide() names it
    if rule == SIMPLE or verdict not in (PASS, FAIL) or (rule == PROVEN and verdict == PASS):
        return Decision(verdict, True)
    return Decision(CONDITIONAL_PASS if verdict == PASS else CONDITIONAL_FAIL, True)


def scaled_budget(budget: dict[str, Any], factor: float, display_resolution: float | None,
                  timing: float | None) -> dict[str, Any]:
    """The budget of a value proportional to an instrument reading (value = factor ·
    reading): the reading's contributions scaled, the display and timing ones added."""
    out = dict(budget)
    for key in ("u_instrument", "u_resolution"):
        out[key] = abs(float(budget.get(key) or 0.0) * factor)
    out["u_display"] = (display_resolution / 2) / math.sqrt(3) if display_resolution else 0.0
    out["u_timing"] = abs(timing) / math.sqrt(3) if timing else 0.0
    out["u_combined"] = math.sqrt(sum(out[k] ** 2 for k in ("u_instrument", "u_resolution",
                                                            "u_display", "u_timing")))
    out["U"] = float(budget.get("k") or 2.0) * out["u_combined"]
    out["scaled_from_reading"] = True
    return out


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
