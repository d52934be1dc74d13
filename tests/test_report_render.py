"""The signed report, rendered from recorded run records: HTML content and the PDF per page.

The answers below were worked out by hand from the records (see tests/report_support.py):
the DMM (Keysight 34461A, 750 V AC range) reading 230.1 V has a = 0.06 % · 230.1 + 0.03 % ·
750 = 0.363 V, u = a/√3 = 0.2096 V, the meter's 0.1 V digit adds 0.05/√3 = 0.0289 V, so
u_c = 0.2116 V and U = 0.42 V; the 4.0 A current on the 10 A range: a = 0.006 + 0.006 A,
u_c = 0.00751 A, U = 0.015 A. The meter's 4.035 A is 0.005 A from the 4.04 A limit, inside
U: under the guarded rule a CONDITIONAL PASS.
"""

from __future__ import annotations

import copy
import datetime as dt
import re

import pytest
from report_support import pdf_images, pdf_pages, record_lines, write_record

from rig.record.report_model import RecordError, build, load
from rig.record.report_pdf import write_report
from rig.record.run_record import Redactor

ISSUED = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
RUN = "20261201-090000"


def _render(tmp_path, name, lines, *, pdf=True, tail="", redact=None):
    run = write_record(tmp_path / name, lines, tail)
    report, _ = write_report(run, issued=ISSUED, pdf=pdf, redact=redact)
    html = (run / "report.html").read_text()
    pages = pdf_pages(run / "report.pdf") if pdf else []
    return report, html, pages, run


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    return _render(tmp_path_factory.mktemp("complete"), RUN, record_lines("complete.jsonl"))


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    return _render(tmp_path_factory.mktemp("partial"), "20261201-221655",
                   record_lines("partial_k.jsonl"))


def test_every_page_carries_the_id_the_page_number_and_the_emulated_stamp(complete):
    _, _, pages, _ = complete
    assert len(pages) >= 5
    for i, text in enumerate(pages, 1):
        assert f"page {i} of {len(pages)}" in text, i
        assert RUN in text, i
        assert "EMULATED BENCH: not a test of a physical meter" in text, i


def test_first_page_is_the_summary(complete):
    _, _, pages, _ = complete
    first = pages[0]
    assert "Overall verdict: FAIL" in first
    assert "Contoh Meter Test Laboratory" in first and "KAN LP-1234-IDN" in first
    assert "PT Contoh Meter" in first and "Siti Rahma" in first
    assert "meter number 47123456783" in first and "firmware 1.0.0" in first
    assert "6 clauses: 2 FAIL, 4 PASS" in first
    # each failure as clause, test in words, expected, measured with unit and U, and the
    # page of its details (weasyprint's target-counter)
    assert "Credit added exactly" in first and "test_credit_added_exactly" not in first
    assert re.search(r"7\.\d+, page \d+", first)
    assert "current shown (code 44) = 4.035 A ± 0.015 A (k = 2): CONDITIONAL PASS" in first
    # the run's times in its own time zone (WIB, +0700), ISO 8601 with the offset
    assert "2026-12-02T05:17:00+07:00" in first
    assert "issued 2026-12-02T09:30:00+07:00" in first
    assert "PARTIAL" not in first and "INCOMPLETE" not in first


def test_method_conditions_uncertainty_and_rule(complete):
    report, _, pages, _ = complete
    text = " ".join(pages)
    assert report.standards() == {
        "IEC 62055-31": {"2022": ["test_depletion_opens_relay"]},
        "IEC 62055-41": {"2014": ["test_credit_added_exactly"]},
        "SPLN D3.009-1": {"2010": ["test_credit_added_exactly",
                                   "test_shown_values_agree_with_instruments"]}}
    assert "e8ab07dff9c7ed472d88ba66eb8fef6afae63b0c" in text  # plan version: git commit
    assert "f01f9b136e64090f40851d1e70bf67672fedde0c5ea3dcf2ab9a1510ff39d0a9" in text  # sha256
    assert "23.4 °C" in text and "48 %" in text and "230 V 50 Hz from the bench" in text
    assert "guarded acceptance (ILAC G8:09/2019 4.2.2, guard band w = U, k = 2)" in text
    assert "0.42 V" in text and "0.015 A" in text  # U (k = 2), two figures
    assert "keysight-34461a" in text and "±(0.06 % of reading + 0.03 % of range), 1 year" in text
    assert "None: the whole plan was run." in text


def test_comparison_rows_show_meter_reference_error_limit_and_u(complete):
    report, html, _, _ = complete
    rows = {r.name: r for t in report.tests.values() for r in t.rows}
    volts = rows["voltage shown (code 41)"]
    assert (volts.value, volts.reference) == (230.4, 230.1)
    assert volts.error_pct == pytest.approx(0.3 / 230.1 * 100)
    assert volts.limit_pct == pytest.approx(1.0)
    assert volts.uncertainty["U"] == pytest.approx(0.42312, abs=1e-4)
    assert volts.decision == "PASS" and not volts.near_limit
    amps = rows["current shown (code 44)"]
    assert amps.uncertainty["U"] == pytest.approx(0.015011, abs=1e-5)
    assert amps.decision == "CONDITIONAL PASS" and amps.near_limit
    assert "+0.130 %" in html and "227.799 .. 232.401 (±1 %)" in html


def test_every_measurement_and_every_plot_is_in_the_pdf(complete):
    report, html, pages, run = complete
    text = " ".join(pages)
    for test in report.tests.values():
        assert test.short in text
        for row in test.rows:
            assert " ".join(row.name.split()[:2]) in text, row.name
    assert re.search(r"Figure 7\.\d+\.1: relay edge at credit exhaustion", text)
    assert re.search(r"Figure 7\.\d+\.2: credit and power during depletion", text)
    assert len(pdf_images(run / "report.pdf")) == 2
    assert html.count("data:image/png;base64") == 2
    assert "<details" not in html and "collapsed" not in html  # nothing to click open


def test_sign_off_statements_and_declared_sources(complete):
    _, _, pages, _ = complete
    last = pages[-1]
    assert "tested by Siti Rahma" in last and "reviewed by" in last and "approved by" in last
    assert f"End of report {RUN}." in last
    text = " ".join(pages)
    assert "The results relate only to the item tested" in text
    assert "ratings.voltage_v 230.0 V [CSI11]" in text  # declared value with its source


def test_no_password_and_no_key_anywhere(tmp_path):
    lines = record_lines("complete.jsonl")
    key = bytes.fromhex("e653341f9d5bf36f")
    lines[4]["reason"] = f"decoder key {key.hex()} leaked into a message"
    _, html, pages, run = _render(tmp_path, RUN, lines, redact=Redactor({key}))
    text = " ".join(pages)
    declared = html[html.index("rig-declared"):]
    assert "optical.password" not in declared and "00000000" not in text
    assert "Not shown (secrets): optical.password." in html  # said, never shown
    for body in (html, text, (run / "report.pdf").read_bytes().decode("latin-1")):
        assert key.hex() not in body
    assert "<key redacted>" in html


def test_partial_run_is_stamped_and_names_what_was_left_out(partial):
    report, _, pages, _ = partial
    assert len(report.left_out) == 29 and report.partial
    first = pages[0]
    assert "PARTIAL: 29 test(s) of the plan left out" in first
    assert "29 test(s), -k shown_values or depletion:" in first
    for name in ("Credit added exactly", "Key expiry", "Register display"):
        assert name in first
    for text in pages:
        assert "PARTIAL" in text
    # a -k run is never a PASS: it did not run the plan
    assert "Overall verdict: NOT CONCLUDED" in first and "PASS" not in first.split(
        "Overall verdict")[1][:40]
    assert "NOT CONCLUDED: partial selection (-k shown_values or depletion): 29 test(s)" \
        in first
    assert "testplans/test_credit.py::test_used_token_refused: -k shown_values or depletion" \
        in " ".join(pages)


def test_cut_off_record_is_incomplete_and_says_where_it_ends(tmp_path):
    lines = record_lines("complete.jsonl")[:9]
    assert lines[-1]["kind"] == "measurement"
    report, _, pages, _ = _render(tmp_path, RUN, lines, tail='{"kind": "measurem')
    assert report.incomplete and report.lines == 9
    first = pages[0].replace("/ ", "/")  # a line may break after a slash
    assert ("INCOMPLETE: the run record ends at line 9 (measurement of "
            "testplans/test_relay_credit.py::test_depletion_opens_relay") in first
    assert "Overall verdict: FAIL" in first  # the failed credit test was recorded before
    for text in pages:
        assert "INCOMPLETE" in text
    depletion = report.tests["testplans/test_relay_credit.py::test_depletion_opens_relay"]
    assert depletion.outcome == "not run" and len(depletion.rows) == 4


def test_cut_off_before_any_verdict_says_no_verdict(tmp_path):
    lines = record_lines("complete.jsonl")[:3]
    report, html, _, _ = _render(tmp_path, RUN, lines, pdf=False)
    assert report.verdict() == "NOT CONCLUDED"
    assert "NOT CONCLUDED: the run record ends at line 3 without the run&#39;s end" in html


def test_silent_meter_puts_the_no_verdict_banner_first(tmp_path):
    lines = copy.deepcopy(record_lines("partial_k.jsonl"))
    why = "meter bring-up failed: no answer on the optical port /dev/pts/1"
    lines[0]["meter_error"] = why
    lines = [x for x in lines if x["kind"] not in ("measurement", "plot")]
    for x in lines:
        if x["kind"] == "test":
            x.update(outcome="skipped", phase="setup", reason=why)
    _, _, pages, _ = _render(tmp_path, "20261201-221655", lines)
    first = pages[0].replace("/ ", "/")
    banner = first.index("NOT CONCLUDED: the meter did not come up: " + why)
    assert banner < first.index("PARTIAL") < first.index("Overall verdict: NOT CONCLUDED")


def test_the_rule_decides_a_result_within_u(tmp_path):
    lines = record_lines("complete.jsonl")
    gone = "testplans/test_credit.py::test_credit_added_exactly"
    no_failure = [x for x in copy.deepcopy(lines) if x.get("test") != gone]
    for x in no_failure:  # as if the plan had no such test (a test not run is no PASS)
        if x["kind"] == "report_context":
            x["selected"] = [s for s in x["selected"] if s["test"] != gone]
        if x["kind"] == "run_end":
            x["clause_matrix"] = []
    assert build(no_failure).verdict() == "CONDITIONAL PASS"
    simple = copy.deepcopy(no_failure)
    simple[1]["decision_rule"] = "simple"
    report = build(simple)
    assert report.verdict() == "PASS"
    amps = next(r for t in report.tests.values() for r in t.rows if r.name.startswith("current"))
    assert amps.decision == "PASS" and amps.near_limit
    run = write_record(tmp_path / "s", simple)
    write_report(run, pdf=False, issued=ISSUED)
    html = (run / "report.html").read_text()
    assert re.search(r">PASS \(within U of a limit\)</td>", html)
    assert "simple acceptance (ILAC G8:09/2019 4.2.1, guard band w = 0)" in html


def test_a_record_without_run_start_is_refused(tmp_path):
    run = write_record(tmp_path / "x", [{"kind": "measurement", "test": "t", "name": "v"}])
    with pytest.raises(RecordError, match="no run_start line"):
        load(run)
    with pytest.raises(RecordError, match="does not exist"):
        load(tmp_path / "nowhere")


def test_a_bench_that_never_came_up_says_so_first(tmp_path):
    lines = [copy.deepcopy(x) for x in record_lines("partial_k.jsonl")
             if x["kind"] in ("run_start", "report_context", "run_end")]
    why = "bench bring-up failed: dmm (TCPIP::10.0.0.9::5025::SOCKET): no answer to *IDN?"
    lines[0]["bench_error"] = lines[-1]["bench_error"] = why
    lines[-1]["counts"] = {"not run": 2}
    report, html, _, _ = _render(tmp_path, "20261201-221655", lines, pdf=False)
    assert report.verdict() == "NOT CONCLUDED"
    banner = html.index(f"NOT CONCLUDED: the bench did not come up: {why}")
    assert banner < html.index("PARTIAL:") < html.index("Overall verdict:")
    assert "2 test(s), not run: never started: the run stopped before it:" in html


def test_how_each_value_was_obtained_is_a_column_beside_it():
    from rig.record.report_model import how_obtained

    assert how_obtained("credit added [register C.90.0]", {}) == ("credit added",
                                                                  "register C.90.0")
    assert how_obtained("result of the token [display]", {}) == ("result of the token",
                                                                 "display")
    assert how_obtained("reconnection [instrument scope CH2->CH1]", {}) == (
        "reconnection", "instrument scope CH2->CH1")
    assert how_obtained("operator-observed (cover): open?", {}) == (
        "operator-observed (cover): open?", "operator")
    assert how_obtained("shown V", {"instrument": "keysight-34461a"}) == (
        "shown V", "instrument keysight-34461a")
    assert how_obtained("x [not a source]", {}) == ("x [not a source]", "")


def test_the_start_every_measurement_of_a_test_shares_is_printed_once():
    """A matrix cell names its state and event in each of its lines: the report prints that
    start once above the table, up to the last separator every name shares, and never an
    empty name (a name equal to the start keeps it)."""
    from rig.record.report_html import shared_prefix

    cell = ["credited | clear credit | credit: kept | credit 30.0",
            "credited | clear credit | relay: kept | relay_closed True",
            "credited | clear credit | clear_credit outcome allowed = BENAR"]
    assert shared_prefix(cell) == "credited | clear credit | "
    assert shared_prefix(["a | b | x", "a | c | y"]) == "a | "
    assert shared_prefix(["a | b | x", "a | b | "]) == "a | "
    assert shared_prefix(["ab | x", "ac | y"]) == ""
    assert shared_prefix(["credited | clear credit | credit: kept"]) == ""
