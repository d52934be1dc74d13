"""`rig results`: the SQLite index of a reports folder, rebuilt from the run folders alone."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from rig.cli import main
from rig.record.results_db import DB_NAME, ResultsDb, meter_number_of, summarise

PAN_A = "600727471234567834"  # IIN 600727, DRN 47123456783 (the emulated bench's meter)
PAN_B = "000012345678901286"  # IIN 0000: a 13-digit DRN, 1234567890128


def _write_run(reports: Path, run_id: str, pan: str, outcomes: dict[str, str], *,
               started: str, end: bool = True, lot: str | None = None,
               stopped: str | None = None) -> Path:
    run = reports / run_id
    run.mkdir(parents=True)
    meter = {"pan": pan, "profile": "pln_default"}
    if lot:
        meter["lot"] = lot
    lines = [{"kind": "run_start", "time": started, "run_id": run_id, "bench": "bench 1",
              "emulated": True, "profile": "pln_default", "tests": len(outcomes),
              "identity": {"meter": meter}}]
    for i, (test, outcome) in enumerate(outcomes.items()):
        lines.append({"kind": "test", "time": started, "test": test, "outcome": outcome,
                      "clauses": [f"IEC 62055-41 6.{i}"]})
    if end:
        lines.append({"kind": "run_end", "time": started, "counts": {}, "stopped": stopped})
    (run / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return run


def test_meter_number_comes_from_the_pan_parts_for_both_iins():
    assert meter_number_of(PAN_A) == "47123456783"
    assert meter_number_of(PAN_B) == "1234567890128"
    assert meter_number_of("not a pan") is None


def test_verdicts_follow_the_report_rule(tmp_path):
    ok = _write_run(tmp_path, "r1", PAN_A, {"t::a": "passed", "t::b": "passed"},
                    started="2026-12-01T10:00:00+07:00")
    bad = _write_run(tmp_path, "r2", PAN_A, {"t::a": "passed", "t::b": "failed"},
                     started="2026-12-01T11:00:00+07:00")
    skip = _write_run(tmp_path, "r3", PAN_A, {"t::a": "passed", "t::b": "skipped"},
                      started="2026-12-01T12:00:00+07:00")
    killed = _write_run(tmp_path, "r4", PAN_A, {"t::a": "passed"},
                        started="2026-12-01T13:00:00+07:00", end=False)
    stopped = _write_run(tmp_path, "r5", PAN_A, {"t::a": "passed"},
                         started="2026-12-01T14:00:00+07:00", stopped="SIGTERM")
    assert summarise(ok).verdict == "PASS"
    failed = summarise(bad)
    assert (failed.verdict, failed.failed, failed.failed_clauses) == \
        ("FAIL", 1, ["IEC 62055-41 6.1"])
    assert summarise(skip).verdict == "NOT CONCLUDED"
    assert summarise(killed).verdict == "INCOMPLETE"
    assert summarise(stopped).verdict == "NOT CONCLUDED"
    assert summarise(stopped).reason == "SIGTERM"


def test_a_torn_line_and_a_folder_without_run_start_are_indexed_not_fatal(tmp_path):
    run = _write_run(tmp_path, "r1", PAN_A, {"t::a": "passed"}, started="2026-12-01T10:00Z")
    with (run / "results.jsonl").open("ab") as fh:
        fh.write(b'{"kind": "test", "te\xff')  # killed while writing
    assert summarise(run).verdict == "PASS"
    other = tmp_path / "r2"
    other.mkdir()
    (other / "results.jsonl").write_text('[1, 2]\n{"kind": "test"}\n')
    assert summarise(other).verdict == "UNREADABLE"


def test_rig_results_lists_every_run_and_rebuilds_after_the_database_is_deleted(
        tmp_path, capsys):
    _write_run(tmp_path, "r1", PAN_A, {"t::a": "passed"}, started="2026-12-01T10:00Z")
    _write_run(tmp_path, "r2", PAN_B, {"t::a": "failed"}, started="2026-12-01T11:00Z")
    assert main(["results", "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["started", "meter_number", "lot", "verdict"]
    assert [line.split()[1] for line in out[1:]] == ["47123456783", "1234567890128"]
    assert [line.split()[2] for line in out[1:]] == ["PASS", "FAIL"]
    (tmp_path / DB_NAME).unlink()
    assert main(["results", "--reports", str(tmp_path), "--rebuild"]) == 0
    captured = capsys.readouterr()
    assert "indexed 2 run(s)" in captured.err
    assert len(captured.out.splitlines()) == 3


def test_a_new_run_folder_is_seen_and_a_removed_one_forgotten(tmp_path):
    _write_run(tmp_path, "r1", PAN_A, {"t::a": "passed"}, started="2026-12-01T10:00Z")
    with ResultsDb(tmp_path) as db:
        assert db.sync() == 1
        assert db.sync() == 0  # nothing changed: nothing read again
        _write_run(tmp_path, "r2", PAN_A, {"t::a": "failed"}, started="2026-12-02T10:00Z")
        assert db.sync() == 1
        assert [r.verdict for r in db.runs()] == ["PASS", "FAIL"]
        for f in (tmp_path / "r1").iterdir():
            f.unlink()
        (tmp_path / "r1").rmdir()
        db.sync()
        assert [r.run_id for r in db.runs()] == ["r2"]


def test_one_meters_history_and_a_lots_summary_as_csv(tmp_path, capsys):
    _write_run(tmp_path, "r1", PAN_A, {"t::a": "failed"}, started="2026-12-01T10:00Z",
               lot="L7")
    _write_run(tmp_path, "r2", PAN_A, {"t::a": "passed"}, started="2026-12-02T10:00Z",
               lot="L7")
    _write_run(tmp_path, "r3", PAN_B, {"t::a": "failed"}, started="2026-12-02T11:00Z",
               lot="L7")
    _write_run(tmp_path, "r4", PAN_B, {"t::a": "passed"}, started="2026-12-02T12:00Z",
               lot="L8")
    assert main(["results", "--reports", str(tmp_path), "--meter", "47123456783",
                 "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["run_id"], r["verdict"]) for r in rows] == [("r1", "FAIL"), ("r2", "PASS")]
    assert main(["results", "--reports", str(tmp_path), "--lot", "L7"]) == 0
    out = capsys.readouterr().out
    assert "lot L7: 2 meter(s), 1 PASS, 1 FAIL, 0 other" in out


def test_a_reports_path_that_is_a_file_is_bad_input(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["results", "--reports", str(target)]) == 2
    assert capsys.readouterr().err.startswith("rig results: --reports")


def test_an_empty_reports_folder_says_so(tmp_path, capsys):
    assert main(["results", "--reports", str(tmp_path)]) == 0
    assert "no runs" in capsys.readouterr().out
