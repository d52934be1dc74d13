"""The bench file: strict loading, clear errors, calibration dates and the safety rule."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.instruments import AcSource, SafetyError
from rig.bench.config import ConfigError, load_bench
from rig.bench.devices import Bench, BenchError

REAL = """
[bench]
name = "bench 3"
[meter]
pan = "600727471234567834"
optical = "/dev/ttyUSB0"
[meter.keys]
vending_key = "env:STS_TEST_VK"
[keypad]
port = "/dev/ttyACM0"
[instruments.source]
resource = "TCPIP::10.0.0.1::5025::SOCKET"
model = "chroma-61500"
calibration_due = 2020-01-31
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_the_packaged_emulated_bench_loads():
    config = load_bench(None)
    assert config.bench.emulated and config.meter.keys.base_date == 2014
    assert set(config.instruments) == {"source", "load", "dmm", "scope", "switch"}
    assert "abababab" not in repr(config)  # the vending key is never shown


def test_a_real_bench_loads(tmp_path):
    config = load_bench(write(tmp_path, REAL))
    assert config.meter.optical == "/dev/ttyUSB0"
    assert config.instruments["source"].calibration_due == dt.date(2020, 1, 31)
    assert config.instruments["source"].model == "chroma-61500"


@pytest.mark.parametrize(("change", "message"), [
    (("[meter]\n", "[meter]\nopticall = 'x'\n"), "unknown key 'meter.opticall'"),
    (("[bench]\n", "[benchh]\n"), r"unknown table \[benchh\]"),
    (('optical = "/dev/ttyUSB0"\n', ""), "missing key 'meter.optical'"),
    (("600727471234567834", "600727471234567835"), "check digit"),
    (('model = "chroma-61500"', 'model = "hp-6812"'),
     r"instruments.source.model: expected a known source model .*got 'hp-6812'"),
    (("[instruments.source]", "[instruments.sourse]"), "unknown key 'instruments.sourse'"),
    (('resource = "TCPIP::10.0.0.1::5025::SOCKET"\n', ""),
     "missing key 'instruments.source.resource'"),
])
def test_bad_bench_files_name_the_problem(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        load_bench(write(tmp_path, REAL.replace(*change)))


def test_a_bench_file_with_every_problem_names_each_on_its_own_line(tmp_path):
    text = REAL.replace('optical = "/dev/ttyUSB0"\n', "").replace(
        "calibration_due = 2020-01-31", 'calibration_due = "2020-01-31"')
    with pytest.raises(ConfigError) as info:
        load_bench(write(tmp_path, text))
    # the types first (the port rule is checked once the types are right)
    assert info.value.lines == [
        "bench.toml: instruments.source.calibration_due: expected a TOML date such as "
        "2027-03-01 (unquoted), got '2020-01-31' (a string)"]
    with pytest.raises(ConfigError) as info:
        load_bench(write(tmp_path, REAL.replace('optical = "/dev/ttyUSB0"\n', "").replace(
            'port = "/dev/ttyACM0"\n', "")))
    assert info.value.lines == [
        "bench.toml: missing key 'meter.optical' (the optical port of a real bench, "
        "e.g. /dev/ttyUSB0)",
        "bench.toml: missing key 'keypad.port'"]


def test_an_emulated_bench_cannot_name_ports(tmp_path):
    text = REAL.replace('name = "bench 3"', 'name = "bench 3"\nemulated = true')
    with pytest.raises(ConfigError, match="an emulated bench takes its ports from the emulator"):
        load_bench(write(tmp_path, text))


def test_with_endpoints_fills_in_what_the_emulator_announced():
    config = load_bench(None).with_endpoints({
        "optical": "/dev/pts/7", "keypad": "/dev/pts/8",
        "instruments": {role: f"TCPIP::127.0.0.1::{5025 + i}::SOCKET"
                        for i, role in enumerate(("source", "load", "dmm", "scope"))}})
    assert config.meter.optical == "/dev/pts/7" and config.keypad.port == "/dev/pts/8"
    assert config.instruments["scope"].resource == "TCPIP::127.0.0.1::5028::SOCKET"
    assert config.meter.keys.base_date == 2014 and config.keypad.press_ms == 65.0
    assert config.report.title == "Test report"


def test_a_real_bench_runs_at_1x_and_an_emulator_elsewhere_at_its_stated_speed(tmp_path):
    assert load_bench(write(tmp_path, REAL)).bench.speed == 1.0
    assert Bench(load_bench(write(tmp_path, REAL))).speed == 1.0
    config = load_bench(write(tmp_path, REAL.replace('name = "bench 3"',
                                                     'name = "bench 3"\nspeed = 200')))
    assert config.bench.speed == 200.0
    assert Bench(config).speed == 200.0  # no emulator subprocess: the bench file says


def test_a_non_emulated_bench_file_on_an_emulator_started_elsewhere(start_emulator, tmp_path):
    from meterprofile import load_profile
    from rig.bench.devices import open_bench
    from rig.meter.under_test import MeterUnderTest

    emu = start_emulator("--speed", "50")
    path = write(tmp_path, f"""
[bench]
name = "emulator on another port"
speed = 50
[meter]
pan = "600727471234567834"
optical = "{emu.optical}"
[keypad]
port = "{emu.keypad}"
[instruments.dmm]
resource = "{emu.instruments['dmm']}"
""")
    with open_bench(load_bench(path)) as bench:
        assert not bench.emulated and bench.speed == 50.0 == emu.info["speed"]
        assert bench.instrument("dmm").idn  # the wire answers: it is that emulator
        dut = MeterUnderTest(bench, load_profile("pln_default"))
        assert dut.speed == 50.0 and dut.host_slack_s == 12.5  # 0.25 s real at 50x


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_bench(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_bench(write(tmp_path, "[meter\n"))


def test_instrument_past_calibration_is_refused(tmp_path):
    config = load_bench(write(tmp_path, REAL))
    with pytest.raises(BenchError, match="past its calibration due date 2020-01-31"):
        Bench(config).instrument("source")
    Bench(config, allow_expired_calibration=True).check_calibration("source")  # allowed


def test_source_output_refused_while_terminals_are_open(start_emulator):
    emu = start_emulator()
    with AcSource(emu.instruments["source"], terminals_open=True) as source:
        source.output = False  # always allowed
        with pytest.raises(SafetyError, match="terminals are open"):
            source.output = True
        assert source.output is False


def test_bench_check_cli_against_the_emulated_bench():
    out = subprocess.run([sys.executable, "-m", "rig", "bench", "check"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "meter    ok  EMu" in out.stdout and "meter number 47123456783" in out.stdout
    for role in ("keypad", "source", "load", "dmm", "scope"):
        assert f"{role:<8} ok" in out.stdout


def test_bench_check_names_the_silent_device(tmp_path):
    silent = REAL.replace("calibration_due = 2020-01-31\n", "timeout_ms = 300\n").replace(
        "10.0.0.1::5025", "127.0.0.1::9")
    silent = silent.replace('optical = "/dev/ttyUSB0"', 'optical = "/dev/null-none"')
    silent = silent.replace('[keypad]\nport = "/dev/ttyACM0"\n', "")
    path = write(tmp_path, silent)
    out = subprocess.run([sys.executable, "-m", "rig", "bench", "check", "--bench", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "meter    FAIL" in out.stdout and "source   FAIL" in out.stdout
    assert "no answer from: meter, source" in out.stderr


def test_meter_readout_cli_json(start_emulator):
    import json

    emu = start_emulator()
    out = subprocess.run([sys.executable, "-m", "rig", "meter", "readout", "--port",
                          emu.optical, "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    c10 = [r for r in rows if r["obis"] == "C.1.0"]
    assert [(r["value"], r["unit"]) for r in c10] == [("47123456783", "")]


def test_meter_readout_cli_bcc_error(start_emulator):
    emu = start_emulator("--fault", "bad-bcc")
    out = subprocess.run([sys.executable, "-m", "rig", "meter", "readout", "--port",
                          emu.optical], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "readout: block check character" in out.stderr and "received" in out.stderr
