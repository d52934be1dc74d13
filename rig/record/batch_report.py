"""The batch report: one summary (batch.html and batch.pdf) of a set of runs, a lot's or the
run folders named, so a lab sees at once which meters of a lot failed.

One row per run: its meter number and PAN, its verdict, the clauses that failed, and the
path (a link, relative to the summary's folder) of the meter's own signable report, which
stays the full record of that meter; then the counts (meters, PASS, FAIL, other). Every
value comes from the run folders' records (rig.record.results_db.summarise), which may come
from another bench, so it goes through Jinja2's autoescape and the control-character filter
(rig.record.safe_text); the PDF is printed by weasyprint in a child process that fetches
data: URLs only (rig.record.report_pdf), and both files are written whole or not at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from rig.record.atomic_files import write_atomic
from rig.record.report_pdf import html_to_pdf
from rig.record.results_db import (
    FAIL,
    PASS,
    ResultsDb,
    RunSummary,
    latest_per_meter,
    summarise,
)
from rig.record.safe_text import visible_in_html

HTML_NAME = "batch.html"
PDF_NAME = "batch.pdf"
DEFAULT_TITLE = "Batch summary"


class BatchReportError(ValueError):
    """The set of runs cannot be summarised (a folder without a record, an empty lot)."""


@dataclasses.dataclass(frozen=True)
class BatchRow:
    """One meter's line of the summary."""

    meter_number: str | None
    pan: str | None
    verdict: str
    reason: str
    failed_clauses: tuple[str, ...]
    position: str | None
    run_dir: str
    report: str | None  # relative to the summary's folder (or absolute when on another drive)
    report_href: str | None  # the same, as a URL path (percent-encoded, never a scheme)

    @property
    def verdict_class(self) -> str:
        return self.verdict if self.verdict in (PASS, FAIL) else "other"


@dataclasses.dataclass(frozen=True)
class Batch:
    """The summary's content, built from the runs' summaries."""

    title: str
    lot: str | None
    issued: str
    benches: tuple[str, ...]
    first_started: str | None
    last_started: str | None
    rows: tuple[BatchRow, ...]

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def passed(self) -> int:
        return sum(r.verdict == PASS for r in self.rows)

    @property
    def failed(self) -> int:
        return sum(r.verdict == FAIL for r in self.rows)

    @property
    def other(self) -> int:
        return self.count - self.passed - self.failed


def runs_of_lot(reports: Path, lot: str) -> list[RunSummary]:
    """The newest run of each meter of `lot` in a reports folder, by meter number."""
    with ResultsDb(Path(reports)) as db:
        db.sync()
        runs = db.runs(lot=lot)
    if not runs:
        raise BatchReportError(f"no runs of lot {lot!r} in {reports}")
    return sorted(latest_per_meter(runs).values(), key=lambda r: (r.meter_number or "",
                                                                   r.run_id))


def runs_of_folders(run_dirs: Iterable[Path]) -> list[RunSummary]:
    """The summaries of the run folders named, in the order named."""
    out = []
    for folder in run_dirs:
        summary = summarise(Path(folder)) if Path(folder).is_dir() else None
        if summary is None:
            raise BatchReportError(f"{folder}: not a run folder (no results.jsonl in it)")
        out.append(summary)
    if not out:
        raise BatchReportError("no run folders to summarise")
    return out


def _relative(path: str, base: Path) -> str:
    try:
        return os.path.relpath(Path(path).resolve(), base.resolve())
    except ValueError:  # another drive (Windows): no relative path exists
        return str(Path(path).resolve())


def _row(run: RunSummary, out_dir: Path) -> BatchRow:
    report = _relative(run.report, out_dir) if run.report else None
    href = quote(Path(report).as_posix(), safe="/") if report else None
    return BatchRow(meter_number=run.meter_number, pan=run.pan, verdict=run.verdict,
                    reason=run.reason, failed_clauses=tuple(run.failed_clauses),
                    position=run.position, run_dir=_relative(run.run_dir, out_dir),
                    report=report, report_href=href)


def build_batch(runs: Sequence[RunSummary], out_dir: Path, *, lot: str | None = None,
                title: str = DEFAULT_TITLE, issued: dt.datetime | None = None) -> Batch:
    """The summary of `runs` as it will be written into `out_dir` (links relative to it).
    Without `lot`, the lot is the runs' common lot, if they have one."""
    if lot is None:
        lots = {r.lot for r in runs}
        lot = lots.pop() if len(lots) == 1 else None
    started = sorted(r.started for r in runs if r.started)
    issued = issued or dt.datetime.now().astimezone()
    return Batch(title=title, lot=lot, issued=issued.isoformat(timespec="seconds"),
                 benches=tuple(sorted({r.bench for r in runs if r.bench})),
                 first_started=started[0] if started else None,
                 last_started=started[-1] if started else None,
                 rows=tuple(_row(r, Path(out_dir)) for r in runs))


_ENV = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
                   autoescape=True, finalize=visible_in_html, undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)


def render_batch(batch: Batch) -> str:
    """The summary as one HTML page (printable as A4)."""
    return _ENV.get_template("batch.html.j2").render(b=batch)


def write_batch_report(runs: Sequence[RunSummary], out_dir: Path, *, lot: str | None = None,
                       title: str = DEFAULT_TITLE, issued: dt.datetime | None = None,
                       pdf: bool = True) -> tuple[Batch, list[Path]]:
    """Write batch.html (and batch.pdf) into `out_dir`, each whole or not at all."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = build_batch(runs, out_dir, lot=lot, title=title, issued=issued)
    html_path = out_dir / HTML_NAME
    write_atomic(html_path, render_batch(batch))
    written = [html_path]
    if pdf:
        pdf_path = out_dir / PDF_NAME
        html_to_pdf(html_path, pdf_path)
        written.append(pdf_path)
    return batch, written
