"""A relay state judged on an instrument reading carries its basis (issue 18): the reading it
was decided from, the instrument, the threshold and the reading's U (k = 2) from the
instrument's specification, and whether the decision is safe (|reading - threshold| > U).

Known answers, worked by hand from the generic (emulated) DMM's ac_voltage specification,
±(0.1 % of reading + 0.05 % of range), ranges 1, 10, 100, 1000 V, u = a/√3, U = 2u:

- 229.9 V on the 1000 V range: a = 0.2299 + 0.5 = 0.7299 V, U = 2 · 0.7299/√3 = 0.84282 V;
  against 50 V the margin is 179.9 V > U: safe.
- 50.08 V on the 100 V range: a = 0.05008 + 0.05 = 0.10008 V, U = 0.115562 V; the margin
  0.08 V < U: the state is not proven (CONDITIONAL under the guarded rule).
"""

from __future__ import annotations

import copy
import json
import math
import re

import pytest
from report_support import record_lines, write_record

from rig.meter.sources import ReadingBasis
from rig.record.report_model import build
from rig.record.report_pdf import write_report
from rig.record.run_record import Recorder, measurement_line

RELAY = "testplans/test_relay_credit.py::test_depletion_opens_relay"


def _basis(reading: float, decided: bool = True) -> ReadingBasis:
    return ReadingBasis("relay_closed", decided, "load_voltage", "dmm", "ac_voltage", "V",
                        reading, 50.0, "generic")


def _recorder(basis: ReadingBasis | None, rule: str = "simple") -> Recorder:
    return Recorder(RELAY, fact_source=lambda fact: ("instrument", "instrument load_voltage"),
                    fact_basis=lambda fact: basis if fact == "relay_closed" else None,
                    rule=rule)


def test_a_relay_state_carries_the_reading_it_was_decided_from_with_its_u():
    m = _recorder(_basis(229.9))("relay closed with credit", 1, nominal=1,
                                 fact="relay_closed")
    line = json.loads(json.dumps(measurement_line(m)))
    assert line["facts"] == ["relay_closed"] and line["source"] == "instrument"
    (basis,) = line["basis"]
    assert (basis["reading"], basis["unit"], basis["threshold"], basis["decided"],
            basis["function"]) == (229.9, "V", 50.0, True, "ac_voltage")
    assert basis["instrument"] == {"role": "dmm", "model": "generic", "idn": None}
    budget = basis["uncertainty"]
    assert budget["range"] == 1000.0 and budget["k"] == 2.0
    assert budget["U"] == pytest.approx(2 * 0.7299 / math.sqrt(3), rel=1e-9)
    assert budget["U"] == pytest.approx(0.84282, abs=1e-5)
    assert basis["margin"] == pytest.approx(179.9) and basis["safe"] is True
    assert line["decision"] == {"rule": "simple", "verdict": "PASS", "near_limit": False}
    # the flag itself has no unit, reference or U of its own: the reading has them
    assert line["reference"] is None and line["uncertainty"] is None and line["error"] is None


def test_a_state_within_u_of_its_threshold_is_not_proven():
    for rule, verdict in (("simple", "PASS"), ("guarded", "CONDITIONAL PASS")):
        m = _recorder(_basis(50.08), rule)("relay closed with credit", 1, nominal=1,
                                           fact="relay_closed")
        (basis,) = m.basis
        assert basis["uncertainty"]["range"] == 100.0
        assert basis["uncertainty"]["U"] == pytest.approx(0.115562, abs=1e-6)
        assert basis["margin"] == pytest.approx(0.08) and basis["safe"] is False
        assert m.decision == {"rule": rule, "verdict": verdict, "near_limit": True}
    # a relay that should have opened and read closed, within U: a FAIL not proven
    rec = _recorder(_basis(50.08), "guarded")
    m = rec("relay opened", 0, nominal=1, fact="relay_closed")
    assert m.verdict == "FAIL" and m.decision["verdict"] == "CONDITIONAL FAIL"
    assert rec.failed == [m]  # the test still fails on it (the guarded rule as for numbers)


def test_a_plan_may_give_the_reading_a_state_was_judged_on():
    """A state judged on an instrument outside the meter's facts (the plan read the DMM
    itself): the basis it passes is recorded with its U, as a fact's is."""
    rec = Recorder(RELAY)
    m = rec("relay opened", 1, nominal=1, basis=_basis(0.0, decided=False))
    (basis,) = m.basis
    assert m.source == "instrument" and basis["decided"] is False
    # 0 V on the 1 V range: a = 0.05 % of 1 V, U = 2 · 0.0005/√3
    assert basis["uncertainty"]["U"] == pytest.approx(2 * 0.0005 / math.sqrt(3), rel=1e-9)
    assert basis["safe"] is True and basis["margin"] == 50.0
    with pytest.raises(ValueError, match="'relay opened': a basis is a reading against its "
                                         "threshold"):
        rec("relay opened", 1, nominal=1, basis=ReadingBasis(
            "load_voltage", 0.0, "load_voltage", "dmm", "ac_voltage", "V", 0.0, None, "generic"))


def test_a_value_not_judged_on_an_instrument_carries_no_basis():
    rec = _recorder(None)
    m = rec("relay closed with credit", 1, nominal=1, fact="relay_closed")
    assert m.basis is None and m.facts == ["relay_closed"]
    rec = Recorder(RELAY, fact_source=lambda fact: ("register", "register C.90.0"),
                   fact_basis=lambda fact: None)
    assert rec("credit", 1.5, "kWh", fact="credit").basis is None


def test_a_number_read_as_an_instrument_fact_gets_that_instruments_u():
    reading = ReadingBasis("load_voltage", 229.9, "load_voltage", "dmm", "ac_voltage", "V",
                           229.9, None, "generic")
    rec = Recorder(RELAY, fact_source=lambda fact: ("instrument", "instrument load_voltage"),
                   fact_basis=lambda fact: reading)
    m = rec("load voltage", 229.9, fact="load_voltage")
    assert (m.unit, m.reference, m.source) == ("V", 229.9, "instrument")
    assert m.uncertainty["U"] == pytest.approx(0.84282, abs=1e-5) and m.basis is None


def _lines_with(*measurements) -> list[dict]:
    """The complete record with its two relay flags replaced by these measurements."""
    lines = copy.deepcopy(record_lines("complete.jsonl"))
    at = next(i for i, x in enumerate(lines) if x.get("name") == "relay closed with credit")
    lines = [x for x in lines if x.get("name") not in ("relay closed with credit",
                                                       "relay opened when credit ran out")]
    for offset, m in enumerate(measurements):
        lines.insert(at + offset, {"kind": "measurement", "time": lines[at]["time"],
                                   **json.loads(json.dumps(measurement_line(m)))})
    return lines


def test_the_report_shows_the_basis_beside_the_flag(tmp_path):
    closed = _recorder(_basis(229.9), "guarded")("relay closed with credit", 1, nominal=1,
                                                 fact="relay_closed")
    opened = _recorder(_basis(229.9), "guarded")("relay opened when credit ran out", 0,
                                                 nominal=1, fact="relay_closed")
    lines = _lines_with(closed, opened)
    test_line = next(x for x in lines if x.get("kind") == "test" and x["test"] == RELAY)
    test_line.update(outcome="failed", phase="call", reason="relay opened when credit ran out")
    report = build(lines)
    rows = {r.name: r for r in report.tests[RELAY].rows}
    said = "relay closed: yes, DMM 229.90 V ± 0.84 V (k = 2) against 50 V"
    assert rows["relay closed with credit"].basis_text() == said
    assert rows["relay closed with credit"].basis_cells() == [("229.90 V", "0.84 V")]
    assert rows["relay opened when credit ran out"].measured_text() == f"0 ({said})"
    run = write_record(tmp_path / "r", lines)
    write_report(run, pdf=False)
    html = " ".join((run / "report.html").read_text().split())
    first = html[:html.index("<h2>1 Laboratory")]
    failures = first[first.index("<h3>Failures</h3>"):]
    assert f"relay opened when credit ran out</td> <td>= 1</td> <td>0 ({said})" in failures
    fifth = html[html.index("<h2>5 "):html.index("<h2>6 ")]
    assert re.search(r"relay closed with credit: the load voltage it was judged on</td>"
                     r"<td>generic</td><td>ac_voltage, 1000 V</td>", fifth)
    seventh = html[html.index("<h2>7 "):]
    assert f"judged on: {said}" in seventh and "229.90 V</td>" in seventh


def test_a_reading_within_u_is_conditional_in_the_report(tmp_path):
    near = _recorder(_basis(50.08), "guarded")("relay closed with credit", 1, nominal=1,
                                               fact="relay_closed")
    report = build(_lines_with(near))
    (entry, row), = [(t, r) for t, r in report.conditional() if r.basis]
    assert entry.test == RELAY and row.decision == "CONDITIONAL PASS" and row.near_limit
    assert row.basis_text() == ("relay closed: yes, DMM 50.08 V ± 0.12 V (k = 2) against "
                                "50 V: within U of the threshold, the state is not proven")
    assert report.verdict() != "PASS"


def test_the_relay_state_read_over_the_wire_carries_the_dmms_identity_and_u(start_emulator,
                                                                             tmp_path):
    """The emulated DMM, over its socket: the reading the resolver decided the relay state
    from is the one the record gives its U, with the DMM's *IDN?."""
    from meterprofile import load_profile
    from rig.bench.config import load_bench
    from rig.bench.devices import open_bench
    from rig.meter.fact_resolver import FactResolver

    emu = start_emulator("--speed", "50")
    bench_file = emu.bench_file(tmp_path / "bench.toml", "flag basis test")
    with open_bench(load_bench(bench_file)) as bench:
        facts = FactResolver(load_profile("pln_default"), bench)
        state = facts.value("relay_closed")
        basis = facts.basis("relay_closed")
        assert basis.instrument is bench.instrument("dmm") and basis.threshold == 50.0
        assert state == (basis.reading > 50.0) == basis.decided
        assert facts.last["relay_closed"].how == f"instrument dmm load_voltage = " \
                                                 f"{basis.reading:.6g}"
        facts.value("credit")
        assert facts.basis("credit") is None  # a register: no instrument reading
        rec = Recorder(RELAY, fact_basis=facts.basis)
        m = rec("relay state", int(state), nominal=int(state), fact="relay_closed")
        idn = bench.instrument("dmm").idn
    (line,) = m.basis
    assert idn and line["instrument"] == {"role": "dmm", "model": "generic", "idn": idn}
    full_scale = line["uncertainty"]["range"]
    a = abs(basis.reading) * 0.001 + full_scale * 0.0005
    assert line["uncertainty"]["U"] == pytest.approx(2 * a / math.sqrt(3), rel=1e-9)
    assert line["safe"] is (abs(basis.reading - 50.0) > line["uncertainty"]["U"])
