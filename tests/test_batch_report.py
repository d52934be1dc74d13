"""The batch report: one summary of a lot or of run folders, from hand-written run records."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pypdf

from rig.cli import main
from rig.record.batch_report import (
    build_batch,
    render_batch,
    runs_of_folders,
    runs_of_lot,
    write_batch_report,
)

PAN_A = "600727471234567834"  # DRN 47123456783
PAN_B = "000012345678901286"  # DRN 1234567890128 (IIN 0000)
PAN_C = "600727450000000139"  # DRN 45000000013
PAN_D = "600727450000000212"  # DRN 45000000021
ISSUED = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def _write_run(reports: Path, run_id: str, pan: str, outcomes: dict[str, str], *,
               started: str, lot: str | None, end: bool = True, report: str | None = None,
               bench: str = "bench 1", context: dict | None = None) -> Path:
    """A minimal run folder: run_start, (report_context,) one line per test (with its
    clause), run_end."""
    run = reports / run_id
    run.mkdir(parents=True)
    meter: dict[str, str] = {"pan": pan}
    if lot:
        meter["lot"] = lot
    lines = [{"kind": "run_start", "time": started, "run_id": run_id, "bench": bench,
              "emulated": True, "profile": "pln_default", "tests": len(outcomes),
              "identity": {"meter": meter}}]
    if context is not None:
        lines.append({"kind": "report_context", "time": started, **context})
    for i, (test, outcome) in enumerate(outcomes.items()):
        lines.append({"kind": "test", "time": started, "test": test, "outcome": outcome,
                      "clauses": [f"IEC 62055-41 6.{i}"]})
    if end:
        lines.append({"kind": "run_end", "time": started, "counts": {}})
    (run / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if report:
        (run / report).write_bytes(b"%PDF-1.7 stand-in" if report.endswith("pdf") else b"<p>")
    return run


def _lot_l7(reports: Path) -> None:
    """Lot L7: A failed then passed (the newest counts), B failed clause 6.1, C was killed,
    D passed; a run of lot L8 is no part of it."""
    _write_run(reports, "r1", PAN_A, {"t::a": "failed"}, started="2026-12-01T10:00Z",
               lot="L7", report="report.pdf")
    _write_run(reports, "r2", PAN_A, {"t::a": "passed"}, started="2026-12-02T10:00Z",
               lot="L7", report="report.pdf")
    _write_run(reports, "r3", PAN_B, {"t::a": "passed", "t::b": "failed"},
               started="2026-12-02T11:00Z", lot="L7", report="report.html")
    _write_run(reports, "r4", PAN_C, {"t::a": "passed"}, started="2026-12-02T12:00Z",
               lot="L7", end=False)
    _write_run(reports, "r5", PAN_D, {"t::a": "passed"}, started="2026-12-02T13:00Z",
               lot="L7", report="report.pdf", bench="bench 2")
    _write_run(reports, "r6", PAN_D, {"t::a": "failed"}, started="2026-12-02T14:00Z",
               lot="L8", report="report.pdf")


def test_a_lots_rows_counts_and_links(tmp_path):
    reports, out = tmp_path / "reports", tmp_path / "summaries" / "L7"
    _lot_l7(reports)
    batch = build_batch(runs_of_lot(reports, "L7"), out, lot="L7", issued=ISSUED)
    rows = [(r.meter_number, r.pan, r.verdict, r.failed_clauses, r.report) for r in batch.rows]
    assert rows == [
        ("1234567890128", PAN_B, "FAIL", ("IEC 62055-41 6.1",), "../../reports/r3/report.html"),
        ("45000000013", PAN_C, "INCOMPLETE", (), None),
        ("45000000021", PAN_D, "PASS", (), "../../reports/r5/report.pdf"),
        ("47123456783", PAN_A, "PASS", (), "../../reports/r2/report.pdf"),
    ]
    assert (batch.count, batch.passed, batch.failed, batch.other) == (4, 2, 1, 1)
    assert batch.benches == ("bench 1", "bench 2")
    assert (batch.first_started, batch.last_started) == ("2026-12-02T10:00Z",
                                                         "2026-12-02T13:00Z")
    html = render_batch(batch)
    assert re.findall(r'href="([^"]+)"', html) == ["../../reports/r3/report.html",
                                                   "../../reports/r5/report.pdf",
                                                   "../../reports/r2/report.pdf"]
    assert "4 meter(s): 2 PASS, 1 FAIL, 1 other" in html
    assert "no report in ../../reports/r4" in html
    # each link leads to the meter's own report from the summary's folder
    for row in batch.rows:
        if row.report:
            assert (out / row.report).resolve().is_file()


def test_rig_results_writes_the_lots_batch_html_and_pdf(tmp_path, capsys):
    reports, out = tmp_path / "reports", tmp_path / "batch"
    _lot_l7(reports)
    assert main(["results", "--reports", str(reports), "--lot", "L7",
                 "--batch-report", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == [str(out / "batch.html"), str(out / "batch.pdf")]
    assert "4 meter(s): 2 PASS, 1 FAIL, 1 other" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["batch.html", "batch.pdf"]  # no .part
    reader = pypdf.PdfReader(out / "batch.pdf")
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Batch summary" in text
    assert "lot L7" in text
    assert "4 meter(s): 2 PASS, 1 FAIL, 1 other" in text
    text = text.replace("/ ", "/")  # a path wrapped at a slash in its narrow column
    assert "1 1234567890128 000012345678901286 FAIL IEC 62055-41 6.1 ../reports/r3/report.html" \
        in text
    assert "2 45000000013 600727450000000139 INCOMPLETE the record has no run_end line" in text
    assert "no report in ../reports/r4" in text
    assert "3 45000000021 600727450000000212 PASS ../reports/r5/report.pdf" in text
    assert "4 47123456783 600727471234567834 PASS ../reports/r2/report.pdf" in text
    links = [annot.get_object().get("/A", {}).get("/URI")
             for page in reader.pages for annot in page.get("/Annots") or []]
    assert "../reports/r3/report.html" in links


def test_run_folders_named_are_summarised_in_the_order_named(tmp_path, capsys):
    reports, out = tmp_path / "reports", tmp_path / "out"
    _lot_l7(reports)
    runs = runs_of_folders([reports / "r6", reports / "r3"])
    batch, written = write_batch_report(runs, out, issued=ISSUED, pdf=False)
    assert written == [out / "batch.html"]
    assert [(r.meter_number, r.verdict) for r in batch.rows] == [("45000000021", "FAIL"),
                                                                ("1234567890128", "FAIL")]
    assert batch.lot is None  # two lots: none stated
    assert (batch.count, batch.passed, batch.failed, batch.other) == (2, 0, 2, 0)
    same_lot = build_batch(runs_of_folders([reports / "r1", reports / "r2"]), out)
    assert same_lot.lot == "L7"


def test_bad_input_is_refused_with_the_reason(tmp_path, capsys):
    reports = tmp_path / "reports"
    _lot_l7(reports)
    (tmp_path / "empty").mkdir()
    out = str(tmp_path / "out")
    assert main(["results", "--batch-report", out, str(tmp_path / "empty")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["results", "--reports", str(reports), "--batch-report", out]) == 2
    assert "needs either --lot LOT or run folders" in capsys.readouterr().err
    assert main(["results", "--reports", str(reports), "--lot", "L9",
                 "--batch-report", out]) == 2
    assert "no runs of lot 'L9'" in capsys.readouterr().err
    assert main(["results", str(reports / "r1")]) == 2
    assert "--batch-report OUT_DIR" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_hostile_record_text_is_escaped_and_a_folder_name_is_no_url_scheme(tmp_path):
    reports = tmp_path / "reports"
    lot = '<script>alert(1)</script>\x1b[2J"'
    run = _write_run(reports, "javascript:alert(1)", PAN_A, {"t::a": "failed"},
                     started="2026-12-02T10:00Z", lot=lot, report="report.pdf")
    record = run / "results.jsonl"
    record.write_text(record.read_text().replace("IEC 62055-41 6.0", "6.0<img src=x>"))
    batch = build_batch(runs_of_folders([run]), reports, issued=ISSUED)
    html = render_batch(batch)
    assert "<script>" not in html and "<img" not in html and "\x1b" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[2J&#34;" in html
    assert "6.0&lt;img src=x&gt;" in html
    assert 'href="javascript%3Aalert%281%29/report.pdf"' in html


def test_a_partial_run_is_not_concluded_however_well_its_tests_went(tmp_path):
    reports = tmp_path / "reports"
    left_out = {"deselected": [{"test": "t::b", "clauses": [], "reason": "-k a"}],
                "files_not_run": []}
    _write_run(reports, "r1", PAN_A, {"t::a": "passed"}, started="2026-12-02T10:00Z",
               lot="L7", context=left_out)
    _write_run(reports, "r2", PAN_B, {"t::a": "passed"}, started="2026-12-02T11:00Z",
               lot="L7", context={"deselected": [], "files_not_run": ["test_power.py"]})
    _write_run(reports, "r3", PAN_C, {"t::a": "failed"}, started="2026-12-02T12:00Z",
               lot="L7", context=left_out)
    _write_run(reports, "r4", PAN_D, {"t::a": "passed"}, started="2026-12-02T13:00Z",
               lot="L7", context={"deselected": [], "files_not_run": []})
    batch = build_batch(runs_of_lot(reports, "L7"), tmp_path, issued=ISSUED)
    assert [(r.meter_number, r.verdict, r.reason) for r in batch.rows] == [
        ("1234567890128", "NOT CONCLUDED", "plan file(s) not run: test_power.py"),
        ("45000000013", "FAIL", ""),  # a failure stays a failure
        ("45000000021", "PASS", ""),
        ("47123456783", "NOT CONCLUDED",
         "partial selection: 1 test(s) of the plan left out"),
    ]
    assert (batch.count, batch.passed, batch.failed, batch.other) == (4, 1, 1, 2)
