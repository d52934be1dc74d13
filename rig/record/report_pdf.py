"""report.html and report.pdf of a run directory, from its results.jsonl alone.

The PDF is the same HTML printed by weasyprint in a child process (HTML + CSS to PDF, A4,
the @page margin boxes giving every page the report id and "page x of y"); nothing is
collapsed in it, every measurement table and plot is laid out in full. The HTML goes
through the redactor (keys) before it is written, and the PDF is printed from that file.
Used at the end of a run by the plugin and by `rig report RUN_DIR`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rig.record.atomic_files import replaced_on_success, write_atomic

if TYPE_CHECKING:  # imported when used: the renderer child starts light, and at once
    from rig.record.report_model import RunReport

log = logging.getLogger("rig.record.pytest_html")


class ReportRenderError(RuntimeError):
    """The PDF could not be rendered (weasyprint or its system libraries missing, a full
    disk, a renderer that took too long)."""


def check_fetchable(url: str) -> str:
    """The renderer fetches `data:` URLs only (the plots the rig embeds): a `file:` or
    `http(s):` URL in a record's text would read a local file into the PDF (an attachment)
    or send a request from the bench PC. Anything else is refused with ValueError, which
    weasyprint turns into a warning and a missing resource."""
    if url.split(":", 1)[0].strip().lower() != "data" or ":" not in url:
        raise ValueError(f"only data: URLs are fetched by the report renderer, not "
                         f"{url[:60]!r}")
    return url


def _die_with_parent() -> None:
    """In the renderer child, before exec: the kernel sends it SIGTERM when the rig dies
    (Linux PR_SET_PDEATHSIG, as rig.bench.devices.die_with_parent does for the emulator),
    so a killed run never leaves a renderer behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))


def html_to_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 600.0) -> None:
    """Print an HTML file to A4 PDF with weasyprint, in a child process: a crash of the
    renderer's C libraries can then never take the test run (and its exit status) with it,
    and a pytest process that imports modules afresh per in-process run loads pango once.
    The child writes a temporary file that replaces `pdf_path` only once it is whole; it
    dies with this process, and is killed if this one stops waiting (timeout, Ctrl-C)."""
    pdf_path = Path(pdf_path)
    with replaced_on_success(pdf_path) as tmp:
        cmd = [sys.executable, "-m", "rig.record.report_pdf", str(html_path), str(tmp)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, errors="replace", preexec_fn=_die_with_parent)
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise ReportRenderError(f"cannot write {pdf_path.name}: weasyprint took more "
                                    f"than {timeout_s:g} s") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            why = (err.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            raise ReportRenderError(f"cannot write {pdf_path.name}: {why}")


def _print_pdf(html_path: Path, pdf_path: Path) -> None:
    """The child's job: weasyprint, with its font and CSS chatter kept off the terminal, and
    a URL fetcher that fetches data: URLs only (check_fetchable)."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as exc:  # OSError: pango/harfbuzz not installed
        raise SystemExit(f"weasyprint is not usable here ({exc}); install it with its "
                         "system libraries (pango)") from None

    class DataOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            return super().fetch(check_fetchable(url), headers)

    logging.getLogger("weasyprint").setLevel(logging.CRITICAL)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    text = Path(html_path).read_text(encoding="utf-8")
    fetcher = DataOnly(allowed_protocols={"data"}, allow_redirects=False)
    with open(pdf_path, "wb") as fh:
        HTML(string=text, url_fetcher=fetcher).write_pdf(fh)
        fh.flush()
        os.fsync(fh.fileno())


def _stopped_removes(partial: Path) -> None:
    """In the renderer child: SIGTERM (its parent died) removes the half-written file."""

    def stop(signum: int, frame: Any) -> None:
        with contextlib.suppress(OSError):
            partial.unlink()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def write_report(run_dir: Path, *, redact: Callable[[str], str] | None = None,
                 issued: dt.datetime | None = None,
                 pdf: bool = True) -> tuple[RunReport, list[Path]]:
    """Render report.html (and report.pdf) into `run_dir` from its results.jsonl; each file
    is written whole or not at all (rig.record.atomic_files)."""
    from rig.record.report_html import render
    from rig.record.report_model import load

    run_dir = Path(run_dir)
    report = load(run_dir)
    html = render(report, issued=issued)
    if redact is not None:
        html = redact(html)
    html_path = run_dir / "report.html"
    write_atomic(html_path, html)
    written = [html_path]
    if pdf:
        pdf_path = run_dir / "report.pdf"
        html_to_pdf(html_path, pdf_path)
        written.append(pdf_path)
    return report, written


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m rig.record.report_pdf REPORT.html REPORT.pdf")
    _stopped_removes(Path(sys.argv[2]))
    _print_pdf(Path(sys.argv[1]), Path(sys.argv[2]))
