"""A bound is part of a measurement: a relay edge later than the scope's screen reaches is
recorded as `bound="lower"` with the bound as its value, printed "> 0.715 s" wherever the
value is shown, and judged on every value it allows.

Known answers by hand: "later than 0.715 s" against <= 0.5 s: every value it allows lies
over the limit, FAIL. "Later than 0.3 s" against <= 0.5 s: the true value may lie either
side, NOT CONCLUSIVE (no test fails, the run is NOT CONCLUDED). "Later than 0.501 s" against
<= 0.5 s with U = 0.01 s: within U of the limit, a CONDITIONAL FAIL under the guarded rule.
"""

from __future__ import annotations

import copy
import json

import pytest
from report_support import record_lines, write_record

from rig.record.pytest_html import measurement_html, shown
from rig.record.report_model import NOT_CONCLUDED, RecordError, load
from rig.record.report_pdf import write_report
from rig.record.run_record import FAIL, NOT_CONCLUSIVE, PASS, Recorder, judge, measurement_line

RELAY = "testplans/test_test_tokens.py::test_relay_test_code"
NAME = "relay operate time after ENTER released"
OBTAINED = ("lower bound: no relay edge within 0.765 s of the ENTER press on the scope's "
            "screen (0.9 s wide), so the relay operated later than that")


def bound_line(value: float, verdict: str, decision: str) -> dict:
    """A measurement line as the plan's record call writes it for a late relay (by hand)."""
    return {"kind": "measurement", "time": "2026-12-01T22:17:05.000+00:00", "test": RELAY,
            "name": NAME, "value": value, "unit": "s", "low": None, "high": 0.5,
            "nominal": None, "limits": "<= 0.5", "bound": "lower", "verdict": verdict,
            "decision": {"rule": "simple", "verdict": decision, "near_limit": False},
            "source": "instrument", "obtained": OBTAINED, "bench_time": 120.5}


def record_with(line: dict, outcome: str) -> list[dict]:
    """The recorded complete run, its failing credit test gone, with the relay test added
    (selected, its bound line, its outcome) before the run's end."""
    gone = "testplans/test_credit.py::test_credit_added_exactly"
    lines = [x for x in copy.deepcopy(record_lines("complete.jsonl"))
             if x.get("test") != gone]
    lines[1]["decision_rule"] = "simple"
    lines[1]["selected"] = [s for s in lines[1]["selected"] if s["test"] != gone] + [
        {"test": RELAY, "clauses": ["SPLN D3.009-1:2010 01 relay test"], "faults": [],
         "title": "The relay test by code 01"}]
    test = {"kind": "test", "time": "2026-12-01T22:17:06.000+00:00", "test": RELAY,
            "outcome": outcome, "phase": "call", "duration": 3.0,
            "clauses": ["SPLN D3.009-1:2010 01 relay test"], "faults": [],
            "reason": "" if outcome == "passed" else "measurements outside their limits"}
    return [*lines[:-1], line, test, lines[-1]]


def page_one(html: str) -> str:
    start = html.index("<section class=\"first\"")
    return html[start:html.index("</section>", start)]


def test_a_lower_bound_over_the_limit_reads_greater_than_on_page_one_and_in_the_annex(
        tmp_path):
    run = write_record(tmp_path / "late", record_with(bound_line(0.715, FAIL, FAIL), "failed"))
    report, _ = write_report(run, pdf=False)
    assert report.verdict() == "FAIL"
    row = next(r for r in report.tests[RELAY].rows if r.name == NAME)
    assert (row.bound, row.decision, row.error_pct) == ("lower", FAIL, None)
    assert row.measured_text() == "> 0.715 s (lower bound)"
    html = (run / "report.html").read_text()
    first = page_one(html)
    assert "Overall verdict: <span class=\"v-FAIL\">FAIL</span>" in first
    assert "&gt; 0.715 s (lower bound)" in first  # the failures table's measured cell
    annex = html[html.index("</section>"):]
    assert "<td class=\"num\">&gt; 0.715</td><td>s</td>" in annex
    assert "<td class=\"num\">0.715</td>" not in html  # never a plain number


def test_a_lower_bound_under_the_limit_concludes_nothing(tmp_path):
    run = write_record(tmp_path / "short", record_with(
        bound_line(0.3, NOT_CONCLUSIVE, NOT_CONCLUSIVE), "passed"))
    report = load(run)
    assert report.verdict() == NOT_CONCLUDED
    assert any(f"{NAME} = > 0.3 s (lower bound) is a bound" in why
               for why in report.not_concluded())
    from rig.record.results_db import summarise

    assert summarise(run).verdict == NOT_CONCLUDED


def test_an_unknown_bound_in_a_record_is_refused(tmp_path):
    line = bound_line(0.715, FAIL, FAIL)
    line["bound"] = "sideways"
    run = write_record(tmp_path / "bad", record_with(line, "failed"))
    with pytest.raises(RecordError, match="bound"):
        load(run)


def test_the_recorder_judges_a_bound_on_every_value_it_allows():
    sent: list = []
    rec = Recorder(RELAY, sent.append)
    late = rec(NAME, 0.715, "s", high=0.5, bound="lower")
    short = rec("reconnection time", 0.3, "s", low=0.0, high=0.5, bound="lower")
    above = rec("trip delay", 0.715, "s", low=0.5, bound="lower")
    assert (late.verdict, short.verdict, above.verdict) == (FAIL, NOT_CONCLUSIVE, PASS)
    assert rec.failed == [late]  # NOT CONCLUSIVE fails no test
    assert late.summary() == f"{NAME} > 0.715 s (lower bound; limits <= 0.5)"
    line = json.loads(json.dumps(measurement_line(late)))
    assert line["bound"] == "lower" and line["decision"]["verdict"] == FAIL
    assert judge(0.5, high=0.5, bound="lower") == FAIL  # later than the limit itself
    assert judge(0.2, low=0.3, bound="upper") == FAIL
    assert judge(0.2, high=0.3, bound="upper") == PASS
    with pytest.raises(ValueError, match="bound 'below' is not known"):
        rec(NAME, 0.715, "s", high=0.5, bound="below")


def test_a_bound_within_u_of_the_limit_is_conditional_under_the_guarded_rule():
    from rig.record.decision import CONDITIONAL_FAIL, decide

    guarded = decide(0.501, None, 0.5, 0.01, FAIL, "guarded", bound="lower")
    assert (guarded.verdict, guarded.near_limit) == (CONDITIONAL_FAIL, True)
    assert decide(0.501, None, 0.5, 0.01, FAIL, "simple", bound="lower").verdict == FAIL
    assert decide(0.3, None, 0.5, 0.01, NOT_CONCLUSIVE, "guarded",
                  bound="lower").verdict == NOT_CONCLUSIVE


def test_the_pytest_html_view_shows_the_bound():
    rec = Recorder(RELAY)
    m = rec(NAME, 0.715, "s", high=0.5, bound="lower")
    html = measurement_html(["01 relay test"], [m])
    assert "<td>&gt; 0.715</td><td>s</td>" in html
    assert shown(0.715, "lower") == "> 0.715" and shown(0.715) == "0.715"


def test_the_relay_edge_plot_draws_a_lower_bound():
    from rig.record.plots import relay_edge_figure, relay_edge_plot

    times = [i / 1000 - 0.8 for i in range(900)]  # a screen 0.9 s wide, supply all along
    volts = [325.0 * ((i % 20) / 10 - 1) for i in range(900)]
    fig = relay_edge_figure(times, volts, title="relay test: no edge on the screen",
                            limit_s=0.1, bound_s=0.715)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["edge after 0.715 s"]
    labels = ax.get_legend_handles_labels()[1]
    assert "limit: command + 100 ms" in labels and "relay command" in labels
    command = next(line for line in ax.lines if line.get_label() == "relay command")
    assert command.get_xdata()[0] == pytest.approx((times[-1] - 0.715) * 1000)
    assert relay_edge_plot(times, volts, limit_s=0.1, bound_s=0.715)[:4] == b"\x89PNG"
