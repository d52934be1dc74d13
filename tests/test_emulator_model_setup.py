"""The meter profile loader, the emulated meter's setup from a bench file, and its
non-volatile memory across restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from emulator_support import Bench

import sts
from emulator.clock import Clock, ManualClock
from emulator.setup import MeterSetup
from meterprofile import load_profile

PROFILE_TEXT = (Path(__file__).resolve().parent.parent / "meterprofile"
                / "pln_default.toml").read_text()
VK = "abababababababab"


# --- profile ----------------------------------------------------------------------------------

def test_default_profile_values():
    p = load_profile()
    assert p is not None and load_profile("pln_default") == p
    assert (p.ratings.voltage_v, p.ratings.basic_current_a, p.ratings.max_current_a) == (
        230.0, 5.0, 60.0)
    assert p.tokens.tid_store_depth == 20
    assert p.tokens.credit_subclasses == (0,)
    assert p.relay.operate_s == 0.030
    assert p.meter.optical_manufacturer_id == "EMu"
    assert (p.overload.trip_delay_s, p.overload.reconnect_s, p.overload.max_trips) == (
        30.0, 120.0, 4)


def test_every_profile_key_has_a_source_comment():
    for line in PROFILE_TEXT.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line, f"no source comment on: {line}"


def test_as_table_rows():
    rows = load_profile().as_table()
    assert ("relay.operate_s", "0.03", "s") in rows
    assert ("ratings.meter_constant_imp_kwh", "1000", "imp/kWh") in rows
    assert ("tokens.credit_subclasses", "0", "") in rows
    assert ("tokens.press_ms", "65", "ms") in rows
    assert len(rows) == len({key for key, _, _ in rows})


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mymeter.toml"
    path.write_text(text)
    return path


def test_profile_from_a_path(tmp_path):
    path = _write(tmp_path, PROFILE_TEXT.replace("operate_s = 0.030", "operate_s = 0.050"))
    p = load_profile(str(path))
    assert p.relay.operate_s == 0.050
    assert p.name == "mymeter"


@pytest.mark.parametrize(("change", "message"), [
    (("[relay]\n", "[relay]\nbogus = 1\n"), r"mymeter.toml: unknown key 'relay.bogus'"),
    (("[relay]\n", "[relais]\nx = 1\n[relay]\n"), r"mymeter.toml: unknown table \[relais\]"),
    (("max_trips = 4 ", "#"), r"mymeter.toml: missing key 'overload.max_trips'"),
    (("threshold = 3 ", 'threshold = "3" '), r"'lockout.threshold' must be int"),
    (("credit_subclasses = [0]", "credit_subclasses = [9]"), r"within 0..7"),
    (("first_s = 10.0", "first_s = -1.0"), r"'lockout.first_s' must not be negative"),
    (('optical_manufacturer_id = "EMu"', 'optical_manufacturer_id = "EM"'), "3 letters"),
])
def test_profile_errors_name_the_key_and_the_file(tmp_path, change, message):
    old, new = change
    assert old in PROFILE_TEXT
    path = _write(tmp_path, PROFILE_TEXT.replace(old, new, 1))
    with pytest.raises(ValueError, match=message):
        load_profile(path)


def test_unknown_profile_name():
    with pytest.raises(FileNotFoundError, match=r"no meter profile named 'nosuch'.*pln_default"):
        load_profile("nosuch")


# --- setup ------------------------------------------------------------------------------------

def test_default_setup_derives_the_decoder_key_of_the_emulated_bench():
    setup = MeterSetup.default()
    assert setup.pan == "600727471234567834"
    assert (setup.ea, setup.sgc, setup.ti, setup.krn, setup.kt, setup.ken, setup.base_date) == (
        "07", "123456", "01", 1, 2, 255, 2014)
    expected = sts.derive_decoder_key(dkga="02", vending_key=bytes.fromhex(VK),
                                      pan=setup.pan, sgc="123456", ti="01", krn=1, kt=2,
                                      base_date=2014, ea="07")
    assert setup.decoder_key == expected
    assert expected.hex() not in repr(setup)


def _bench_file(tmp_path: Path, vending_key: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(f'[bench]\nname = "x"\n[meter]\npan = "600727000000000009"\n'
                    f'profile = "pln_default"\n[meter.keys]\ndkga = "02"\nea = "07"\n'
                    f'sgc = "654321"\nti = "02"\nkrn = 1\nkt = 2\nken = 255\n'
                    f'base_date = 1993\nvending_key = "{vending_key}"\n')
    return path


def test_setup_reads_the_vending_key_from_env_or_file(tmp_path, monkeypatch):
    expected = sts.derive_decoder_key(dkga="02", vending_key=bytes.fromhex(VK),
                                      pan="600727000000000009", sgc="654321", ti="02", krn=1,
                                      kt=2, base_date=1993, ea="07")
    monkeypatch.setenv("EMU_TEST_VK", VK)
    key_file = tmp_path / "vk.hex"
    key_file.write_text(VK + "\n")
    for ref in ("env:EMU_TEST_VK", f"file:{key_file}", VK):
        setup = MeterSetup.from_bench_file(_bench_file(tmp_path, ref))
        assert setup.decoder_key == expected
        assert setup.sgc == "654321"


def test_setup_errors_name_the_reference_not_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("EMU_NO_SUCH_VK", raising=False)
    with pytest.raises(ValueError, match="EMU_NO_SUCH_VK is not set"):
        MeterSetup.from_bench_file(_bench_file(tmp_path, "env:EMU_NO_SUCH_VK"))
    with pytest.raises(ValueError, match="does not exist"):
        MeterSetup.from_bench_file(_bench_file(tmp_path, "file:/no/such/key"))
    with pytest.raises(ValueError) as err:
        MeterSetup.from_bench_file(_bench_file(tmp_path, "abababababababzz"))
    assert "abababababababzz" not in str(err.value)
    with pytest.raises(ValueError, match="does not exist"):
        MeterSetup.from_bench_file(tmp_path / "none.toml")


# --- clock ------------------------------------------------------------------------------------

def test_clock_speed_and_manual_clock():
    with pytest.raises(ValueError, match="positive"):
        Clock(0)
    clock = ManualClock(5.0)
    clock.sleep(2.5)
    assert clock.now() == 7.5
    assert Clock(1000.0).speed == 1000.0


# --- non-volatile memory ----------------------------------------------------------------------

def test_state_survives_a_restart(tmp_path):
    path = tmp_path / "meter.json"
    bench = Bench(state_path=path)
    token = bench.vendor.credit(0, "10.5")
    bench.enter(token)
    assert path.exists()  # saved on the accepted token
    bench.enter(bench.vendor.power_limit(2000))
    bench.model.set_source(output=False)
    bench.model.set_source(output=True)
    bench.model.close()
    assert not path.with_name(path.name + ".tmp").exists()
    again = Bench(state_path=path)
    assert again.reg("C.50.0") == "10.500"
    assert again.reg("C.57.0") == "2000"
    assert again.reg("C.59.0") == "1"
    assert again.reg("C.52.2") == "2"
    assert again.reg("C.51.0") == "1"  # credit: the relay is closed
    assert again.enter(token) == ("USED", "USED")


def test_key_change_survives_a_restart(tmp_path):
    path = tmp_path / "meter.json"
    bench = Bench(state_path=path)
    new_key = bytes.fromhex("1122334455667788")
    for section in bench.vendor.key_change(new_key, new_kt=2, new_krn=2, new_ti="01"):
        bench.enter(section)
    bench.model.close()
    again = Bench(state_path=path)
    assert again.reg("C.53.0") == "2"
    assert again.enter(sts.Vendor(new_key, base_date=2014).credit(0, "1"))[0] == "ACCEPT"


def test_consumption_is_saved_on_close(tmp_path):
    path = tmp_path / "meter.json"
    bench = Bench(state_path=path)
    bench.enter(bench.vendor.credit(0, "2"))
    bench.advance(1.0)
    bench.load_watts(1000.0)
    bench.advance(360.0)
    bench.model.close()
    data = json.loads(path.read_text())
    assert data["credit"][0] == pytest.approx(1.9)
    assert Bench(state_path=path).reg("C.50.0") == "1.900"


def test_unreadable_state_file_is_named(tmp_path):
    path = tmp_path / "meter.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"meter\.json is unreadable"):
        Bench(state_path=path)
