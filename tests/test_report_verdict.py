"""The overall verdict a lab can sign, measurements declared with their tests, and the
uncertainty the rig gives every instrument value, all read back from the record.

Known answers by hand: the emulated (`generic`) DMM reading 4.000 A on its 10 A range has
a = 0.2 % · 4 + 0.05 % · 10 = 0.013 A, u = a/√3 = 0.0075055 A; the meter's 0.001 A digit
adds 0.0005/√3 = 0.00028868 A, so u_c = 0.0075111 A and U = 0.015022 A. A meter value of
4.035 A against 3.96 .. 4.04 A (±1 % of 4.000) lies 0.005 A inside the high limit, within U:
CONDITIONAL PASS under the guarded rule, PASS under the simple one.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import pytest
from report_support import record_lines, write_record

from rig.record import uncertainty
from rig.record.measures import (
    Measure,
    UnknownLimit,
    last_digit,
    resolve_limit,
    title_of,
    words,
)
from rig.record.report_context import meter_number
from rig.record.report_model import NOT_CONCLUDED, NOT_MEASURED, build, verdict_lines
from rig.record.report_pdf import write_report
from rig.record.run_record import Recorder, measurement_line

PROFILE = type("P", (), {"accuracy": type("A", (), {"display_tolerance_pct": 1.0})(),
                         "relay": type("R", (), {"operate_limit_s": 0.1})()})()
AMPS = Measure("current shown (code 44)", "A", tolerance="accuracy.display_tolerance_pct",
               relative=True, instrument="dmm", function="ac_current", source="display")


def _recorder(rule: str, declared=(AMPS,)) -> tuple[Recorder, list]:
    sent: list = []
    rec = Recorder("plan.py::test_x", sent.append, declared=declared,
                   limit_value=lambda name: resolve_limit(name, PROFILE),
                   instrument_of=lambda role: "generic", rule=rule)
    return rec, sent


def test_declared_measurement_takes_unit_limits_by_name_and_the_rigs_u():
    rec, _ = _recorder("guarded")
    m = rec("current shown (code 44)", 4.035, reference=(4.0, 4.0), shown="4.035 A")
    assert (m.unit, m.low, m.high) == ("A", pytest.approx(3.96), pytest.approx(4.04))
    assert m.limits_from == "±accuracy.display_tolerance_pct % of the reference"
    assert m.source == "display" and m.instrument == {"role": None, "model": "generic",
                                                      "idn": None}
    assert m.uncertainty["u_display"] == pytest.approx(0.0005 / math.sqrt(3))
    assert m.uncertainty["U"] == pytest.approx(0.015022, abs=1e-6)
    assert m.error == pytest.approx(0.035)
    line = json.loads(json.dumps(measurement_line(m)))
    assert line["reference"] == 4.0 and line["decision"]["rule"] == "guarded"


def test_within_u_of_a_limit_is_conditional_when_guarded_and_pass_when_simple():
    guarded, _ = _recorder("guarded")
    simple, _ = _recorder("simple")
    args = ("current shown (code 44)", 4.035)
    kw = {"reference": (4.0, 4.0), "shown": "4.035 A"}
    assert guarded(*args, **kw).decision["verdict"] == "CONDITIONAL PASS"
    assert simple(*args, **kw).decision == {"rule": "simple", "verdict": "PASS",
                                            "near_limit": True}
    # inside by more than U: PASS under both; outside by more than U: FAIL under both
    assert guarded("current shown (code 44)", 4.0, **kw).decision["verdict"] == "PASS"
    assert guarded("current shown (code 44)", 4.06, **kw).decision["verdict"] == "FAIL"


def test_the_reading_before_and_after_adds_its_timing_to_u():
    rec, _ = _recorder("simple")
    steady = rec("current shown (code 44)", 4.0, reference=(4.0, 4.0), shown="4.000 A")
    moved = rec("current shown (code 44)", 4.0, reference=(3.99, 4.01), shown="4.000 A")
    assert steady.uncertainty["u_timing"] == 0.0
    assert moved.uncertainty["u_timing"] == pytest.approx(0.01 / math.sqrt(3))
    assert moved.reference == pytest.approx(4.0)
    assert moved.uncertainty["U"] > steady.uncertainty["U"]


def test_a_value_the_instrument_measured_is_its_own_reference():
    op = Measure("relay operate time", "s", low="zero", high="relay.operate_limit_s",
                 instrument="scope", function="time_interval")
    rec, _ = _recorder("simple", (op,))
    m = rec("relay operate time", 0.04)
    assert (m.low, m.high, m.source, m.reference, m.error) == (0.0, 0.1, "instrument", 0.04,
                                                               None)
    assert m.uncertainty["U"] > 0


def test_limits_by_name_and_display_digits():
    assert resolve_limit("relay.operate_limit_s", PROFILE) == 0.1
    assert resolve_limit("iec62056_21.reaction_max_s", None) == 1.5
    with pytest.raises(UnknownLimit, match=r"'relay\.nothing'"):
        resolve_limit("relay.nothing", PROFILE)
    assert last_digit("230.4 V") == pytest.approx(0.1) and last_digit("920 W") == 1.0
    assert last_digit("----") is None
    assert words("test_relay_test_code[x]") == "Relay test code (x)"


def test_a_test_name_in_words_is_its_docstring_first_line():
    def test_thing():
        """Credit is added exactly.

        More words."""

    item = type("Item", (), {"function": test_thing, "originalname": "test_thing"})()
    assert title_of(item) == "Credit is added exactly"
    item.function = lambda: None
    assert title_of(item) == "Thing"


def test_the_meter_number_is_the_drn_by_the_pans_parts():
    assert meter_number("600727471234567834") == "47123456783"  # IIN 600727: 11 digits
    from sts.pan import MeterPAN, luhn_check_digit

    drn = "012345678901"
    drn += str(luhn_check_digit(drn))  # a 13-digit DRN with its check digit
    pan = MeterPAN("0000", drn).digits
    assert len(pan) == 18 and meter_number(pan) == drn != pan[6:17]


# --- the overall verdict ----------------------------------------------------------------


def _lines(rule: str = "guarded") -> list[dict]:
    lines = copy.deepcopy(record_lines("complete.jsonl"))
    lines[1]["decision_rule"] = rule
    return lines


def _passing(lines: list[dict]) -> list[dict]:
    """The complete record without its failing credit test (as if the plan had none)."""
    gone = "testplans/test_credit.py::test_credit_added_exactly"
    out = [x for x in lines if x.get("test") != gone]
    out[1]["selected"] = [s for s in out[1]["selected"] if s["test"] != gone]
    return out


def test_every_test_run_and_passed_is_pass_and_a_skip_is_not_concluded():
    lines = _passing(_lines("simple"))
    assert build(lines).verdict() == "PASS"
    assert verdict_lines(build(lines)) == ["overall verdict: PASS", "stamps: EMULATED BENCH"]
    skipped = copy.deepcopy(lines)
    test = next(x for x in skipped if x["kind"] == "test")
    test.update(outcome="skipped", reason="the meter does not offer fact 'energy_import'")
    report = build(skipped)
    assert report.verdict() == NOT_CONCLUDED
    assert "skipped (the meter does not offer fact 'energy_import')" in report.verdict_note()
    # a test that does not apply to the item (rig.record.measures.not_applicable) is no
    # reason to withhold the verdict
    test["reason"] = "not applicable: the meter profile declares no magnetic field sensor"
    assert build(skipped).verdict() == "PASS" and build(skipped).not_applicable()


def test_a_run_whose_every_test_failed_ran_the_whole_plan():
    """A failed test reached its verdict: a run of failures only is FAIL with the whole plan
    run, not "no test reached a verdict"."""
    lines = _lines("simple")
    for x in lines:
        if x["kind"] == "test":
            x["outcome"] = "failed"
    report = build(lines)
    assert report.verdict() == "FAIL"
    assert report.verdict_note() == "every test of the plan was run; at least one failed"


def test_a_stopped_run_is_not_concluded_with_why():
    lines = _passing(_lines("simple"))
    lines[-1]["stopped"] = "SIGTERM"
    report = build(lines)
    assert report.verdict() == NOT_CONCLUDED
    assert report.verdict_note().startswith("stopped by SIGTERM after 2 of 2 tests")


def test_a_declared_measurement_never_reached_reads_not_measured(tmp_path):
    lines = _passing(_lines("simple"))
    shown = "testplans/test_test_tokens.py::test_shown_values_agree_with_instruments"
    sel = next(s for s in lines[1]["selected"] if s["test"] == shown)
    sel["measures"] = [AMPS.to_record(),
                       dataclasses.replace(AMPS, name="frequency shown").to_record()]
    sel["title"] = "Shown values agree with the instruments"
    report = build(lines)
    rows = {r.name: r for r in report.tests[shown].rows}
    assert rows["frequency shown"].decision == NOT_MEASURED
    assert rows["current shown (code 44)"].measured
    run = write_record(tmp_path / "r", lines)
    write_report(run, pdf=False)
    html = (run / "report.html").read_text()
    assert ">NOT MEASURED<" in html and "Shown values agree with the instruments" in html


def test_an_old_record_renders_the_u_and_specifications_it_was_made_with(tmp_path,
                                                                       monkeypatch):
    """The record keeps the specification table used; a later change of the table (here a
    DMM ten times worse) changes neither the U nor the specification rows of its report."""
    from rig.record.report_context import specifications

    rec, _ = _recorder("simple")
    m = rec("current shown (code 44)", 4.0, reference=(4.0, 4.0), shown="4.000 A")
    lines = _passing(_lines("simple"))
    for x in lines:
        if x["kind"] == "run_start":
            for inst in x["identity"]["instruments"].values():
                inst["model"] = "generic"
        if x["kind"] == "report_context":
            x["specifications"] = specifications({"instruments": {"dmm": {"model":
                                                                           "generic"}}})
        if x.get("name") == "current shown (code 44)":
            x.update(json.loads(json.dumps(measurement_line(m))), test=x["test"])
    run = write_record(tmp_path / "old", lines)
    write_report(run, pdf=False)
    before = (run / "report.html").read_text()
    assert "0.015 A" in before and "±(0.2 % of reading + 0.05 % of range), 1 year" in before

    spec = uncertainty.SPECS["generic"]["ac_current"]
    worse = dataclasses.replace(spec, pct_reading=spec.pct_reading * 10)
    monkeypatch.setitem(uncertainty.SPECS, "generic",
                        {**uncertainty.SPECS["generic"], "ac_current": worse})
    assert uncertainty.evaluate("generic", "ac_current", 4.0).expanded > 0.05  # changed
    write_report(run, pdf=False)
    after = (run / "report.html").read_text()
    strip = [line for line in after.splitlines() if "issued" not in line]
    assert strip == [line for line in before.splitlines() if "issued" not in line]


def test_console_closing_lines_come_from_the_record(tmp_path):
    lines = copy.deepcopy(record_lines("partial_k.jsonl"))
    report = build(lines)
    said = verdict_lines(report)
    assert said[0].startswith("overall verdict: NOT CONCLUDED (partial selection (-k "
                              "shown_values or depletion): 29 test(s) of the plan left out")
    assert said[1] == "stamps: PARTIAL, EMULATED BENCH"


def test_run_facts_go_from_rig_run_to_the_record():
    """Item condition, date received, ambient conditions and the signatory: options of
    `rig run`, passed to the plugin, written to the record's report_context."""
    from rig.commands.run_plan import build_parser, check_before_start, pytest_args
    from rig.record.report_context import _environment, _signatory

    args, extra = build_parser().parse_known_args([
        "--item-condition", "new, seal intact", "--item-received", "2026-12-01",
        "--temperature", "23.5", "--humidity", "48", "--signatory", "Dewi Lestari, manager"])
    cmd = pytest_args(args, extra, Path("/tmp/reports/run"))
    for expected in ("--rig-item-condition=new, seal intact", "--rig-item-received=2026-12-01",
                     "--rig-temperature=23.5", "--rig-humidity=48",
                     "--rig-signatory=Dewi Lestari, manager"):
        assert expected in cmd
    bad, _ = build_parser().parse_known_args(["--humidity", "wet"])
    assert check_before_start(bad) == "--humidity must be a number, got 'wet'"
    bad, _ = build_parser().parse_known_args(["--item-received", "yesterday"])
    assert "--item-received must be a date" in check_before_start(bad)
    assert _signatory("Dewi Lestari, manager") == {
        "name": "Dewi Lestari", "function": "manager", "source": "rig run --signatory"}
    config = type("C", (), {"environment": None})()
    assert _environment(config, {"temperature": "23.5", "humidity": "48"}) == {
        "temperature_c": 23.5, "humidity_pct": 48.0,
        "source": "rig run --temperature/--humidity"}
    assert _environment(config, {}) is None


def test_the_relay_plot_is_framed_on_the_command_the_edge_and_the_limit():
    """A late relay (216 ms) on a waveform of ±50 ms around the edge: the command marker,
    the edge and the limit are all in view, the limit drawn."""
    from rig.record.plots import relay_edge_figure

    times = [i / 1000 - 0.05 for i in range(100)]
    volts = [325.0 if t < 0 else 0.0 for t in times]
    ax = relay_edge_figure(times, volts, measured_s=0.2157, limit_s=0.1).axes[0]
    lo, hi = ax.get_xlim()
    assert lo < -215.7 and hi > 0.0 and lo > -300 and hi < 60
    labels = ax.get_legend_handles_labels()[1]
    assert "limit: command + 100 ms" in labels and "relay command" in labels


def test_a_measurement_that_fails_only_when_proven():
    """A measurement whose bench U is of the order of its tolerance (the sampled energy):
    outside its limits by less than U it fails no test, reads CONDITIONAL FAIL, and the run
    is NOT CONCLUDED; outside by more than U it fails."""
    from rig.record.decision import PROVEN

    rec, _ = _recorder("simple", (dataclasses.replace(AMPS, rule=PROVEN),))
    kw = {"reference": (4.0, 4.0), "shown": "4.045 A"}
    near = rec("current shown (code 44)", 4.045, **kw)
    assert near.verdict == "FAIL" and near.decision["verdict"] == "CONDITIONAL FAIL"
    assert rec.failed == []
    far = rec("current shown (code 44)", 4.08, **kw)
    assert far.decision["verdict"] == "FAIL" and rec.failed == [far]

    lines = _passing(_lines("simple"))
    shown = "testplans/test_test_tokens.py::test_shown_values_agree_with_instruments"
    row = next(x for x in lines if x.get("name") == "current shown (code 44)")
    row.update(json.loads(json.dumps(measurement_line(near))), test=shown)
    report = build(lines)
    assert report.verdict() == NOT_CONCLUDED
    assert "lies outside its limits (3.96 .. 4.04 A) by less than U" in report.verdict_note()
