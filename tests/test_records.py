"""The run record: verdicts from limits, lines flushed as written, keys redacted."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from rig.record.run_record import (
    Measurement,
    Recorder,
    Redactor,
    RunRecord,
    TestOutcome,
    clause_matrix,
    judge,
    read_record,
)


@pytest.mark.parametrize(("value", "low", "high", "nominal", "verdict"), [
    (5, 0, 10, None, "PASS"),
    (10, 0, 10, None, "PASS"),           # limits are inclusive
    (10.001, 0, 10, None, "FAIL"),
    (-1, 0, None, None, "FAIL"),
    (1e9, 0, None, None, "PASS"),
    (0.2, None, 0.1, None, "FAIL"),
    (Decimal("12.3"), 12.2995, 12.3005, None, "PASS"),
    ("231.5", 220, 240, None, "PASS"),   # a numeric string is judged as its number
    ("ERROR", 220, 240, None, "FAIL"),   # anything else fails its limits
    (float("nan"), 0, 1, None, "FAIL"),
    (3, None, None, None, "INFO"),
    ("USED", None, None, "USED", "PASS"),
    ("ACCEPT", None, None, "USED", "FAIL"),
    (163.9, None, None, Decimal("163.9"), "PASS"),  # 163.9 is the Decimal 163.9 here
    (1, None, None, True, "FAIL"),
    (7, 0, 10, 5, "PASS"),                # limits decide, the nominal is for the reader
])
def test_judge(value, low, high, nominal, verdict):
    assert judge(value, low, high, nominal) == verdict


def test_limits_text():
    assert Measurement("t", "v", 1.0, "V", 220.0, 240.0).limits_text() == "220 .. 240"
    assert Measurement("t", "v", 1.0, "V", None, 0.1).limits_text() == "<= 0.1"
    assert Measurement("t", "v", 1.0, "V", 3, None).limits_text() == ">= 3"
    assert Measurement("t", "v", "x", nominal="ACCEPT").limits_text() == "= ACCEPT"
    assert Measurement("t", "v", 1).limits_text() == ""
    assert Measurement("t", "i", 7.5, "A", 0, 5).summary() == "i = 7.5 A (limits 0 .. 5)"
    assert Measurement("t", "op", 0.36575900000025285, "s", 0.0, 0.1).summary() == \
        "op = 0.365759 s (limits 0 .. 0.1)"


def test_recorder_sends_each_measurement_at_once_and_keeps_the_failed():
    seen: list[Measurement] = []
    record = Recorder("plan.py::t", seen.append, bench_time=lambda: 12.5)
    record("voltage", 231.0, "V", 220, 240)
    assert [m.name for m in seen] == ["voltage"]  # before the test goes on
    bad = record("current", 7.5, "A", 0, 5, at=99.0)
    assert bad.verdict == "FAIL" and bad.bench_time == 99.0
    assert seen[0].bench_time == 12.5
    assert record.failed == [bad]
    with pytest.raises(ValueError, match="low limit 5 is above high limit 1"):
        record("x", 1, "", 5, 1)
    with pytest.raises(ValueError, match="needs a name"):
        record("", 1)


def test_run_record_lines_are_on_disk_while_the_file_is_open(tmp_path):
    path = tmp_path / "run" / "results.jsonl"
    record = RunRecord(path)
    record.write("run_start", run_id="r1")
    record.write("measurement", name="credit", value=Decimal("1.5"))
    # read by another reader before close(): a run killed now keeps both lines
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["kind"] for x in lines] == ["run_start", "measurement"]
    assert lines[1]["value"] == "1.5" and lines[0]["time"].endswith("+00:00")
    record.close()
    record.write("late", x=1)  # after close: ignored, not an exception
    assert len(path.read_text().splitlines()) == 2


def test_read_record_drops_a_truncated_last_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"kind": "run_start"}\n{"kind": "measurement", "na')
    assert read_record(path) == [{"kind": "run_start"}]


def test_redactor_masks_keys_in_hex_and_bytes_form():
    key = bytes.fromhex("abababababababab")
    redact = Redactor({key})
    assert redact("key abababababababab!") == "key <key redacted>!"
    assert redact("KEY ABABABABABABABAB") == "KEY <key redacted>"
    assert "\\xab" not in redact(repr(key))
    assert redact("nothing secret") == "nothing secret"
    # an all-zero key (a plan's stranger key) is no secret: token digits stay as they are
    assert Redactor({bytes(8)})("00000000000000000123") == "00000000000000000123"


def test_run_record_redacts(tmp_path):
    key = bytes(range(8, 16))
    record = RunRecord(tmp_path / "r.jsonl", Redactor({key}))
    record.write("measurement", value=key.hex())
    record.close()
    assert key.hex() not in (tmp_path / "r.jsonl").read_text()


def test_clause_matrix_verdicts():
    tests = [
        TestOutcome("a", ["C1", "C2"], outcome="passed"),
        TestOutcome("b", ["C1"], outcome="failed"),
        TestOutcome("c", ["C2", "C3"], outcome="skipped"),
        TestOutcome("d", ["C4"], outcome="passed"),
        TestOutcome("e", ["C5"]),                      # never ran (a run stopped early)
        TestOutcome("f", ["C6"], outcome="error"),     # its setup failed
        TestOutcome("g", ["C7"], outcome="interrupted"),  # Ctrl-C inside it
    ]
    rows = {r["clause"]: r for r in clause_matrix(tests)}
    assert {c: r["verdict"] for c, r in rows.items()} == {
        "C1": "FAIL", "C2": "SKIPPED", "C3": "SKIPPED", "C4": "PASS", "C5": "NOT RUN",
        "C6": "FAIL", "C7": "NOT RUN"}
    assert rows["C1"]["tests"] == [{"test": "a", "outcome": "passed"},
                                   {"test": "b", "outcome": "failed"}]
    assert list(rows) == sorted(rows)
