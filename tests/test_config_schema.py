"""The bench file schema: one case per wrong type, range or unknown key, each with the exact
one-line message; the shipped bench files and the README's real bench load with typed values."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from rig.bench.config import DEFAULT_BENCH, ConfigError, load_bench

ROOT = Path(__file__).resolve().parent.parent

BASE = """
[bench]
name = "bench 3"
[meter]
pan = "600727471234567834"
optical = "/dev/ttyUSB0"
password = "00000000"
[meter.keys]
krn = 1
kt = 2
vending_key = "env:STS_TEST_VK"
[keypad]
port = "/dev/ttyACM0"
press_ms = 65
gap_ms = 500
[instruments.source]
resource = "TCPIP::10.0.0.1::5025::SOCKET"
model = "chroma-61500"
timeout_ms = 3000
[safety]
terminals_open = false
[lab]
name = "PT Meter Lab"
[report]
decision_rule = "simple"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def refused(tmp_path: Path, old: str, new: str) -> ConfigError:
    assert old in BASE, old
    with pytest.raises(ConfigError) as info:
        load_bench(write(tmp_path, BASE.replace(old, new, 1)))
    return info.value


def case(name: str, old: str, new: str, message: str):
    return pytest.param(old, new, message, id=name)


CASES = [
    # --- the examples of issue 10 item 13 ------------------------------------------------------
    case("calibration-date-as-string", "timeout_ms = 3000", 'calibration_due = "2027-03-01"',
         "instruments.source.calibration_due: expected a TOML date such as 2027-03-01 "
         "(unquoted), got '2027-03-01' (a string)"),
    case("speed-as-word", 'name = "bench 3"', 'speed = "fast"',
         "bench.speed: expected a number greater than 0, got 'fast' (a string)"),
    case("faults-as-string", 'name = "bench 3"', 'faults = "late-relay"',
         "bench.faults: expected a list of fault names, e.g. ['late-relay'], "
         "got 'late-relay' (a string)"),
    case("kt-as-boolean", "kt = 2", "kt = true",
         "meter.keys.kt: expected a whole number from 0 to 3, got true (a boolean)"),
    case("press-ms-as-string", "press_ms = 65", 'press_ms = "65"',
         "keypad.press_ms: expected a number greater than 0, got '65' (a string)"),
    case("gap-ms-negative", "gap_ms = 500", "gap_ms = -500",
         "keypad.gap_ms: expected a number of 0 or more, got -500 (an integer)"),
    case("timeout-ms-zero", "timeout_ms = 3000", "timeout_ms = 0",
         "instruments.source.timeout_ms: expected a whole number greater than 0, "
         "got 0 (an integer)"),
    # --- other types and ranges ------------------------------------------------------------------
    case("calibration-date-time", "timeout_ms = 3000", "calibration_due = 2027-03-01T08:00:00",
         "instruments.source.calibration_due: expected a TOML date such as 2027-03-01 "
         "(unquoted), got 2027-03-01T08:00:00 (a date-time)"),
    case("timeout-ms-float", "timeout_ms = 3000", "timeout_ms = 2.5",
         "instruments.source.timeout_ms: expected a whole number greater than 0, "
         "got 2.5 (a float)"),
    case("speed-zero", 'name = "bench 3"', "speed = 0",
         "bench.speed: expected a number greater than 0, got 0 (an integer)"),
    case("speed-infinite", 'name = "bench 3"', "speed = inf",
         "bench.speed: expected a number greater than 0, got inf (a float)"),
    case("speed-boolean", 'name = "bench 3"', "speed = true",
         "bench.speed: expected a number greater than 0, got true (a boolean)"),
    case("fault-name-not-string", 'name = "bench 3"', "faults = [1]",
         "bench.faults: expected a list of fault names, e.g. ['late-relay'], "
         "got [1] (an array)"),
    case("emulated-as-string", 'name = "bench 3"', 'emulated = "yes"',
         "bench.emulated: expected true or false, got 'yes' (a string)"),
    case("bench-name-empty", 'name = "bench 3"', 'name = ""',
         "bench.name: expected a non-empty string, got '' (a string)"),
    case("terminals-open-as-integer", "terminals_open = false", "terminals_open = 1",
         "safety.terminals_open: expected true or false, got 1 (an integer)"),
    case("press-ms-zero", "press_ms = 65", "press_ms = 0",
         "keypad.press_ms: expected a number greater than 0, got 0 (an integer)"),
    case("krn-zero", "krn = 1", "krn = 0",
         "meter.keys.krn: expected a whole number from 1 to 9, got 0 (an integer)"),
    case("krn-ten", "krn = 1", "krn = 10",
         "meter.keys.krn: expected a whole number from 1 to 9, got 10 (an integer)"),
    case("krn-as-string", "krn = 1", 'krn = "1"',
         "meter.keys.krn: expected a whole number from 1 to 9, got '1' (a string)"),
    case("kt-four", "kt = 2", "kt = 4",
         "meter.keys.kt: expected a whole number from 0 to 3, got 4 (an integer)"),
    case("ken-256", "kt = 2", "ken = 256",
         "meter.keys.ken: expected a whole number from 0 to 255, got 256 (an integer)"),
    case("ti-one-digit", "kt = 2", 'ti = "1"',
         "meter.keys.ti: expected two digits in quotes, e.g. '01', got '1' (a string)"),
    case("ti-as-integer", "kt = 2", "ti = 1",
         "meter.keys.ti: expected two digits in quotes, e.g. '01', got 1 (an integer)"),
    case("sgc-five-digits", "kt = 2", 'sgc = "12345"',
         "meter.keys.sgc: expected six digits in quotes, e.g. '123456', got '12345' (a string)"),
    case("sgc-as-integer", "kt = 2", "sgc = 123456",
         "meter.keys.sgc: expected six digits in quotes, e.g. '123456', "
         "got 123456 (an integer)"),
    case("dkga-03", "kt = 2", 'dkga = "03"',
         "meter.keys.dkga: expected '02' or '04', got '03' (a string)"),
    case("dkga-as-integer", "kt = 2", "dkga = 2",
         "meter.keys.dkga: expected '02' or '04', got 2 (an integer)"),
    case("ea-7", "kt = 2", 'ea = "7"', "meter.keys.ea: expected '07' or '11', got '7' (a string)"),
    case("base-date-2000", "kt = 2", "base_date = 2000",
         "meter.keys.base_date: expected 1993, 2014 or 2035, got 2000 (an integer)"),
    case("base-date-as-string", "kt = 2", 'base_date = "2014"',
         "meter.keys.base_date: expected 1993, 2014 or 2035, got '2014' (a string)"),
    case("pan-as-integer", 'pan = "600727471234567834"', "pan = 600727471234567834",
         "meter.pan: expected 18 digits in quotes, got 600727471234567834 (an integer)"),
    case("pan-luhn", 'pan = "600727471234567834"', 'pan = "600727471234567835"',
         "meter.pan: MeterPAN 600727471234567835: PAN check digit is 5, Luhn gives 4"),
    case("optical-empty", 'optical = "/dev/ttyUSB0"', 'optical = ""',
         "meter.optical: expected a non-empty string, got '' (a string)"),
    case("model-unknown", 'model = "chroma-61500"', 'model = "hp-6812"',
         "instruments.source.model: expected a known source model (generic, chroma-61500, "
         "keysight-ac6800b), got 'hp-6812' (a string)"),
    case("instrument-not-a-table", "[safety]", "[instruments]\ndmm = 5\n[safety]",
         "instruments.dmm: expected a table, got 5 (an integer)"),
    case("unknown-instrument-key", "[safety]", "[instruments.dmm.x]\n[safety]",
         "unknown key 'instruments.dmm.x' (known: resource, model, calibration_due, "
         "timeout_ms, channels)"),
    case("keys-not-a-table", "[meter.keys]\nkrn = 1\nkt = 2\n"
         'vending_key = "env:STS_TEST_VK"\n', "keys = 5\n",
         "meter.keys: expected a table, got 5 (an integer)"),
    # --- unknown tables and keys ---------------------------------------------------------------
    case("unknown-table", "[bench]", "[benchh]",
         "unknown table [benchh] (known: meter, bench, keypad, instruments, safety, lab, "
         "customer, operator, environment, report)"),
    case("unknown-meter-key", "[meter]\n", "[meter]\nopticall = 'x'\n",
         "unknown key 'meter.opticall' (known: pan, optical, profile, password, address, "
         "camera, camera_calibration, keys)"),
    case("unknown-bench-key", 'name = "bench 3"', "sped = 2",
         "unknown key 'bench.sped' (known: name, emulated, speed, faults)"),
    case("unknown-keys-key", "kt = 2", "kn = 2",
         "unknown key 'meter.keys.kn' (known: dkga, ea, sgc, ti, krn, kt, ken, base_date, "
         "vending_key, vending_key_128bit)"),
    case("unknown-keypad-key", "gap_ms = 500", "gap = 500",
         "unknown key 'keypad.gap' (known: port, kind, baud, press_ms, gap_ms, map, "
         "sync_channel)"),
    case("unknown-role", "[instruments.source]", "[instruments.sourse]",
         "unknown key 'instruments.sourse' (known: source, load, dmm, scope, power_meter, "
         "switch)"),
    case("unknown-safety-key", "terminals_open = false", "terminal_open = false",
         "unknown key 'safety.terminal_open' (known: terminals_open)"),
    case("unknown-lab-key", 'name = "PT Meter Lab"', 'name = "PT Meter Lab"\nphone = "1"',
         "unknown key 'lab.phone' (known: name, address, accreditation)"),
    case("unknown-report-key", 'decision_rule = "simple"', 'format = "pdf"',
         "unknown key 'report.format' (known: decision_rule, title)"),
    case("missing-meter", '[meter]\npan = "600727471234567834"\noptical = "/dev/ttyUSB0"\n'
         'password = "00000000"\n[meter.keys]\nkrn = 1\nkt = 2\n'
         'vending_key = "env:STS_TEST_VK"\n', "", "missing table [meter]"),
    # --- the new tables ------------------------------------------------------------------------
    case("camera-as-integer", "[meter.keys]", "camera = 0\n[meter.keys]",
         "meter.camera: expected a non-empty string, got 0 (an integer)"),
    case("corners-three", "[meter.keys]", "[meter.camera_calibration]\n"
         "corners = [[0, 0], [10, 0], [10, 5]]\n[meter.keys]",
         "meter.camera_calibration.corners: expected four [x, y] pixel pairs (numbers of 0 or "
         "more): top-left, top-right, bottom-right, bottom-left, got [[0, 0], [10, 0], [10, 5]] "
         "(an array)"),
    case("corners-negative", "[meter.keys]", "[meter.camera_calibration]\n"
         "corners = [[0, 0], [10, 0], [10, 5], [-1, 5]]\n[meter.keys]",
         "meter.camera_calibration.corners: expected four [x, y] pixel pairs (numbers of 0 or "
         "more): top-left, top-right, bottom-right, bottom-left, got [[0, 0], [10, 0], [10, 5], "
         "[-1, 5]] (an array)"),
    case("corners-missing", "[meter.keys]", "[meter.camera_calibration]\nrotate = 90\n"
         "[meter.keys]", "missing key 'meter.camera_calibration.corners'"),
    case("rotate-45", "[meter.keys]", "[meter.camera_calibration]\n"
         "corners = [[0, 0], [10, 0], [10, 5], [0, 5]]\nrotate = 45\n[meter.keys]",
         "meter.camera_calibration.rotate: expected 0, 90, 180 or 270, got 45 (an integer)"),
    case("kind-upper-case", "gap_ms = 500", 'kind = "Relay8"',
         "keypad.kind: expected a lowercase driver name, e.g. 'injector', got 'Relay8' "
         "(a string)"),
    case("kind-empty", "gap_ms = 500", 'kind = ""',
         "keypad.kind: expected a lowercase driver name, e.g. 'injector', got '' (a string)"),
    case("baud-zero", "gap_ms = 500", "baud = 0",
         "keypad.baud: expected a whole number greater than 0, got 0 (an integer)"),
    case("baud-as-string", "gap_ms = 500", 'baud = "115200"',
         "keypad.baud: expected a whole number greater than 0, got '115200' (a string)"),
    case("map-unknown-key", "gap_ms = 500", 'kind = "relay8"\nmap = { "1" = 1, X = 2 }',
         "unknown key 'keypad.map.X' (known: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, BS, ENT)"),
    case("map-channel-zero", "gap_ms = 500", 'kind = "relay8"\nmap = { ENT = 0 }',
         "keypad.map.ENT: expected a whole number of 1 or more, got 0 (an integer)"),
    case("map-channel-as-string", "gap_ms = 500", 'kind = "relay8"\nmap = { BS = "3" }',
         "keypad.map.BS: expected a whole number of 1 or more, got '3' (a string)"),
    case("map-channel-twice", "gap_ms = 500", 'kind = "relay8"\nmap = { "1" = 4, "2" = 4 }',
         "keypad.map.2: channel 4 is already key 1"),
    case("sync-channel-on-a-key", "gap_ms = 500",
         'kind = "relay8"\nmap = { ENT = 12 }\nsync_channel = 12',
         "keypad.sync_channel: channel 12 is already key ENT"),
    case("sync-channel-zero", "gap_ms = 500", 'kind = "relay8"\nsync_channel = 0',
         "keypad.sync_channel: expected a whole number of 1 or more, got 0 (an integer)"),
    case("map-not-a-table", "gap_ms = 500", 'kind = "relay8"\nmap = 5',
         "keypad.map: expected a table, got 5 (an integer)"),
    case("map-on-the-injector", "gap_ms = 500", 'map = { ENT = 1 }',
         "keypad.map: relay channels apply to a relay board; the injector "
         "(keypad.kind = 'injector') takes none"),
    case("lab-without-name", 'name = "PT Meter Lab"', 'address = "Jakarta"',
         "missing key 'lab.name'"),
    case("customer-contact-as-integer", "[report]", "[customer]\nname = \"PT X\"\ncontact = 5\n"
         "[report]", "customer.contact: expected a string, got 5 (an integer)"),
    case("operator-name-as-integer", "[report]", "[operator]\nname = 7\n[report]",
         "operator.name: expected a non-empty string, got 7 (an integer)"),
    case("humidity-101", "[report]", "[environment]\nhumidity_pct = 101\n[report]",
         "environment.humidity_pct: expected a number from 0 to 100, got 101 (an integer)"),
    case("temperature-as-string", "[report]", "[environment]\ntemperature_c = \"23\"\n[report]",
         "environment.temperature_c: expected a number of degrees Celsius from -50 to 100, "
         "got '23' (a string)"),
    case("decision-rule-unknown", 'decision_rule = "simple"', 'decision_rule = "strict"',
         "report.decision_rule: expected 'simple' or 'guarded', got 'strict' (a string)"),
    case("title-empty", 'decision_rule = "simple"', 'title = ""',
         "report.title: expected a non-empty string, got '' (a string)"),
    # --- rules across keys ---------------------------------------------------------------------
    case("faults-on-a-real-bench", 'name = "bench 3"', 'faults = ["late-relay"]',
         "bench.faults: faults can only be switched on in an emulated bench "
         "(bench.emulated = true)"),
    case("vending-key-env-without-name", 'vending_key = "env:STS_TEST_VK"',
         'vending_key = "env:"',
         "meter.keys.vending_key: expected env:NAME with NAME an environment variable name"),
    case("vending-key-file-without-path", 'vending_key = "env:STS_TEST_VK"',
         'vending_key = "file:"',
         "meter.keys.vending_key: expected file:PATH with a path after file:"),
]


@pytest.mark.parametrize(("old", "new", "message"), CASES)
def test_each_wrong_value_is_one_line_naming_file_key_and_expectation(tmp_path, old, new,
                                                                      message):
    assert str(refused(tmp_path, old, new)) == f"bench.toml: {message}"


def test_several_errors_are_several_lines(tmp_path):
    text = BASE.replace("press_ms = 65", 'press_ms = "65"').replace("kt = 2", "kt = true")
    with pytest.raises(ConfigError) as info:
        load_bench(write(tmp_path, text.replace("timeout_ms = 3000", "timeout_ms = 0")))
    assert info.value.lines == [
        "bench.toml: meter.keys.kt: expected a whole number from 0 to 3, got true (a boolean)",
        "bench.toml: keypad.press_ms: expected a number greater than 0, got '65' (a string)",
        "bench.toml: instruments.source.timeout_ms: expected a whole number greater than 0, "
        "got 0 (an integer)",
    ]
    assert str(info.value) == "\n".join(info.value.lines)


@pytest.mark.parametrize(("old", "new"), [
    ('vending_key = "env:STS_TEST_VK"', 'vending_key = "abababababababa"'),  # 15 hex digits
    ('vending_key = "env:STS_TEST_VK"', 'vending_key = "zzabababababababab"'),
    ('vending_key = "env:STS_TEST_VK"', "vending_key = 1234567812345678"),
    ('password = "00000000"', "password = 12345678"),
])
def test_a_wrong_secret_is_never_shown(tmp_path, old, new):
    error = str(refused(tmp_path, old, new))
    secret = new.split("=", 1)[1].strip().strip('"')
    assert secret not in error
    assert re.fullmatch(r"bench\.toml: meter\.(keys\.vending_key|password): expected .*, got "
                        r"(a string of \d+ characters|an integer)", error), error


def test_a_literal_vending_key_error_names_its_length_only(tmp_path):
    error = refused(tmp_path, 'vending_key = "env:STS_TEST_VK"', 'vending_key = "abababab"')
    assert str(error) == ("bench.toml: meter.keys.vending_key: expected env:NAME, file:PATH or "
                          "a literal test key of 16 (DKGA02) or 40 (DKGA04) hex digits, got "
                          "a string of 8 characters")


def test_a_bench_file_without_a_pan_loads_but_vends_nothing(tmp_path, monkeypatch):
    """The PAN may come from the meter (a meters file, positions): the file loads with none,
    and what needs the meter's decoder key says why it has none."""
    from rig.meter.vendor import BenchVendor, MeterPanUnknown

    monkeypatch.setenv("STS_TEST_VK", "ab" * 8)
    config = load_bench(write(tmp_path, BASE.replace('pan = "600727471234567834"\n', "", 1)))
    assert config.meter.pan is None
    with pytest.raises(MeterPanUnknown, match=r"bench.toml names no \[meter\] pan"):
        BenchVendor.for_bench(config)


@pytest.mark.parametrize("ref", ["env:STS_TEST_VK", "file:keys/vk.hex", "abababababababab",
                                 "AB" * 20])
def test_the_vending_key_references_that_load(tmp_path, ref):
    """A DKGA02 vending key is 64 bits (16 hex digits), a DKGA04 one 160 bits (40)."""
    text = BASE.replace("env:STS_TEST_VK", ref)
    assert load_bench(write(tmp_path, text)).meter.keys.vending_key == ref


@pytest.mark.parametrize("path", sorted((ROOT / "rig" / "benches").glob("*.toml")),
                         ids=lambda p: p.name)
def test_the_shipped_bench_files_load(path):
    config = load_bench(path)
    assert config.path == path and config.meter.pan


def test_the_packaged_default_is_the_emulated_bench():
    config = load_bench(None)
    assert config.path == DEFAULT_BENCH
    assert config.bench.emulated and config.bench.speed == 200.0
    assert config.keypad.kind == "injector" and config.keypad.press_ms == 65.0
    assert config.lab is None and config.customer is None and config.operator is None
    assert config.environment is None
    assert (config.report.decision_rule, config.report.title) == ("simple", "Test report")


def readme_real_bench() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## A real bench", 1)[1]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


def test_the_readme_real_bench_round_trips_with_typed_values(tmp_path):
    config = load_bench(write(tmp_path, readme_real_bench()))
    assert config.bench.name == "bench 3" and not config.bench.emulated
    assert config.bench.speed == 1.0 and isinstance(config.bench.speed, float)
    meter = config.meter
    assert (meter.pan, meter.optical, meter.profile) == ("600727471234567834", "/dev/ttyUSB0",
                                                         "pln_default")
    assert meter.camera == "v4l2:/dev/video0"
    assert meter.camera_calibration.corners == ((112.0, 80.0), (530.0, 86.0), (526.0, 250.0),
                                                (108.0, 244.0))
    assert meter.camera_calibration.rotate == 0
    keys = meter.keys
    assert (keys.dkga, keys.ea, keys.sgc, keys.ti, keys.krn, keys.kt, keys.base_date) == (
        "02", "07", "123456", "01", 1, 2, 2014)
    assert keys.vending_key == "env:STS_VENDING_KEY"
    assert "STS_VENDING_KEY" not in repr(config) and "00000000" not in repr(config)
    keypad = config.keypad
    assert (keypad.port, keypad.kind, keypad.baud) == ("/dev/ttyACM0", "injector", 115200)
    assert (keypad.press_ms, keypad.gap_ms) == (65.0, 500.0)
    assert isinstance(keypad.press_ms, float)
    assert keypad.map is None and keypad.sync_channel is None
    assert list(config.instruments) == ["source", "load", "dmm", "scope"]
    source = config.instruments["source"]
    assert (source.resource, source.model) == ("TCPIP::192.168.0.10::5025::SOCKET",
                                               "chroma-61500")
    assert source.calibration_due == dt.date(2027, 3, 1) and source.timeout_ms == 3000
    assert config.instruments["load"].calibration_due is None
    assert config.instruments["dmm"].model == "keysight-34461a"
    assert config.safety.terminals_open is False
    assert (config.lab.name, config.lab.address, config.lab.accreditation) == (
        "PT Meter Lab", "Jl. Example 1, Jakarta", "KAN LP-123-IDN")
    assert (config.customer.name, config.customer.contact) == ("PT Example Meters",
                                                               "qa@example.com")
    assert config.operator.name == "A. Tester"
    env = config.environment
    assert (env.temperature_c, env.humidity_pct) == (23.5, 45.0)
    assert env.supply_note == "mains via isolation transformer"
    assert (config.report.decision_rule, config.report.title) == (
        "simple", "STS conformance test report")


def test_a_relay_board_keypad_loads(tmp_path):
    text = BASE.replace("gap_ms = 500", 'gap_ms = 300\nkind = "relay8"\nbaud = 9600\n'
                        'sync_channel = 13\n[keypad.map]\n"0" = 10\n"1" = 1\n"2" = 2\n'
                        "BS = 11\nENT = 12")
    keypad = load_bench(write(tmp_path, text)).keypad
    assert (keypad.kind, keypad.baud, keypad.gap_ms, keypad.sync_channel) == (
        "relay8", 9600, 300.0, 13)
    assert keypad.map == {"0": 10, "1": 1, "2": 2, "BS": 11, "ENT": 12}


def test_optional_text_of_the_new_tables_defaults_to_none(tmp_path):
    text = BASE.replace("[report]", '[customer]\nname = "PT X"\n[environment]\n'
                        'supply_note = "grid"\n[report]')
    config = load_bench(write(tmp_path, text))
    assert (config.lab.address, config.lab.accreditation) == (None, None)
    assert (config.customer.address, config.customer.contact) == (None, None)
    assert (config.environment.temperature_c, config.environment.humidity_pct) == (None, None)
    assert config.report.title == "Test report"


def test_an_absent_base_date_is_the_one_in_force_today(tmp_path):
    import re

    text = re.sub(r"\nbase_date = \d+", "", BASE)
    assert "base_date" not in text
    # today (2026) the 1993 base date's TIDs have run out (2024-11-24 20:15): 2014 is in force
    assert load_bench(write(tmp_path, text)).meter.keys.base_date == 2014
