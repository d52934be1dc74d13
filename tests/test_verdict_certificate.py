"""Page 1 as a certificate and the run's facts (issue 18, audit): a parametrised test keeps its
case in words, a test that stopped on an error before its declared value states that value
as NOT MEASURED with the limits it was held to, the budget table gives an instrument's range
in the function's unit, the pytest-html page reads the record, the operator is asked the
run's facts on a real bench at a terminal, and docs/rig.md gives the README's exit codes.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from pathlib import Path

from report_support import record_lines, write_record

from rig.record.measures import Measure, params_words, resolve_limit, title_of
from rig.record.report_model import NOT_MEASURED, build
from rig.record.report_pdf import write_report
from rig.record.run_record import Recorder, measurement_line

ROOT = Path(__file__).resolve().parent.parent
RELAY = "testplans/test_test_tokens.py::test_relay_test_code"
OPERATE = Measure("relay operate time after ENTER released", "s", low="zero",
                  high="relay.operate_limit_s", clause="declared: relay.operate_limit_s",
                  instrument="scope", function="time_interval")
ERROR = ("drivers.instruments.errors.AnswerError: scope TCPIP::127.0.0.1::5025::SOCKET: "
         ":MEASure:DELay? CHANnel2,CHANnel1: answer '+9.9E+37' is not a reading")


def test_a_parametrised_test_keeps_its_case_in_words():
    def test_cell():
        pass

    item = type("Item", (), {"function": test_cell, "originalname": "test_cell",
                             "name": "test_cell[credited-kct_krn-ACCEPT]",
                             "callspec": type("C", (), {"id": "credited-kct_krn-ACCEPT"})()})()
    assert title_of(item) == "Cell (credited, kct krn, ACCEPT)"
    test_cell.__doc__ = "One cell of the state matrix."
    assert title_of(item) == "One cell of the state matrix (credited, kct krn, ACCEPT)"
    assert params_words("amount--12.5") == "amount, -12.5"  # a minus sign stays one


def _relay_error_lines() -> list[dict]:
    """The complete record with the relay test added: declared, failed on a scope error
    before it measured anything."""
    lines = copy.deepcopy(record_lines("complete.jsonl"))
    if not any(row[0] == "relay.operate_limit_s" for row in lines[0]["declared"]):
        lines[0]["declared"].append(["relay.operate_limit_s", "0.1", "s"])
    lines[1]["selected"].append({"test": RELAY, "clauses": ["SPLN D3.009-1:2010 keypad "
                                                            "short codes 01 relay test"],
                                 "title": "Relay test code", "faults": ["late-relay"],
                                 "measures": [OPERATE.to_record()]})
    end = lines.pop()
    lines.append({"kind": "test", "time": end["time"], "test": RELAY, "outcome": "failed",
                  "phase": "call", "duration": 1.0, "clauses": ["SPLN D3.009-1:2010 keypad "
                                                               "short codes 01 relay test"],
                  "faults": ["late-relay"], "reason": ERROR})
    lines.append(end)
    return lines


def test_an_error_before_the_declared_value_is_stated_as_not_measured_with_its_limits(
        tmp_path):
    report = build(_relay_error_lines())
    row = report.tests[RELAY].unreached_rows()[0]
    assert (row.decision, row.limits, row.limits_from) == (
        NOT_MEASURED, "0 .. 0.1", "zero .. relay.operate_limit_s")
    assert row.expected_text() == "0 .. 0.1 s" and row.measured_text() == NOT_MEASURED
    assert report.tests[RELAY].reason_text.startswith("AnswerError: scope TCPIP::")
    run = write_record(tmp_path / "r", _relay_error_lines())
    write_report(run, pdf=False)
    html = (run / "report.html").read_text()
    first = html[:html.index("<h2>1 Laboratory")]
    failures = first[first.index("<h3>Failures</h3>"):]
    assert "Relay test code: relay operate time after ENTER released" in failures
    assert "0 .. 0.1 s" in failures and NOT_MEASURED in failures
    assert "not measured: the test stopped on AnswerError: scope" in failures
    assert "drivers.instruments.errors" not in first  # no module path on the certificate
    assert "late-relay" not in first  # the emulator's fault names: the lab's annex only


def test_the_budget_gives_the_instruments_range_in_the_functions_unit(tmp_path):
    """An energy (kWh) scaled from the load's power reading: the range is 1000 W."""
    profile = type("P", (), {})()
    rec = Recorder("testplans/test_relay_credit.py::test_depletion_opens_relay",
                   limit_value=lambda name: resolve_limit(name, profile))
    m = rec("energy the bench measured", 0.2, "kWh", instrument="generic", function="power",
            scaled_from=920.0, source="instrument")
    assert m.uncertainty["range"] == 1000.0
    lines = copy.deepcopy(record_lines("complete.jsonl"))
    lines.insert(-1, {"kind": "measurement", "time": lines[-1]["time"],
                      **json.loads(json.dumps(measurement_line(m)))})
    run = write_record(tmp_path / "r", lines)
    write_report(run, pdf=False)
    html = (run / "report.html").read_text()
    assert "power, 1000 W" in html and "power, 1000 kWh" not in html


def test_the_pytest_html_view_reads_identity_and_declared_values_from_the_record(tmp_path):
    from rig.record.pytest_html import record_start

    lines = copy.deepcopy(record_lines("complete.jsonl"))
    run = write_record(tmp_path / "r", lines)
    start = record_start(run)
    assert start["kind"] == "run_start" and start["declared"] == lines[0]["declared"]
    assert record_start(tmp_path / "none") == {} and record_start(None) == {}


def _args(**given: str) -> argparse.Namespace:
    from rig.commands.run_plan import build_parser

    args, _ = build_parser().parse_known_args(
        [x for k, v in given.items() for x in (f"--{k.replace('_', '-')}", v)])
    return args


def test_the_operator_is_asked_the_facts_the_command_line_did_not_give():
    from rig.commands.run_plan import ask_run_facts

    answers = iter(["new, seal intact", "yesterday", "2026-12-01", "warm", "23.5",
                    "Dewi Lestari, manager"])
    asked: list[str] = []
    said: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return next(answers)

    args = _args(humidity="48")
    ask_run_facts(args, ask=ask, say=said.append)
    assert (args.item_condition, args.item_received, args.temperature, args.humidity,
            args.signatory) == ("new, seal intact", "2026-12-01", "23.5", "48",
                                "Dewi Lestari, manager")
    assert len(asked) == 6 and not any("humidity" in q for q in asked)  # given: not asked
    assert "  --item-received must be a date (YYYY-MM-DD), got 'yesterday'" in said
    assert "  --temperature must be a number, got 'warm'" in said
    # the bench file's facts are not asked; Enter leaves a fact unrecorded
    args = _args()
    ask_run_facts(args, ask=lambda q: "", say=said.append, known=("item_condition",))
    assert args.item_condition is None and args.signatory is None


def test_the_prompt_is_for_a_real_bench_at_a_terminal(tmp_path):
    from rig.commands.run_plan import wants_prompt

    assert wants_prompt(_args(), interactive=True) == (False, ())  # the emulated bench
    bench = tmp_path / "real.toml"
    instruments = "".join(f'[instruments.{role}]\nresource = "TCPIP::127.0.0.1::{port}::'
                          f'SOCKET"\nmodel = "generic"\n'
                          for role, port in (("source", 5025), ("load", 5026),
                                             ("dmm", 5027), ("scope", 5028)))
    bench.write_text(f"""[bench]
name = "a real bench"
emulated = false

[meter]
pan = "600727471234567834"
optical = "/dev/ttyUSB0"
profile = "pln_default"

[meter.keys]
dkga = "02"
ea = "07"
sgc = "123456"
ti = "01"
krn = 1
kt = 2
vending_key = "env:STS_VENDING_KEY"

[keypad]
port = "/dev/ttyUSB1"

{instruments}
[environment]
temperature_c = 23.4
""")
    assert wants_prompt(_args(bench=str(bench)), interactive=False) == (False, ())
    ask, known = wants_prompt(_args(bench=str(bench)), interactive=True)
    assert ask and known == ("temperature",)  # the bench file's ambient is not asked
    full = _args(bench=str(bench), item_condition="new", item_received="2026-12-01",
                 humidity="48", signatory="Dewi")
    assert wants_prompt(full, interactive=True)[0] is False


def _exit_table(text: str) -> dict[str, str]:
    at = text.index("| exit code | meaning |")
    rows = {}
    for line in text[at:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        code, meaning = (cell.strip() for cell in line.strip("|").split("|", 1))
        rows[code] = meaning
    return rows


def test_docs_rig_md_gives_the_readmes_exit_codes():
    readme = _exit_table((ROOT / "README.md").read_text())
    docs = _exit_table((ROOT / "docs" / "rig.md").read_text())
    assert set(readme) == {"0", "1", "2", "3", "130"}
    assert docs == readme
    from rig.commands.run_plan import EXIT_CODES, INTERNAL

    assert set(EXIT_CODES.values()) | {INTERNAL} == {int(c) for c in readme}


def test_the_relay_plot_marks_the_edge_where_the_waveform_shows_it():
    """A dropout trigger with a 50 ms hold fires 50 ms after the supply went: the edge, and
    the command 39.8 ms before it, sit where the waveform shows them, not at the trigger."""
    import math

    from rig.record.plots import relay_edge_figure, waveform_edge

    times = [i / 6000 - 0.06 for i in range(700)]
    volts = [325 * math.sin(2 * math.pi * 50 * t) if t < -0.05 else 0.0 for t in times]
    assert abs(waveform_edge(times, volts) - -0.05) < 0.0005
    ax = relay_edge_figure(times, volts, measured_s=0.0398, limit_s=0.1).axes[0]
    at = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()}
    assert abs(at["relay edge (supply gone)"] - -50.0) < 0.5
    assert abs(at["relay command"] - -89.8) < 0.5
    assert abs(at["limit: command + 100 ms"] - 10.2) < 0.5
    lo, hi = ax.get_xlim()
    assert lo < -89.8 and hi > 10.2
    closing = [0.0 if t < 0.01 else 325 * math.sin(2 * math.pi * 50 * t) for t in times]
    assert abs(waveform_edge(times, closing) - 0.01) < 0.0005
    assert waveform_edge(times, [325.0] * len(times)) is None


def _instrument_tests() -> list[str]:
    """The plan tests that take an instrument (scope, DMM, load, source) as a fixture, or
    read a fact the profile gives by an instrument (the relay state, `relay_closed`)."""
    import ast

    from meterprofile import load_profile

    profile = load_profile("pln_default")
    by_instrument = [f for f in profile.facts
                     if profile.fact_source(f).source == "instrument"]
    out = []
    for path in sorted((ROOT / "testplans").glob("test_*.py")):
        text = path.read_text()
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and (
                    {a.arg for a in node.args.args} & {"scope", "dmm", "load", "source"}
                    or any(f in (ast.get_source_segment(text, node) or "")
                           for f in by_instrument)):
                out.append(node.name)
    return out


def _instrument_facts() -> set[str]:
    from meterprofile import load_profile

    profile = load_profile("pln_default")
    return {f for f in profile.facts if profile.fact_source(f).source == "instrument"}


def basis_missing(lines: list[dict], by_instrument: set[str]) -> list[tuple[str, str, str]]:
    """(test, measurement, what is missing) for each value judged on a fact the profile
    gives by an instrument whose record does not carry that reading's basis in full: the
    reading and its unit, the instrument's identity, the threshold, U and whether the
    decision is safe."""
    missing = []
    for x in lines:
        if x.get("kind") != "measurement":
            continue
        given = x.get("basis") or []
        missing += [(x["test"], x["name"], f"no basis for {fact}")
                    for fact in sorted(set(x.get("facts") or []) & by_instrument)
                    if not any(b.get("fact") == fact for b in given)]
        for b in given:
            fact = b.get("fact")
            for field, ok in (("reading", isinstance(b.get("reading"), int | float)),
                              ("unit", bool(b.get("unit"))),
                              ("threshold", isinstance(b.get("threshold"), int | float)),
                              ("idn", bool((b.get("instrument") or {}).get("idn"))),
                              ("U", bool((b.get("uncertainty") or {}).get("U"))),
                              ("safe", isinstance(b.get("safe"), bool))):
                if not ok:
                    missing.append((x["test"], x["name"], f"{fact}: no {field}"))
    return missing


def test_basis_missing_names_what_a_flag_line_lacks():
    good = {"fact": "relay_closed", "reading": 229.9, "unit": "V", "threshold": 50.0,
            "instrument": {"idn": "EMU,DMM"}, "uncertainty": {"U": 0.84}, "safe": True}
    line = {"kind": "measurement", "test": "t", "name": "relay closed", "value": 1,
            "facts": ["relay_closed"], "basis": [good]}
    assert basis_missing([line], {"relay_closed"}) == []
    assert basis_missing([{**line, "basis": None}], {"relay_closed"}) == [
        ("t", "relay closed", "no basis for relay_closed")]
    no_u = {**good, "uncertainty": {}}
    assert basis_missing([{**line, "basis": [no_u]}], {"relay_closed"}) == [
        ("t", "relay closed", "relay_closed: no U")]
    assert basis_missing([{**line, "facts": ["credit"], "basis": None}], {"relay_closed"}) == []


def test_every_instrument_value_of_the_instrument_tests_has_its_reference_and_u(tmp_path):
    """Every plan test that takes an instrument or reads the relay state, run through
    `rig run`: each numeric value measured with, or compared against, an instrument carries
    its reference and U in results.jsonl, and each value judged on a fact the profile gives
    by an instrument (a relay state: the load voltage against its threshold) carries that
    reading, its instrument, the threshold and the reading's U: none missing."""
    import subprocess
    import sys

    names = _instrument_tests()
    assert {"test_relay_test_code", "test_shown_values_agree_with_instruments",
            "test_power_limit_trips_and_reconnects", "test_display_read_by_the_operator",
            "test_clear_credit", "test_depletion_opens_relay"} <= set(names)
    reports = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "rig", "run", "--reports", str(reports),
                           "--progress", "off", "-p", "no:hypothesispytest",
                           "-k", " or ".join(names)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    run = reports / (reports / "LATEST").read_text().strip()
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    # a parametrised test runs as name[id]: its function's name is what ran
    ran = {x["test"].split("::")[-1].split("[")[0] for x in lines if x["kind"] == "test"}
    assert set(names) - {"test_explore"} <= ran, proc.stdout[-3000:]
    judged = [x for x in lines if x["kind"] == "measurement"
              and (x.get("source") == "instrument" or x.get("instrument"))]
    numeric = [x for x in judged if isinstance(x["value"], int | float) and x.get("unit")]
    flags = [x for x in judged if x not in numeric]
    assert len(numeric) >= 15, proc.stdout[-3000:]
    missing = [(x["test"], x["name"]) for x in numeric
               if x.get("reference") is None or not (x.get("uncertainty") or {}).get("U")]
    assert missing == []
    assert all((x.get("instrument") or {}).get("idn") for x in numeric)
    assert all(x["value"] in (0, 1, "PASS", "FAIL") and not x.get("unit") for x in flags)
    by_instrument = _instrument_facts()
    assert by_instrument == {"relay_closed"}
    on_instrument = [x for x in lines if x["kind"] == "measurement"
                     and set(x.get("facts") or []) & by_instrument]
    assert len(on_instrument) >= 8, proc.stdout[-3000:]
    assert basis_missing(lines, by_instrument) == []  # each carries its reading with U
    assert all(b["safe"] for x in on_instrument for b in x["basis"])  # 230 V or 0 V vs 50 V
    # a state the scope's trigger saw (an event at the trigger level: no reading of the
    # voltage is taken) is the one kind of flag left without a reading; every other flag
    # judged on an instrument carries its basis
    events = [x for x in flags if re.fullmatch(r"scope CH\d (dropout trigger|rising edge)",
                                               x.get("obtained") or "")]
    assert [(x["test"], x["name"]) for x in flags
            if x not in events and not x.get("basis")] == []
    # a meter's value compared against an instrument carries its error; the partial run
    # is never called PASS
    compared = [x for x in numeric if x.get("source") in ("display", "register")]
    assert len(compared) >= 5 and all(x["error"] is not None for x in compared)
    assert "overall verdict: NOT CONCLUDED (partial selection" in proc.stdout


def test_the_report_says_what_the_rule_did(tmp_path):
    """The complete record holds a current shown within U of its limit: under the simple
    rule page 1 lists it as decided as measured, under the guarded one as CONDITIONAL, and
    section 5 says so in both."""
    said = {}
    for rule in ("simple", "guarded"):
        lines = copy.deepcopy(record_lines("complete.jsonl"))
        lines[1]["decision_rule"] = rule
        run = write_record(tmp_path / rule, lines)
        write_report(run, pdf=False)
        html = (run / "report.html").read_text()
        said[rule] = (html[:html.index("<h2>1 Laboratory")],
                      html[html.index("<h2>5 "):html.index("<h2>6 ")])
    first, fifth = said["simple"]
    assert "Results within U of a limit (decided as measured)" in first
    assert "current shown (code 44) = " in first
    fifth = " ".join(fifth.split())
    assert re.search(r"What the rule did in this run: \d+ result\(s\) carry an uncertainty; "
                     r"1 of them lie within U of a limit, decided as measured and marked", fifth)
    first, fifth = said["guarded"]
    fifth = " ".join(fifth.split())
    assert "Results within U of a limit (guarded rule)" in first
    assert "1 of them lie within U of a limit, 1 reported as CONDITIONAL" in fifth
