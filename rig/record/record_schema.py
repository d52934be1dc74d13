"""The shape of a run record's lines, checked before a report is built from them.

`rig report` renders records it did not write (a record copied from another bench, or edited
by hand), so each line is validated against the fields the report reads: a line that is not
a JSON object, a duration that is not a number, a time that is not an ISO 8601 text, an
identity that is not an object, a test without its node id, a byte that is not UTF-8. The
first problem is one `RecordInvalid` naming the line number and the field; fields the report
does not read are left alone (extra fields are allowed, so a newer record still renders).
A torn last line (a run killed while writing it) is dropped, as the record's readers always
have; a torn line anywhere else is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict, ValidationError

from rig.record.safe_text import visible

Text = Annotated[str, Strict()]
Number = Annotated[float, Strict()]  # an int or a float; never "abc", "1.5" or a bool
Count = Annotated[int, Strict()]


def _iso_time(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(f"an ISO 8601 time text is needed, got {type(value).__name__}")
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 time") from None
    return value


Time = Annotated[str, BeforeValidator(_iso_time)]


def _known_rule(value: Any) -> Any:
    from rig.record.decision import RULES

    if isinstance(value, str) and value not in RULES:
        raise ValueError(f"not a decision rule ({', '.join(RULES)})")
    return value


Rule = Annotated[Text | None, BeforeValidator(_known_rule)]


def _known_bound(value: Any) -> Any:
    from rig.record.run_record import BOUNDS

    if isinstance(value, str) and value not in BOUNDS:
        raise ValueError("not a bound (lower, upper, or empty for a measured value)")
    return value


Bound = Annotated[Text | None, BeforeValidator(_known_bound)]


class RecordInvalid(ValueError):
    """A results file line the report cannot be built from: names the line and the field."""


class _Line(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: Text
    time: Time | None = None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Selected(_Open):
    test: Text
    clauses: list[Text] = []
    reason: Text = ""


class _Instrument(_Open):
    model: Text | None = None
    idn: Text | None = None
    resource: Text | None = None


class _Keypad(_Open):
    idn: Text | None = None
    port: Text | None = None


class _Identity(_Open):
    meter: dict[str, Any] = {}
    keypad: _Keypad | None = None
    instruments: dict[str, _Instrument] = {}
    faults: list[Text] = []


class _Plan(_Open):
    rig_version: Text | None = None
    git_commit: Text | None = None
    sha256: Text | None = None
    files: list[Text] = []


class _Budget(_Open):
    U: Number | None = None  # the expanded uncertainty the decision rule uses


#: a declared value as the record holds it: (key, value, unit)
Declared = tuple[Text, Any, Any]


class RunStart(_Line):
    run_id: Text | None = None
    rig_version: Text | None = None
    bench_file: Text | None = None
    bench: Text | None = None
    emulated: bool | None = None
    profile: Text | None = None
    identity: _Identity | None = None
    declared: list[Declared] = []
    bench_error: Text | None = None
    meter_error: Text | None = None
    argv: list[Text] | None = None


class ReportContext(_Line):
    title: Text | None = None
    operator: Text | None = None
    operator_source: Text | None = None
    lab: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None
    item: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    plan: _Plan | None = None
    decision_rule: Rule = None
    utc_offset: Text | None = None
    selected: list[_Selected] = []
    deselected: list[_Selected] = []
    files_not_run: list[Text] = []
    declared_hidden: list[Text] | None = None
    declared_sources: dict[str, Any] | None = None


class MeasurementLine(_Line):
    test: Text
    name: Text
    unit: Text | None = None
    limits: Text | None = None
    verdict: Text = "INFO"
    bench_time: Number | None = None
    uncertainty: _Budget | None = None
    bound: Bound = None  # "lower": the value is a lower bound (printed "> value")


class PlotLine(_Line):
    test: Text
    title: Text | None = None
    png: Text


class TestLine(_Line):
    __test__ = False  # a record line, not a test class for pytest

    test: Text
    outcome: Text
    phase: Text | None = None
    duration: Number | None = None
    clauses: list[Text] | None = None
    faults: list[Text] | None = None
    reason: Text | None = None


class RunEnd(_Line):
    counts: dict[str, Count] | None = None
    exitstatus: Count | None = None
    bench_error: Text | None = None
    meter_error: Text | None = None
    stopped: Text | None = None
    no_verdict: Text | None = None
    teardown_errors: list[Text] | None = None


SCHEMAS: dict[str, type[_Line]] = {
    "run_start": RunStart, "report_context": ReportContext, "measurement": MeasurementLine,
    "plot": PlotLine, "test": TestLine, "run_end": RunEnd}


def _problem(exc: ValidationError, kind: str) -> str:
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in err["loc"])
    shown = visible(repr(err.get("input")))
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{kind}.{field}: {err['msg'].lower()} (got {shown})"


def validate_line(obj: Any, number: int) -> dict[str, Any]:
    """One decoded line, checked; RecordInvalid names the line `number` and the field."""
    if not isinstance(obj, dict):
        raise RecordInvalid(f"line {number}: not a JSON object (a {type(obj).__name__})")
    kind = obj.get("kind")
    schema = SCHEMAS.get(kind, _Line) if isinstance(kind, str) else _Line
    try:
        schema.model_validate(obj)
    except ValidationError as exc:
        raise RecordInvalid(f"line {number}: {_problem(exc, str(kind))}") from None
    return obj


RECORD_MAX = 256 * 1024 * 1024  # bytes of a results file (a whole plan's run: about 1 MB)


def read_record_bytes(path: Path) -> bytes:
    """A results file's bytes through the rig's one bounded reader: a FIFO (which would
    block for ever), a device such as /dev/zero (which never ends) or a file beyond
    RECORD_MAX is RecordInvalid, named; OSError (missing, unreadable) passes through."""
    from drivers.bounded_read import InputRefused, read_file

    try:
        return read_file(path, RECORD_MAX, what="results file")
    except InputRefused as exc:
        raise RecordInvalid(str(exc)) from None


def read_valid(path: Path) -> list[dict[str, Any]]:
    """The lines of a results file, each validated; a torn last line (no newline at its
    end: a run killed while writing it) is dropped."""
    data = read_record_bytes(Path(path))
    lines: list[dict[str, Any]] = []
    offset = 0
    raw_lines = data.split(b"\n")
    for number, raw in enumerate(raw_lines, start=1):
        torn = number == len(raw_lines)  # the text after the last newline
        start, offset = offset, offset + len(raw) + 1
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if torn:
                break
            raise RecordInvalid(f"line {number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at "
                                f"offset {start + exc.start})") from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            if torn:
                break
            raise RecordInvalid(f"line {number}: not JSON ({exc.msg} at column "
                                f"{exc.colno})") from None
        lines.append(validate_line(obj, number))
    return lines
