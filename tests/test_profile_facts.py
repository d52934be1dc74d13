"""Meter profiles' fact tables: strict loading, the minimal-register meter on the wire, and
the resolver reading facts from where a profile declares them."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.optical import OpticalError, OpticalPort
from emulator.served_facts import format_value
from meterprofile import RegisterSource, load_profile
from meterprofile.fact_catalogue import FACTS
from rig.meter.fact_resolver import FactResolver, FactUnavailable
from rig.meter.sources import parse_value
from rig.meter.sources.display_source import parse_display
from rig.meter.under_test import EntryResult

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = (ROOT / "meterprofile" / "pln_default.toml").read_text()
MINIMAL_TEXT = (ROOT / "meterprofile" / "pln_minimal.toml").read_text()
MESSAGES = load_profile().display.messages


# --- loading ----------------------------------------------------------------------------------

def test_both_profiles_declare_every_fact_and_no_timing_register():
    for name in ("pln_default", "pln_minimal"):
        p = load_profile(name)
        assert set(p.facts) == set(FACTS), name
        assert p.fact_source("relay_closed").source == "instrument"  # never a register
        addresses = {s.address for s in p.register_facts().values()}
        assert not addresses & {"C.51.1", "C.51.2", "C.51.4", "C.51.5", "C.52.3", "C.58.0",
                                "C.58.2", "C.60.0"}, name


def test_minimal_profile_offers_only_what_real_meters_offer():
    p = load_profile("pln_minimal")
    assert {n: s.address for n, s in p.register_facts().items()} == {
        "meter_number": "C.1.0", "clock_time": "0.9.1", "clock_date": "0.9.2",
        "energy_import": "1.8.0", "error_register": "F.F", "credit": "C.90.0"}
    assert p.fact_source("entry_result").source == "display"
    assert p.fact_source("entry_count").source == "none"
    assert p.optical.diagnostic_registers == ()
    assert p.display.message("KEY_EXPIRED") == p.display.message("CRC_ERROR") == "GAGAL"


def test_every_minimal_profile_key_has_a_source_comment():
    for line in MINIMAL_TEXT.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line, f"no source comment on: {line}"


@pytest.mark.parametrize(("old", "new", "message"), [
    ("tid_store_depth = 20", "tid_store_depth = true",
     r"^mymeter.toml: 'tokens.tid_store_depth' must be int, got True$"),
    ("entry_timeout_s = 20.0", 'entry_timeout_s = "20"',
     r"^mymeter.toml: 'tokens.entry_timeout_s' must be float, got '20'$"),
    ("key_expiry = true", "key_expiry = 1", r"'tokens.key_expiry' must be bool, got 1"),
    ('address = "C.50.0"', 'adress = "C.50.0"', r"unknown key 'facts.credit.adress'"),
    ('[facts.credit]\nsource = "register"', '[facts.credit]\nsource = "regster"',
     r"'facts.credit'.*'register', 'display'"),
    ("[facts.tamper]", "[facts.tamperr]", r"unknown fact 'facts.tamperr'"),
    ('address = "C.50.0"', 'address = "C.50.0"\nscale = 0.0',
     r"'facts.credit.scale'.*greater than 0"),
    ('address = "C.57.0"', 'address = "C.50.0"', r"register C.50.0 is declared for two facts"),
    ('BENAR"', 'BENAR"\nACCEPTED = "OK"', r"'display.messages.ACCEPTED' is no entry outcome"),
    ('measurement = "load_voltage"      # DMM at the load terminals\nabove = 50.0',
     'measurement = "load_voltage"', r"'facts.relay_closed.above' is needed"),
])
def test_profile_errors_name_the_file_and_the_dotted_key(tmp_path, old, new, message):
    assert old in DEFAULT_TEXT
    path = tmp_path / "mymeter.toml"
    path.write_text(DEFAULT_TEXT.replace(old, new, 1))
    with pytest.raises(ValueError, match=message) as err:
        load_profile(path)
    assert "\n" not in str(err.value)


def test_display_fact_needs_its_pattern(tmp_path):
    old = 'pattern = "TAMPER 1"              # latched\n'
    assert old in MINIMAL_TEXT
    path = tmp_path / "mymeter.toml"
    path.write_text(MINIMAL_TEXT.replace(old, ""))
    with pytest.raises(ValueError, match=r"'facts.tamper.pattern' is needed to parse 'flag'"):
        load_profile(path)


def test_report_table_says_where_each_fact_comes_from():
    rows = {key: (value, unit) for key, value, unit in load_profile("pln_minimal").as_table()}
    assert rows["facts.credit"] == ("register C.90.0", "kWh")
    assert rows["facts.voltage"] == ("display code 41 (number)", "V")
    assert rows["facts.relay_closed"] == ("instrument load_voltage", "")
    assert rows["facts.entry_count"] == ("none", "")


# --- values on the wire and off the display ---------------------------------------------------

def test_register_values_are_formatted_and_scaled_as_declared():
    kw = RegisterSource(source="register", address="1.7.0", unit="kW", scale=1000.0,
                        format="%.3f")
    assert format_value(920.0, kw) == "0.920"
    assert format_value(True, RegisterSource(source="register", address="C.54.0")) == "1"
    assert format_value(7.0, RegisterSource(source="register", address="C.57.2",
                                            format="int")) == "7"
    assert parse_value(FACTS["power"], "0.920", 1000.0) == pytest.approx(920.0)
    assert parse_value(FACTS["tamper"], "0") is False
    with pytest.raises(ValueError, match="fact 'credit': 'abc' is not a number"):
        parse_value(FACTS["credit"], "abc")


def test_display_texts_parse_as_declared():
    p = load_profile("pln_minimal")
    assert parse_display(FACTS["voltage"], p.fact_source("voltage"), "230.0 V") == 230.0
    assert parse_display(FACTS["key_revision"], p.fact_source("key_revision"), "KRN 3 KT") == 3
    assert parse_display(FACTS["tamper"], p.fact_source("tamper"), "TAMPER 1") is True
    assert parse_display(FACTS["tamper"], p.fact_source("tamper"), "TAMPER 0") is False
    with pytest.raises(ValueError, match=r"fact 'key_revision'.*'GAGAL'"):
        parse_display(FACTS["key_revision"], p.fact_source("key_revision"), "GAGAL")


def test_entry_results_from_the_display_compare_messages():
    shown = EntryResult(None, "GAGAL", 1.0, MESSAGES)
    assert (shown.seen, shown.want("KEY_EXPIRED"), shown.want("CRC_ERROR")) == (
        "GAGAL", "GAGAL", "GAGAL")
    assert not shown.accepted
    held = EntryResult(None, "KCT 1", 1.0, MESSAGES)
    assert held.seen == held.want("KCT_HELD") == "KCT"
    assert EntryResult(None, "BENAR", 1.0, MESSAGES).accepted
    assert EntryResult(None, "230.0 V", 1.0, MESSAGES, code=True).accepted
    assert not EntryResult(None, "BLOKIR", 1.0, MESSAGES, code=True).accepted
    told = EntryResult("KEY_EXPIRED", "GAGAL", 1.0, MESSAGES)
    assert (told.seen, told.want("KEY_EXPIRED"), told.want("CRC_ERROR")) == (
        "KEY_EXPIRED", "KEY_EXPIRED", "CRC_ERROR")


class _OpticalBench:
    """A bench with only an optical port (the resolver's view of it)."""

    def __init__(self, optical):
        self.optical = optical

    def has(self, role):
        return role == "optical"


def test_minimal_meter_serves_only_declared_registers(start_emulator, tmp_path):
    log = tmp_path / "undeclared.log"
    emu = start_emulator("--profile", "pln_minimal", "--speed", "200", "--read-log", str(log))
    port = OpticalPort(emu.optical, password="00000000")
    try:
        readout = {r.obis: r.value for r in port.readout()}
        assert set(readout) == {"0.0.0", "C.1.0", "0.9.1", "0.9.2", "1.8.0", "F.F", "C.90.0"}
        assert readout["C.90.0"] == "0.000"
        resolver = FactResolver(load_profile("pln_minimal"), _OpticalBench(port))
        reading = resolver.read("credit")
        assert (reading.value, reading.how) == (0.0, "register C.90.0")
        assert resolver.value("meter_number") == "47123456783"
        assert not resolver.offers("entry_count")
        with pytest.raises(FactUnavailable, match=r"fact 'entry_count'.*declares no source"):
            resolver.read("entry_count")
        with pytest.raises(FactUnavailable, match=r"fact 'voltage'.*no camera"):
            resolver.read("voltage")
        assert log.read_text() == ""  # created at start, nothing undeclared read yet
        with pytest.raises(OpticalError):
            port.read("C.52.0")  # the result register of the emulated default meter
        assert log.read_text().splitlines() == ["C.52.0"]
    finally:
        port.close()


def test_unknown_profile_stops_the_emulator_with_one_line(start_emulator):
    with pytest.raises(RuntimeError, match="no meter profile named 'pln_nosuch'"):
        start_emulator("--profile", "pln_nosuch")


def test_operator_fact_comes_from_the_answer_given(tmp_path):
    from meterprofile import OperatorSource
    from rig.bench.operator_steps import AnswersFile, Operator
    from rig.meter.sources.operator_source import OperatorFact

    src = OperatorSource(source="operator", prompt="What credit does the display show (kWh)?")
    answers = AnswersFile.parse("observe | What credit does the display show (kWh)? | 12.5\n",
                                tmp_path / "answers.txt")
    reading = OperatorFact(Operator(answers=answers), src).read(FACTS["credit"])
    assert (reading.value, reading.how) == (12.5, "operator")
    with pytest.raises(FactUnavailable, match="no operator is at this bench"):
        OperatorFact(None, src).read(FACTS["credit"])


@pytest.mark.slow
def test_a_plan_test_needing_an_undeclared_fact_is_skipped_naming_it(tmp_path):
    import json
    import subprocess
    import sys

    old = '''[facts.key_revision]
source = "display"                # code 04: "KRN 1 KT 2"
code = "04"                       # key data
parse = "regex"                   # group 1
pattern = "KRN ([0-9]+)"          # the KRN
'''
    assert old in MINIMAL_TEXT
    profile = tmp_path / "nokrn.toml"
    profile.write_text(MINIMAL_TEXT.replace(old, '[facts.key_revision]\nsource = "none"\n'))
    reports = tmp_path / "reports"
    subprocess.run([sys.executable, "-m", "rig", "run", "--reports", str(reports),
                    "--profile", str(profile),
                    "testplans/test_key_change.py::test_two_token_set_both_orders"],
                   cwd=ROOT, capture_output=True, text=True, timeout=300)
    (run,) = [p for p in reports.iterdir() if p.is_dir()]
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    (test,) = [x for x in lines if x["kind"] == "test"]
    assert test["outcome"] == "skipped"
    assert "does not offer fact 'key_revision'" in test["reason"]
    start = next(x for x in lines if x["kind"] == "run_start")
    assert ["facts.key_revision", "none", ""] in start["declared"]
