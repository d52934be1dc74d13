"""The emulated meter in process: token entry, outcomes, display texts, short codes,
test tokens, tamper and the keypad lock-out (CONTRACTS §3.2), on a hand-moved clock."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from emulator_support import GAP, PRESS, Bench, with_profile

import sts
from emulator.setup import MeterSetup

PER_KEY = PRESS + GAP


@pytest.fixture
def bench() -> Bench:
    return Bench()


def test_credit_token_is_accepted_and_added_exactly(bench):
    token = bench.vendor.credit(0, "10.5")
    t0 = bench.clock.t
    assert bench.enter(token) == ("ACCEPT", "BENAR")
    assert bench.reg("C.50.0") == "10.500"
    assert bench.model.read_register("C.50.0") == ("10.500", "kWh")
    assert bench.reg("C.52.1") == token.digits
    assert bench.reg("C.52.2") == "1"
    # ENTER is the 21st key: it goes down after 20 keys and acts on key up
    assert bench.num("C.52.3") == pytest.approx(t0 + 20 * PER_KEY + PRESS, abs=1e-6)
    assert bench.enter(bench.vendor.credit(0, "0.1")) == ("ACCEPT", "BENAR")
    assert bench.reg("C.50.0") == "10.600"


def test_used_token(bench):
    token = bench.vendor.credit(0, "1")
    assert bench.enter(token)[0] == "ACCEPT"
    assert bench.enter(token) == ("USED", "USED")
    assert bench.credit() == 1.0


def test_old_token_below_a_full_tid_store(bench):
    old = bench.vendor.credit(0, "1", at=datetime(2020, 1, 1))
    for _ in range(bench.profile.tokens.tid_store_depth):
        assert bench.enter(bench.vendor.credit(0, "0.1"))[0] == "ACCEPT"
    assert bench.enter(old) == ("OLD", "USANG")
    assert bench.credit() == pytest.approx(2.0)


def test_wrong_key_is_a_crc_error(bench):
    other = sts.Vendor(bytes.fromhex("0123456789abcdef"), base_date=2014)
    assert bench.enter(other.credit(0, "5")) == ("CRC_ERROR", "GAGAL")
    assert bench.credit() == 0.0


def test_overflow_past_the_maximum_credit(bench):
    assert bench.profile.tokens.max_credit_kwh == 936.0
    assert bench.enter(bench.vendor.credit(0, "930"))[0] == "ACCEPT"
    assert bench.enter(bench.vendor.credit(0, "10")) == ("OVERFLOW", "OVER")
    assert bench.reg("C.50.0") == "930.000"
    assert bench.enter(bench.vendor.credit(0, "6")) == ("ACCEPT", "BENAR")


def test_key_expired_token():
    setup = dataclasses.replace(MeterSetup.default(), ken=1)
    bench = Bench(setup=setup)
    assert bench.reg("C.53.4") == "1"
    assert bench.enter(bench.vendor.credit(0, "5")) == ("KEY_EXPIRED", "GAGAL")
    assert bench.credit() == 0.0


def test_entry_length_rules(bench):
    token = bench.vendor.credit(0, "1").digits
    assert bench.enter(token[:19]) == ("FORMAT_ERROR", "GAGAL")
    assert bench.enter("7") == ("FORMAT_ERROR", "GAGAL")
    assert bench.enter("") == ("FORMAT_ERROR", "GAGAL")
    assert bench.enter("1234567") == ("FORMAT_ERROR", "GAGAL")
    assert bench.enter(token) == ("ACCEPT", "BENAR")


def test_backspace_corrects_a_digit(bench):
    digits = bench.vendor.credit(0, "2").digits
    wrong = str((int(digits[10]) + 3) % 10)
    before = bench.reg("C.52.2")
    bench.keys(digits[:10] + wrong + "<" + digits[10:] + "#")
    assert bench.reg("C.52.2") == str(int(before) + 1)
    assert bench.reg("C.52.0") == "ACCEPT"
    assert bench.credit() == 2.0


def test_display_shows_the_digits_being_typed(bench):
    bench.keys("1234")
    assert bench.reg("C.56.0") == "1234"
    bench.keys("<")
    assert bench.reg("C.56.0") == "123"


def test_half_typed_token_is_kept_just_below_the_timeout(bench):
    digits = bench.vendor.credit(0, "1").digits
    bench.keys(digits[:10])  # the last key came up GAP ago
    bench.advance(bench.profile.tokens.entry_timeout_s - GAP - 0.01)
    assert bench.reg("C.56.0") == digits[:10]
    bench.keys(digits[10:] + "#")
    assert bench.reg("C.52.0") == "ACCEPT"


def test_half_typed_token_is_dropped_at_the_timeout(bench):
    digits = bench.vendor.credit(0, "1").digits
    bench.keys(digits[:10])
    bench.advance(bench.profile.tokens.entry_timeout_s - GAP)  # exactly the timeout
    assert bench.reg("C.56.0") == "0.00"  # back to the idle display (credit)
    assert bench.enter(digits[10:]) == ("FORMAT_ERROR", "GAGAL")
    assert bench.credit() == 0.0
    assert bench.enter(digits) == ("ACCEPT", "BENAR")


def test_short_codes_show_values(bench):
    bench.enter(bench.vendor.credit(0, "10.5"))
    token = bench.model.state.credit_tokens[0][0]
    bench.load_watts(1000.0)
    assert bench.enter("41") == ("ACCEPT", "230.0 V")
    assert bench.enter("44") == ("ACCEPT", "4.348 A")  # 1000 W / 230 V
    assert bench.enter("47") == ("ACCEPT", "1000 W")
    assert bench.enter("09") == ("ACCEPT", "1000 W")
    assert bench.enter("75") == ("ACCEPT", "47123456783")
    assert bench.enter("77") == ("ACCEPT", "123456")
    assert bench.enter("04") == ("ACCEPT", "KRN 1 KT 2")
    assert bench.enter("05") == ("ACCEPT", "TI 01")
    assert bench.enter("10") == ("ACCEPT", "1.0.0")
    assert bench.enter("54") == ("ACCEPT", token)
    assert bench.enter("59") == ("ACCEPT", "10.5 kWh")
    assert bench.enter("55") == ("ACCEPT", "-")
    assert bench.enter("69") == ("ACCEPT", "0")
    assert bench.enter("99") == ("FUNCTION_ERROR", "GAGAL")
    assert bench.reg("C.52.2") == "15"


def test_alarm_level_code_and_low_credit_alarm(bench):
    assert bench.reg("C.55.1") == "10.00"
    assert bench.reg("C.55.0") == "1"  # no credit: below the level
    bench.enter(bench.vendor.credit(0, "6"))
    assert bench.reg("C.55.0") == "1"
    assert bench.enter("45605") == ("ACCEPT", "5 kWh")
    assert bench.reg("C.55.1") == "5.00"
    assert bench.reg("C.55.0") == "0"
    assert bench.enter("79") == ("ACCEPT", "5 kWh")
    assert bench.enter("812") == ("ACCEPT", "MUTE")


def test_display_test_token_and_codes(bench):
    assert bench.enter(sts.test_token(0x2)) == ("ACCEPT", "888888888")
    assert bench.enter("02") == ("ACCEPT", "888888888")
    assert bench.enter("00") == ("ACCEPT", "888888888")
    assert bench.enter(sts.test_token(0x4)) == ("ACCEPT", "0.00 kWh")  # test 3: total kWh


def test_test_token_of_another_manufacturer_is_refused(bench):
    assert bench.enter(sts.test_token(0x2, mfr_code=99)) == ("MFR_CODE_ERROR", "GAGAL")
    assert bench.enter(sts.test_token(0x2, mfr_code=47)) == ("ACCEPT", "888888888")


def test_relay_test_by_token_and_by_code(bench):
    bench.enter(bench.vendor.credit(0, "10"))
    bench.advance(1.0)
    assert bench.reg("C.51.0") == "1"
    duration = bench.profile.relay.test_duration_s
    for entry in (sts.test_token(0x1), "01"):
        assert bench.enter(entry) == ("ACCEPT", "RELAY TEST")
        t = bench.num("C.52.3")
        assert bench.num("C.51.2") == pytest.approx(t, abs=1e-6)
        assert bench.reg("C.51.3") == "TEST"
        assert bench.reg("C.51.0") == "0"  # opened (GAP after the command)
        bench.at(t + duration + 0.2)
        assert bench.num("C.51.2") == pytest.approx(t + duration, abs=1e-6)
        assert bench.reg("C.51.0") == "1"


def test_test_all_token_runs_the_relay_and_display_tests(bench):
    bench.enter(bench.vendor.credit(0, "10"))
    bench.advance(1.0)
    assert bench.enter(sts.test_token((1 << 36) - 1)) == ("ACCEPT", "888888888")
    assert bench.reg("C.51.3") == "TEST"
    assert bench.reg("C.51.0") == "0"


def test_management_tokens(bench):
    v = bench.vendor
    assert bench.enter(v.power_limit(1000)) == ("ACCEPT", "BENAR")
    assert bench.reg("C.57.0") == "1000"
    assert bench.enter("07") == ("ACCEPT", "1000 W")
    # a single-phase meter (profile tokens.phase_unbalance = false) refuses it
    assert bench.enter(v.phase_unbalance(500)) == ("FUNCTION_ERROR", "GAGAL")
    assert bench.reg("C.57.1") == "0"
    bench.enter(v.credit(0, "7"))
    assert bench.enter(v.clear_credit(0)) == ("ACCEPT", "BENAR")
    assert bench.reg("C.50.0") == "0.000"


def test_phase_unbalance_token_when_the_profile_supports_it():
    bench = Bench(profile=with_profile(Bench().profile, "tokens", phase_unbalance=True))
    assert bench.enter(bench.vendor.phase_unbalance(500)) == ("ACCEPT", "BENAR")
    assert bench.reg("C.57.1") == "500"
    assert bench.enter("11") == ("ACCEPT", "500 W")


def test_key_change_then_tokens_under_the_new_key(bench):
    new_key = bytes.fromhex("1122334455667788")
    sections = bench.vendor.key_change(new_key, new_kt=2, new_krn=2, new_ti="01")
    assert len(sections) == 2
    assert bench.enter(sections[0]) == ("KCT_HELD", "KCT 1")
    assert bench.enter(sections[1]) == ("ACCEPT", "BENAR")
    assert bench.reg("C.53.0") == "2"
    new_vendor = sts.Vendor(new_key, base_date=2014)
    assert bench.enter(bench.vendor.credit(0, "1")) == ("CRC_ERROR", "GAGAL")
    assert bench.enter(new_vendor.credit(0, "1")) == ("ACCEPT", "BENAR")


def test_tamper_refuses_credit_until_the_clear_tamper_token(bench):
    bench.model.set_tamper(True)
    assert bench.reg("C.54.0") == "1"
    assert bench.reg("C.59.1") == "1"
    assert bench.reg("C.56.0") == "PERIKSA"
    assert bench.enter(bench.vendor.credit(0, "5")) == ("TAMPER", "PERIKSA")
    assert bench.credit() == 0.0
    bench.model.set_tamper(False)  # closing the cover does not clear it
    assert bench.reg("C.54.0") == "1"
    assert bench.enter(bench.vendor.clear_tamper()) == ("ACCEPT", "BENAR")
    assert bench.reg("C.54.0") == "0"
    assert bench.enter(bench.vendor.credit(0, "5")) == ("ACCEPT", "BENAR")
    assert bench.enter("08") == ("ACCEPT", "TAMPER 0")
    assert bench.enter("70") == ("ACCEPT", "1")


def test_tamper_does_not_refuse_credit_when_the_profile_says_so():
    bench = Bench(profile=with_profile(Bench().profile, "tamper", refuse_credit=False))
    bench.model.set_tamper(True)
    assert bench.enter(bench.vendor.credit(0, "5")) == ("ACCEPT", "BENAR")


def test_earth_leakage_raises_tamper(bench):
    bench.enter(bench.vendor.credit(0, "5"))
    bench.advance(1.0)
    bench.model.set_load(mode="CURR", current=1.0, on=True, leak=0.4)
    assert bench.reg("C.54.0") == "0"
    bench.model.set_load(leak=bench.profile.tamper.leak_threshold_a + 0.1)
    assert bench.reg("C.54.0") == "1"
    assert bench.reg("C.56.0") == "PERIKSA"


def _lockout_bench() -> Bench:
    # long enough lock-outs to type a whole token inside one (21 keys take 11.9 s)
    return Bench(profile=with_profile(Bench().profile, "lockout", first_s=100.0, cap_s=1000.0))


def test_lockout_after_three_refused_tokens():
    bench = _lockout_bench()
    other = sts.Vendor(bytes.fromhex("0123456789abcdef"), base_date=2014)
    for n in (1, 2):
        assert bench.enter(other.credit(0, "1"))[0] == "CRC_ERROR"
        assert bench.reg("C.58.1") == str(n)
        assert bench.reg("C.58.0") == "0.000"
    assert bench.enter(other.credit(0, "1"))[0] == "CRC_ERROR"
    judged = bench.num("C.52.3")
    assert bench.num("C.58.2") == pytest.approx(judged + 100.0, abs=1e-6)
    assert bench.num("C.58.0") == pytest.approx(100.0 - GAP, abs=1e-3)
    good = bench.vendor.credit(0, "1")
    assert bench.enter(good) == ("LOCKED", "BLOKIR")
    assert bench.reg("C.58.1") == "3"  # a locked entry is not judged, not counted
    assert bench.credit() == 0.0
    assert bench.enter(sts.test_token(0x2)) == ("ACCEPT", "888888888")
    assert bench.enter("41") == ("ACCEPT", "230.0 V")
    bench.at(judged + 100.0)
    assert bench.reg("C.58.0") == "0.000"
    # a 4th refusal locks for first_s x factor
    assert bench.enter(other.credit(0, "1"))[0] == "CRC_ERROR"
    assert bench.num("C.58.2") - bench.num("C.52.3") == pytest.approx(200.0, abs=1e-6)
    bench.at(bench.num("C.58.2"))
    assert bench.enter(good) == ("ACCEPT", "BENAR")
    assert bench.reg("C.58.1") == "0"
    assert bench.reg("C.58.2") == "0.000000"


def test_lockout_durations_follow_the_profile():
    lock = Bench().profile.lockout
    assert [lock.duration(n) for n in (1, 2, 3, 4, 5, 10, 11)] == [
        0.0, 0.0, 10.0, 20.0, 40.0, 1280.0, 1280.0]


def test_lockout_is_reset_by_a_power_cycle():
    bench = _lockout_bench()
    other = sts.Vendor(bytes.fromhex("0123456789abcdef"), base_date=2014)
    for _ in range(3):
        bench.enter(other.credit(0, "1"))
    assert bench.num("C.58.0") > 0
    bench.model.set_source(output=False)
    bench.advance(2.0)
    bench.model.set_source(output=True)
    assert bench.reg("C.58.0") == "0.000"
    assert bench.reg("C.58.1") == "0"
    assert bench.enter(bench.vendor.credit(0, "1")) == ("ACCEPT", "BENAR")


def test_lockout_survives_a_power_cycle_when_the_profile_says_so():
    profile = with_profile(_lockout_bench().profile, "lockout", reset_on_power_cycle=False)
    bench = Bench(profile=profile)
    other = sts.Vendor(bytes.fromhex("0123456789abcdef"), base_date=2014)
    for _ in range(3):
        bench.enter(other.credit(0, "1"))
    bench.model.set_source(output=False)
    bench.model.set_source(output=True)
    assert bench.enter(bench.vendor.credit(0, "1")) == ("LOCKED", "BLOKIR")


def test_readout_has_every_contract_register_and_never_a_key(bench):
    rows = bench.model.readout()
    addresses = [a for a, _, _ in rows]
    expected = (["0.0.0", "C.1.0", "C.1.1", "0.2.0", "0.9.1", "0.9.2", "1.8.0", "32.7.0",
                 "31.7.0", "1.7.0", "14.7.0", "F.F"] + [f"C.50.{i}" for i in range(8)]
                + [f"C.51.{i}" for i in range(6)] + [f"C.52.{i}" for i in range(4)]
                + [f"C.53.{i}" for i in range(6)]
                + ["C.54.0", "C.55.0", "C.55.1", "C.56.0", "C.57.0", "C.57.1", "C.57.2",
                   "C.58.0", "C.58.1", "C.58.2", "C.59.0", "C.59.1", "C.60.0"])
    assert addresses == expected
    values = dict((a, (v, u)) for a, v, u in rows)
    assert values["0.0.0"] == ("47123456783", "")
    assert values["C.1.1"] == ("600727471234567834", "")
    assert values["1.8.0"] == ("000000.000", "kWh")
    assert values["32.7.0"] == ("230.0", "V")
    assert values["14.7.0"] == ("50.00", "Hz")
    assert values["C.50.4"] == ("0.00000", "CU")
    assert values["C.52.1"] == ("0" * 20, "")
    assert values["C.53.5"] == ("2014", "")
    assert values["C.53.2"] == ("01", "")
    assert values["C.60.0"] == ("100.000000", "s")
    key_hex = bench.setup.decoder_key.hex()
    assert all(key_hex not in v.lower() for _, v, _ in rows)
    assert bench.model.read_register("9.9.9") is None


def test_bad_key_name_is_refused(bench):
    with pytest.raises(ValueError, match="bad key 'x'"):
        bench.model.key_down("x")
