"""`rig report RUN_DIR`: render report.html and report.pdf again from results.jsonl alone.

A run killed halfway (even by SIGKILL, when the plugin never reached the report) keeps its
record; this turns it into the same document, stamped INCOMPLETE with the point where the
record ends. RUN_DIR may also be a reports/ folder: its LATEST run is used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: the README's exit codes: 2 bad input (no record, a malformed record, a bad LATEST), 3 the
#: report could not be written (renderer missing, disk full): the rig's own problem
USAGE_ERROR, RENDER_ERROR = 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"rig report: {message}", file=sys.stderr)
        sys.exit(USAGE_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rig report",
                     description="Render report.html and report.pdf of a run from its "
                                 "results.jsonl (a killed run's too).")
    parser.add_argument("run_dir", metavar="RUN_DIR",
                        help="the run directory (reports/<run-id>), or a reports/ folder "
                             "(its LATEST run)")
    parser.add_argument("--no-pdf", action="store_true", help="write report.html only")
    return parser


def resolve_run_dir(path: Path) -> Path:
    """The run directory itself, or the LATEST run of a reports/ folder (a name inside it,
    never followed as a path: rig.record.run_folder)."""
    from rig.record.run_folder import latest_run_dir

    if not (path / "results.jsonl").is_file() and (path / "LATEST").is_file():
        return latest_run_dir(path)
    return path


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from rig.record.report_model import RecordError
    from rig.record.report_pdf import ReportRenderError, write_report
    from rig.record.run_folder import RunFolderError
    from rig.record.safe_text import visible

    try:
        run_dir = resolve_run_dir(Path(args.run_dir))
    except RunFolderError as exc:
        print(f"rig report: {visible(str(exc))}", file=sys.stderr)
        return USAGE_ERROR
    try:
        report, written = write_report(run_dir, pdf=not args.no_pdf)
    except RecordError as exc:
        print(f"rig report: {visible(str(exc))}", file=sys.stderr)
        return USAGE_ERROR
    except (ReportRenderError, OSError) as exc:
        print(f"rig report: {visible(str(exc))}", file=sys.stderr)
        return RENDER_ERROR
    stamps = [s for s, on in (("INCOMPLETE", report.incomplete), ("PARTIAL", report.partial),
                              ("EMULATED BENCH", report.emulated)) if on]
    print(f"rig report: run {visible(report.run_id)}: {report.verdict()}"
          + (f" ({', '.join(stamps)})" if stamps else ""))
    if report.incomplete:
        last = report.last_line
        print(visible(f"  the record ends at line {report.lines} ({last.get('kind')}"
                      + (f" of {last['test']}" if last.get("test") else "") + ")"))
    from rig.record.report_model import verdict_lines

    for line in verdict_lines(report):  # the verdict with its reason, as page 1 states it
        print(visible(f"  {line}"))
    for path in written:
        print(f"  {path}")
    return 0
