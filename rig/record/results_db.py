"""Every run of a reports folder in one SQLite index, so a lab can list, compare and export.

The run folders stay the truth: the database (`results.sqlite` beside the run folders) is an
index rebuilt from their `results.jsonl` at any time (`rig results --rebuild`), and brought up
to date before every query (a folder whose record is new or changed since it was indexed is
read again), so nothing lives only in the database and deleting it loses nothing.

One row per run: its meter (number and PAN), lot, bench, profile, verdict, counts, the
clauses that failed and the path of its signed report.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drivers.bounded_read import InputRefused
from rig.record.run_record import NOT_CONCLUSIVE
from sts.errors import KeyFormatError
from sts.pan import MeterPAN

DB_NAME = "results.sqlite"
RECORD_NAME = "results.jsonl"
SCHEMA_VERSION = 2  # 2: failed_clauses one per line (a clause holds spaces)

PASS, FAIL, NOT_CONCLUDED, INCOMPLETE, UNREADABLE = (
    "PASS", "FAIL", "NOT CONCLUDED", "INCOMPLETE", "UNREADABLE")
_FAILED = {"failed", "error"}
_PASSED = {"passed", "xfailed"}

COLUMNS = ("run_id", "started", "ended", "meter_number", "pan", "lot", "position", "bench",
           "emulated", "profile", "verdict", "reason", "tests", "passed", "failed", "skipped",
           "failed_clauses", "report", "run_dir", "record_mtime_ns", "record_size")


class ResultsDbError(Exception):
    """The results database cannot be opened or written (named with its path)."""


@dataclass
class RunSummary:
    """What the index keeps of one run; every field comes from the run's record."""

    run_id: str
    run_dir: str
    started: str | None = None
    ended: str | None = None
    meter_number: str | None = None
    pan: str | None = None
    lot: str | None = None
    position: str | None = None
    bench: str | None = None
    emulated: bool | None = None
    profile: str | None = None
    verdict: str = INCOMPLETE
    reason: str = ""
    tests: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failed_clauses: list[str] = field(default_factory=list)
    report: str | None = None
    record_mtime_ns: int = 0
    record_size: int = 0

    def row(self) -> tuple[Any, ...]:
        data = asdict(self)
        data["failed_clauses"] = "\n".join(self.failed_clauses)
        data["emulated"] = None if self.emulated is None else int(self.emulated)
        return tuple(data[c] for c in COLUMNS)


def meter_number_of(pan: Any) -> str | None:
    """The meter number (DRN) of a MeterPAN, by the standard's parts (IIN 600727 or 0000)."""
    if not isinstance(pan, str):
        return None
    try:
        return MeterPAN.parse(pan).drn
    except KeyFormatError:
        return None


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a record, read through the rig's one bounded reader (InputRefused:
    a record that is no regular file, or larger than any run writes, is never read)."""
    from drivers.bounded_read import read_file
    from rig.record.record_schema import RECORD_MAX

    for raw in read_file(path, RECORD_MAX, what="results file").split(b"\n"):
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue  # a torn last line of a killed run, or a foreign line: not indexed
        if isinstance(obj, dict):
            yield obj


def _left_out(context: dict[str, Any] | None) -> str:
    """Why the run did not run the whole plan (a -k/-m selection, plan files not run), as
    the report says it (rig.record.report_model.RunReport.not_concluded), or ""."""
    if not context:
        return ""
    why = []
    deselected = context.get("deselected")
    if isinstance(deselected, list) and deselected:
        why.append(f"partial selection: {len(deselected)} test(s) of the plan left out")
    files = context.get("files_not_run")
    if isinstance(files, list) and files:
        why.append(f"plan file(s) not run: {', '.join(str(f) for f in files)}")
    return "; ".join(why)


def _derive_verdict(start: dict[str, Any], end: dict[str, Any] | None,
                    outcomes: dict[str, str],
                    context: dict[str, Any] | None = None,
                    not_conclusive: list[str] | None = None) -> tuple[str, str]:
    """The overall verdict: the record's own when it states one, else the rule of the report
    (PASS only when every test of the plan ran and passed, and no measurement is a bound
    that shows neither conformity nor non-conformity: `not_conclusive` names those)."""
    if end is None:
        return INCOMPLETE, "the record has no run_end line (the run was killed)"
    stated = end.get("verdict")
    if isinstance(stated, dict):
        text = stated.get("verdict") or stated.get("overall")
        if isinstance(text, str):
            return text.upper(), str(stated.get("reason") or "")
    if isinstance(stated, str):
        return stated.upper(), str(end.get("verdict_reason") or "")
    if any(o in _FAILED for o in outcomes.values()):
        return FAIL, ""
    for key in ("stopped", "bench_error", "meter_error", "no_verdict"):
        if end.get(key):
            return NOT_CONCLUDED, str(end[key])
    if not_conclusive:
        return NOT_CONCLUDED, (f"{', '.join(not_conclusive)}: a bound that shows neither "
                               "conformity nor non-conformity")
    left_out = _left_out(context)
    if left_out:  # a partial run is never a PASS, however well its tests went
        return NOT_CONCLUDED, left_out
    planned = start.get("tests")
    ran = [o for o in outcomes.values() if o in _PASSED]
    if isinstance(planned, int) and len(ran) == planned and planned > 0:
        return PASS, ""
    left = (planned if isinstance(planned, int) else len(outcomes)) - len(ran)
    return NOT_CONCLUDED, f"{left} test(s) of the plan did not run or did not pass"


def summarise(run_dir: Path) -> RunSummary | None:
    """The summary of one run folder, or None when it holds no record."""
    record = run_dir / RECORD_NAME
    if not record.is_file():
        return None
    stat = record.stat()
    summary = RunSummary(run_id=run_dir.name, run_dir=str(run_dir),
                         record_mtime_ns=stat.st_mtime_ns, record_size=stat.st_size)
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    outcomes: dict[str, str] = {}
    clauses: dict[str, list[str]] = {}
    not_conclusive: list[str] = []
    try:
        lines = list(_lines(record))
    except (OSError, InputRefused) as exc:
        summary.verdict, summary.reason = UNREADABLE, f"the record cannot be read: {exc}"
        return summary
    for line in lines:
        kind = line.get("kind")
        if kind == "run_start" and start is None:
            start = line
        elif kind == "run_end":
            end = line
        elif kind == "report_context" and context is None:
            context = line
        elif kind == "measurement" and line.get("verdict") == NOT_CONCLUSIVE:
            not_conclusive.append(str(line.get("name")))
        elif kind == "test" and isinstance(line.get("test"), str):
            outcomes[line["test"]] = str(line.get("outcome"))
            if isinstance(line.get("clauses"), list):
                clauses[line["test"]] = [str(c) for c in line["clauses"]]
    if start is None:
        summary.verdict, summary.reason = UNREADABLE, "the record has no run_start line"
        return summary
    identity = start.get("identity") if isinstance(start.get("identity"), dict) else {}
    meter = identity.get("meter") if isinstance(identity.get("meter"), dict) else {}
    summary.run_id = str(start.get("run_id") or run_dir.name)
    summary.started = str(start.get("time")) if start.get("time") else None
    summary.ended = str(end.get("time")) if end and end.get("time") else None
    summary.pan = meter.get("pan") if isinstance(meter.get("pan"), str) else None
    summary.meter_number = (meter.get("number") if isinstance(meter.get("number"), str)
                            else meter_number_of(summary.pan))
    summary.lot = str(meter["lot"]) if meter.get("lot") else None
    summary.position = str(start["position"]) if start.get("position") is not None else None
    summary.bench = str(start.get("bench")) if start.get("bench") else None
    summary.emulated = bool(start["emulated"]) if "emulated" in start else None
    summary.profile = str(start.get("profile")) if start.get("profile") else None
    summary.tests = start["tests"] if isinstance(start.get("tests"), int) else len(outcomes)
    summary.passed = sum(o in _PASSED for o in outcomes.values())
    summary.failed = sum(o in _FAILED for o in outcomes.values())
    summary.skipped = sum(o == "skipped" for o in outcomes.values())
    summary.failed_clauses = sorted({c for t, o in outcomes.items() if o in _FAILED
                                     for c in clauses.get(t, [])})
    summary.verdict, summary.reason = _derive_verdict(start, end, outcomes, context,
                                                      not_conclusive)
    for name in ("report.pdf", "report.html"):
        if (run_dir / name).is_file():
            summary.report = str(run_dir / name)
            break
    return summary


def run_folders(reports: Path) -> Iterator[Path]:
    """The run folders of a reports folder (each holding a record), in name order."""
    if not reports.is_dir():
        return
    for child in sorted(reports.iterdir()):
        if child.is_dir() and not child.is_symlink() and (child / RECORD_NAME).is_file():
            yield child


class ResultsDb:
    """The SQLite index of one reports folder."""

    def __init__(self, reports: Path) -> None:
        self.reports = reports
        self.path = reports / DB_NAME
        try:
            reports.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._ensure_schema()
        except (OSError, sqlite3.Error) as exc:
            raise ResultsDbError(f"{self.path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultsDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_schema(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            self._db.execute("DROP TABLE IF EXISTS runs")
        cols = ", ".join(f"{c} TEXT" if c not in {"emulated", "tests", "passed", "failed",
                                                   "skipped", "record_mtime_ns", "record_size"}
                         else f"{c} INTEGER" for c in COLUMNS if c != "run_dir")
        self._db.execute(f"CREATE TABLE IF NOT EXISTS runs (run_dir TEXT PRIMARY KEY, {cols})")
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._db.commit()

    def index(self, summary: RunSummary) -> None:
        marks = ", ".join("?" for _ in COLUMNS)
        self._db.execute(f"INSERT OR REPLACE INTO runs ({', '.join(COLUMNS)}) VALUES ({marks})",
                         summary.row())

    def sync(self) -> int:
        """Index every run folder that is new or whose record changed; forget folders that
        are gone. Returns how many runs were (re)read."""
        known = {row[0]: (row[1], row[2]) for row in self._db.execute(
            "SELECT run_dir, record_mtime_ns, record_size FROM runs")}
        seen: set[str] = set()
        read = 0
        for folder in run_folders(self.reports):
            key = str(folder)
            seen.add(key)
            stat = (folder / RECORD_NAME).stat()
            if known.get(key) == (stat.st_mtime_ns, stat.st_size):
                continue
            summary = summarise(folder)
            if summary is not None:
                self.index(summary)
                read += 1
        for gone in set(known) - seen:
            self._db.execute("DELETE FROM runs WHERE run_dir = ?", (gone,))
        self._db.commit()
        return read

    def rebuild(self) -> int:
        """Forget everything and index every run folder again."""
        self._db.execute("DELETE FROM runs")
        self._db.commit()
        return self.sync()

    def runs(self, *, meter: str | None = None, lot: str | None = None) -> list[RunSummary]:
        """Runs, oldest first; `meter` matches the meter number or the PAN."""
        where, args = [], []
        if meter:
            digits = meter.replace(" ", "").replace("-", "")
            where.append("(meter_number = ? OR pan = ?)")
            args += [digits, digits]
        if lot:
            where.append("lot = ?")
            args.append(lot)
        sql = f"SELECT {', '.join(COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started, run_id"
        out = []
        for row in self._db.execute(sql, args):
            data = dict(zip(COLUMNS, row, strict=True))
            data["failed_clauses"] = data["failed_clauses"].split("\n") if data["failed_clauses"] \
                else []
            data["emulated"] = None if data["emulated"] is None else bool(data["emulated"])
            out.append(RunSummary(**data))
        return out


def latest_per_meter(runs: Iterable[RunSummary]) -> dict[str, RunSummary]:
    """The newest run of each meter (by start time): a lot's acceptance looks at these."""
    latest: dict[str, RunSummary] = {}
    for run in runs:
        key = run.meter_number or run.pan or run.run_id
        if key not in latest or (run.started or "") >= (latest[key].started or ""):
            latest[key] = run
    return latest
