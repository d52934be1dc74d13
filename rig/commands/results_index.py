"""`rig results`: every run of a reports folder, from its SQLite index (rig.record.results_db).

    rig results                      every run: meter, lot, verdict, date, bench
    rig results --meter NUMBER       one meter's history (meter number or PAN)
    rig results --lot LOT            a lot's acceptance summary (newest run of each meter)
    rig results --csv                any of them as CSV on stdout
    rig results --rebuild            index every run folder again (the folders are the truth)
    rig results --lot LOT --batch-report OUT_DIR     the lot's batch.html and batch.pdf
    rig results --batch-report OUT_DIR RUN_DIR...    the same for the run folders named

The index is brought up to date before each query, so a run folder copied in, or a database
deleted, is seen at once. Exit status (README): 0 done, 2 bad input (a reports folder that
is a file, run folders without a record, an unknown lot), 3 the rig could not write its own
output (the index, or the batch report: a full disk, a renderer that failed), 130 stopped
by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import NoReturn

USAGE_ERROR = 2
WRITE_ERROR = 3  # the rig could not write its own output (the index, the batch report)
FIELDS = ("run_id", "started", "meter_number", "pan", "lot", "position", "verdict", "reason",
          "passed", "failed", "skipped", "tests", "failed_clauses", "bench", "profile",
          "emulated", "report")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"rig results: {message}", file=sys.stderr)
        sys.exit(USAGE_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rig results",
                     description="List the runs of a reports folder with their meter and "
                                 "verdict, from an index rebuilt from the run folders.")
    parser.add_argument("--reports", default="reports", metavar="DIR",
                        help="the reports folder (default: reports/ of the current folder)")
    parser.add_argument("--meter", metavar="NUMBER",
                        help="only this meter's runs (its meter number or its PAN)")
    parser.add_argument("--lot", metavar="LOT",
                        help="a lot's acceptance summary: the newest run of each of its meters")
    parser.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    parser.add_argument("--rebuild", action="store_true",
                        help="forget the index and read every run folder again")
    parser.add_argument("--batch-report", metavar="OUT_DIR",
                        help="write batch.html and batch.pdf into OUT_DIR: one summary of "
                             "the lot (--lot) or of the run folders named")
    parser.add_argument("--title", default=None,
                        help="the batch report's title (default: 'Batch summary')")
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR",
                        help="run folders to summarise with --batch-report")
    return parser


def _table(rows: list[dict[str, str]], columns: list[str]) -> str:
    widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str]) -> int:
    """`rig results`; Ctrl-C or SIGTERM stops it in one line, exit 130."""
    from rig.commands.stopping import run_stoppable

    return run_stoppable("results", lambda: _results(argv))


def _results(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from rig.record.results_db import ResultsDb, ResultsDbError, latest_per_meter

    if args.batch_report or args.run_dirs:
        return _batch_report(args)
    reports = Path(args.reports)
    if reports.exists() and not reports.is_dir():
        print(f"rig results: --reports {reports}: not a folder", file=sys.stderr)
        return USAGE_ERROR
    try:
        with ResultsDb(reports) as db:
            if args.rebuild:
                count = db.rebuild()
                print(f"indexed {count} run(s) of {reports} into {db.path}", file=sys.stderr)
            else:
                db.sync()
            runs = db.runs(meter=args.meter, lot=args.lot)
    except ResultsDbError as exc:  # the index could not be made or written
        print(f"rig results: {exc}", file=sys.stderr)
        return WRITE_ERROR
    if args.lot:
        runs = sorted(latest_per_meter(runs).values(), key=lambda r: r.meter_number or "")
    rows = [{f: "" if getattr(r, f) is None else
             ("; ".join(getattr(r, f)) if f == "failed_clauses" else str(getattr(r, f)))
             for f in FIELDS} for r in runs]
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return 0
    if not rows:
        what = (f" for meter {args.meter}" if args.meter else "") + \
               (f" in lot {args.lot}" if args.lot else "")
        print(f"no runs{what} in {reports}")
        return 0
    columns = ["started", "meter_number", "lot", "verdict", "passed", "failed", "skipped",
               "bench", "run_id"]
    print(_table(rows, columns))
    if args.lot:
        verdicts = [r.verdict for r in runs]
        print(f"lot {args.lot}: {len(runs)} meter(s), {verdicts.count('PASS')} PASS, "
              f"{verdicts.count('FAIL')} FAIL, "
              f"{len(runs) - verdicts.count('PASS') - verdicts.count('FAIL')} other")
    return 0


def _batch_report(args: argparse.Namespace) -> int:
    """`--batch-report OUT_DIR` with `--lot LOT` or RUN_DIR...: batch.html and batch.pdf."""
    from rig.record.batch_report import (
        DEFAULT_TITLE,
        BatchReportError,
        runs_of_folders,
        runs_of_lot,
        write_batch_report,
    )
    from rig.record.report_pdf import ReportRenderError
    from rig.record.results_db import ResultsDbError

    if not args.batch_report:
        print("rig results: run folders are summarised with --batch-report OUT_DIR",
              file=sys.stderr)
        return USAGE_ERROR
    if bool(args.lot) == bool(args.run_dirs) or args.meter or args.csv:
        print("rig results: --batch-report needs either --lot LOT or run folders (not both, "
              "and not --meter or --csv)", file=sys.stderr)
        return USAGE_ERROR
    out_dir = Path(args.batch_report)
    if out_dir.exists() and not out_dir.is_dir():
        print(f"rig results: --batch-report {out_dir}: not a folder", file=sys.stderr)
        return USAGE_ERROR
    try:
        runs = (runs_of_lot(Path(args.reports), args.lot) if args.lot
                else runs_of_folders(Path(d) for d in args.run_dirs))
    except BatchReportError as exc:
        print(f"rig results: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except ResultsDbError as exc:  # the index could not be made or written
        print(f"rig results: {exc}", file=sys.stderr)
        return WRITE_ERROR
    try:
        batch, written = write_batch_report(runs, out_dir, lot=args.lot,
                                            title=args.title or DEFAULT_TITLE)
    except (ReportRenderError, OSError) as exc:
        print(f"rig results: cannot write the batch report: {exc}", file=sys.stderr)
        return WRITE_ERROR
    for path in written:
        print(path)
    print(f"{batch.count} meter(s): {batch.passed} PASS, {batch.failed} FAIL, "
          f"{batch.other} other", file=sys.stderr)
    return 0
