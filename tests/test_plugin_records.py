"""The plugin's record and report machinery, on a small throwaway plan that needs no bench.

The plan records values with passing and failing limits, fails after recording, skips,
attaches a plot and names clauses; the run must leave results.jsonl (every measurement, each
test's outcome, in order), a report.html with the clause matrix at its end, and junit.xml.
"""

from __future__ import annotations

import json
import re

import pytest
from plugin_support import lines, readable_text, run_plan, short

pytest_plugins = ["pytester"]

PLAN = '''
import pytest
from rig.record.plots import depletion_plot, relay_edge_plot

@pytest.mark.clause("IEC 62055-41:2014 9.9 demo", "declared: relay.operate_limit_s")
def test_records_then_fails(record):
    record("voltage", 231.0, "V", 220, 240)
    record("outcome", "ACCEPT", nominal="ACCEPT")
    raise RuntimeError("a later step failed")

@pytest.mark.clause("IEC 62055-41:2014 9.9 demo", "SPLN D3.009-1:2010 other")
@pytest.mark.faults("late-relay")
def test_out_of_limits_fails_without_an_assert(record):
    record("current", 7.5, "A", 0, 5)
    record("still recorded after the bad one", 1, "s", 0, 2)

@pytest.mark.clause("SPLN D3.009-1:2010 other")
def test_passes_with_plots(record, attach_plot):
    record("relay operate time", 0.031, "s", high=0.1, at=12.5)
    record("note", "free text")
    attach_plot(relay_edge_plot([0.0, 0.01, 0.02], [325.0, 0.0, 0.0], 0.01, 0.031, 0.1),
                "relay edge")
    attach_plot(depletion_plot([0, 1, 2], [1.0, 0.5, 0.0], [1000, 1000, 0]), "depletion")

@pytest.mark.clause("IEC 62056-21:2002 readout")
def test_skipped_device(record):
    pytest.skip("no scope on this bench")

def test_plain_helper_without_rig():
    assert True
'''


@pytest.fixture
def no_bench(monkeypatch):
    """Any attempt to open a bench fails the plan run loudly."""
    import rig.bench.devices

    def refuse(*args, **kwargs):
        raise AssertionError("a record-only plan opened the bench")

    monkeypatch.setattr(rig.bench.devices, "open_bench", refuse)


@pytest.fixture
def plan_run(pytester, no_bench):
    pytester.makepyfile(test_plan=PLAN)
    return run_plan(pytester, run_id="run1"), pytester.path / "reports" / "run1"


def test_outcomes_and_exit_code(plan_run):
    result, _ = plan_run
    result.assert_outcomes(passed=2, failed=2, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*measurements outside their limits:*",
                                 "*current = 7.5 A (limits 0 .. 5)*"])


def test_results_file_in_order(plan_run):
    _, run = plan_run
    records = lines(run)
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert kinds.count("run_start") == 1 and kinds.count("run_end") == 1
    # each test's measurements come before its outcome line
    first_test = kinds.index("test")
    assert records[first_test]["test"].endswith("test_records_then_fails")
    assert [r["name"] for r in records[:first_test] if r["kind"] == "measurement"] == [
        "voltage", "outcome"]
    start = records[0]
    assert start["run_id"] == "run1" and start["profile"] == "pln_default"
    assert start["bench_file"].endswith("emulated.toml") and start["tests"] == 4
    assert ["relay.operate_limit_s", "0.1", "s"] in start["declared"]
    assert "idn" not in json.dumps(start["identity"])  # nothing was opened


def test_measurements_reach_the_record_even_when_the_test_fails(plan_run):
    _, run = plan_run
    m = {(short(r["test"]), r["name"]): r for r in lines(run) if r["kind"] == "measurement"}
    voltage = m[("test_records_then_fails", "voltage")]
    assert (voltage["value"], voltage["unit"], voltage["low"], voltage["high"],
            voltage["verdict"]) == (231.0, "V", 220, 240, "PASS")
    assert m[("test_records_then_fails", "outcome")]["verdict"] == "PASS"
    assert m[("test_out_of_limits_fails_without_an_assert", "current")]["verdict"] == "FAIL"
    assert m[("test_out_of_limits_fails_without_an_assert",
              "still recorded after the bad one")]["verdict"] == "PASS"
    relay = m[("test_passes_with_plots", "relay operate time")]
    assert relay["verdict"] == "PASS" and relay["bench_time"] == 12.5
    assert relay["limits"] == "<= 0.1"
    assert m[("test_passes_with_plots", "note")]["verdict"] == "INFO"


def test_one_test_line_per_plan_test(plan_run):
    _, run = plan_run
    tests = {short(r["test"]): r for r in lines(run) if r["kind"] == "test"}
    assert {k: v["outcome"] for k, v in tests.items()} == {
        "test_records_then_fails": "failed",
        "test_out_of_limits_fails_without_an_assert": "failed",
        "test_passes_with_plots": "passed",
        "test_skipped_device": "skipped",
    }  # the plain test uses nothing of the rig: not in the record
    assert tests["test_records_then_fails"]["reason"] == "RuntimeError: a later step failed"
    assert "current = 7.5 A" in tests["test_out_of_limits_fails_without_an_assert"]["reason"]
    assert tests["test_out_of_limits_fails_without_an_assert"]["faults"] == ["late-relay"]
    assert tests["test_skipped_device"]["reason"] == "no scope on this bench"
    assert tests["test_passes_with_plots"]["clauses"] == ["SPLN D3.009-1:2010 other"]
    assert all(t["duration"] >= 0 and t["phase"] == "call" for t in tests.values())


def test_run_end_clause_matrix(plan_run):
    _, run = plan_run
    end = lines(run)[-1]
    assert end["counts"] == {"failed": 2, "passed": 1, "skipped": 1}
    matrix = {row["clause"]: row["verdict"] for row in end["clause_matrix"]}
    assert matrix == {"IEC 62055-41:2014 9.9 demo": "FAIL",
                      "SPLN D3.009-1:2010 other": "FAIL",
                      "IEC 62056-21:2002 readout": "SKIPPED",
                      "declared: relay.operate_limit_s": "FAIL"}


def test_html_report(plan_run):
    _, run = plan_run
    html = (run / "report.html").read_text()
    body_end = html.rfind("</body>")
    matrix_at = html.find("<section id='clause-matrix'")
    assert 0 < matrix_at < body_end
    assert html.rfind("</script>") < matrix_at  # after everything pytest-html renders
    matrix = html[matrix_at:body_end]
    for clause, verdict in (("IEC 62055-41:2014 9.9 demo", "FAIL"),
                            ("IEC 62056-21:2002 readout", "SKIPPED")):
        assert re.search(re.escape(clause) + r"</td><td[^>]*>" + verdict, matrix), clause
    assert "relay.operate_limit_s = 0.1 s" in matrix  # declared value beside the verdict
    assert "Bench identity" in html and "600727471234567834" in html
    assert "Declared values (profile pln_default)" in html
    assert "STS Rig conformance report" in html
    # measurement tables and plots travel in pytest-html's data blob (HTML-escaped)
    assert "current" in html and "7.5" in html and "relay operate time" in html
    assert html.count("data:image/png;base64") == 2
    assert "col-clause" in html


def test_junit_and_latest(plan_run, pytester):
    _, run = plan_run
    junit = (run / "junit.xml").read_text()
    assert 'tests="5"' in junit and 'failures="2"' in junit
    assert (pytester.path / "reports" / "LATEST").read_text().strip() == "run1"


def test_run_ids_do_not_collide(pytester, no_bench):
    pytester.makepyfile(test_plan='''
import pytest

@pytest.mark.clause("C")
def test_one(record):
    record("x", 1)
''')
    for _ in range(2):
        run_plan(pytester).assert_outcomes(passed=1)
    dirs = [p for p in (pytester.path / "reports").iterdir() if p.is_dir()]
    assert len(dirs) == 2  # two runs in the same second get "<id>" and "<id>-2"
    newest = max(dirs, key=lambda p: p.stat().st_mtime_ns).name
    assert (pytester.path / "reports" / "LATEST").read_text().strip() == newest


def test_a_key_recorded_by_mistake_is_masked(pytester, no_bench):
    pytester.makepyfile(test_plan='''
import pytest

@pytest.mark.clause("C")
def test_leaks(record, vendor):
    record("oops", vendor.decoder_key.hex())
    assert vendor.decoder_key.hex() == "0"
''')
    run_plan(pytester, run_id="r").assert_outcomes(failed=1)
    run = pytester.path / "reports" / "r"
    from emulator.setup import MeterSetup

    secret = MeterSetup.default().decoder_key.hex()
    for path in run.iterdir():
        text = readable_text(path)
        assert secret not in text and secret.upper() not in text, path.name
    assert "<key redacted>" in (run / "results.jsonl").read_text()
