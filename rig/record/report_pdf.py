"""report.html and report.pdf of a run directory, from its results.jsonl alone.

The PDF is the same HTML printed by weasyprint in a child process (HTML + CSS to PDF, A4,
the @page margin boxes giving every page the report id and "page x of y"); nothing is
collapsed in it, every measurement table and plot is laid out in full. The HTML goes
through the redactor (keys) before it is written, and the PDF is printed from that file.
Used at the end of a run by the plugin and by `rig report RUN_DIR`.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from rig.record.report_html import render
from rig.record.report_model import RunReport, load

log = logging.getLogger("rig.record.pytest_html")


class ReportRenderError(RuntimeError):
    """The PDF could not be rendered (weasyprint or its system libraries missing)."""


def html_to_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 600.0) -> None:
    """Print an HTML file to A4 PDF with weasyprint, in a child process: a crash of the
    renderer's C libraries can then never take the test run (and its exit status) with it,
    and a pytest process that imports modules afresh per in-process run loads pango once."""
    cmd = [sys.executable, "-m", "rig.record.report_pdf", str(html_path), str(pdf_path)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ReportRenderError(f"cannot write {pdf_path.name}: weasyprint took more than "
                                f"{timeout_s:g} s") from None
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise ReportRenderError(f"cannot write {pdf_path.name}: {why}")


def _print_pdf(html_path: Path, pdf_path: Path) -> None:
    """The child's job: weasyprint, with its font and CSS chatter kept off the terminal."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: pango/harfbuzz not installed
        raise SystemExit(f"weasyprint is not usable here ({exc}); install it with its "
                         "system libraries (pango)") from None
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    HTML(filename=str(html_path), base_url=str(html_path.parent)).write_pdf(str(pdf_path))


def write_report(run_dir: Path, *, redact: Callable[[str], str] | None = None,
                 issued: dt.datetime | None = None,
                 pdf: bool = True) -> tuple[RunReport, list[Path]]:
    """Render report.html (and report.pdf) into `run_dir` from its results.jsonl."""
    run_dir = Path(run_dir)
    report = load(run_dir)
    html = render(report, issued=issued)
    if redact is not None:
        html = redact(html)
    html_path = run_dir / "report.html"
    html_path.write_text(html, encoding="utf-8")
    written = [html_path]
    if pdf:
        pdf_path = run_dir / "report.pdf"
        html_to_pdf(html_path, pdf_path)
        written.append(pdf_path)
    return report, written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m rig.record.report_pdf REPORT.html REPORT.pdf")
    _print_pdf(Path(sys.argv[1]), Path(sys.argv[2]))
