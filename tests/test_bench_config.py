"""The bench file: strict loading, clear errors, calibration dates and the safety rule."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.instruments import AcSource, SafetyError
from rig.bench import Bench, BenchError
from rig.config import ConfigError, load_bench

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
    assert set(config.instruments) == {"source", "load", "dmm", "scope"}
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
    (('model = "chroma-61500"', 'model = "hp-6812"'), "'hp-6812' is not known"),
    (("[instruments.source]", "[instruments.sourse]"), "unknown instrument role"),
    (('resource = "TCPIP::10.0.0.1::5025::SOCKET"\n', ""),
     "missing key 'instruments.source.resource'"),
])
def test_bad_bench_files_name_the_problem(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        load_bench(write(tmp_path, REAL.replace(*change)))


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
    assert {"obis": "C.1.0", "value": "47123456783", "unit": ""} in rows


def test_meter_readout_cli_bcc_error(start_emulator):
    emu = start_emulator("--fault", "bad-bcc")
    out = subprocess.run([sys.executable, "-m", "rig", "meter", "readout", "--port",
                          emu.optical], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "readout: block check character" in out.stderr and "received" in out.stderr
